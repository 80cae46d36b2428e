"""COCO detection AP through pycocotools, and the same AP on image subsets and resamples.

The overall ``mAP`` (AP at IoU .50:.05:.95, all areas, 100 detections) and ``AP50`` are
pycocotools' ``COCOeval`` numbers. Group metrics (income, region, ...) and bootstrap intervals
need AP over many image multisets; re-running ``COCOeval`` per group would redo the matching,
and its ``accumulate`` cannot take an image twice (a bootstrap resample does), so
:class:`SubsetAP` re-does only ``accumulate``'s arithmetic on the per-image matches that
``evaluate`` computed once. On a subset without repeats it equals pycocotools with
``params.imgIds`` set to that subset (tested).
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval


def coco_from_dict(dataset: dict[str, Any]) -> COCO:
    """A pycocotools ``COCO`` built from an in-memory instances dict (no printing)."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = copy.deepcopy(dataset)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_results(coco_gt: COCO, detections: Sequence[dict[str, Any]]) -> COCO:
    """``coco_gt.loadRes`` that also accepts an empty list (a model that found nothing)."""
    if detections:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_gt.loadRes([dict(d) for d in detections])
    return coco_from_dict(
        {"images": coco_gt.dataset["images"], "categories": coco_gt.dataset["categories"],
         "annotations": []}
    )  # fmt: skip


def run_cocoeval(
    coco_gt: COCO, detections: Sequence[dict[str, Any]], iou_type: str = "bbox"
) -> COCOeval:
    """``COCOeval`` after ``evaluate``, ``accumulate`` and ``summarize`` (stats filled)."""
    from pycocotools.cocoeval import COCOeval

    ev = COCOeval(coco_gt, coco_results(coco_gt, detections), iou_type)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@dataclass
class _CatMatches:
    """One category's detections over all images, in pycocotools' concatenation order."""

    owner: np.ndarray  # (D,) image position of each detection
    scores: np.ndarray  # (D,)
    matched: np.ndarray  # (T, D) bool: matched a non-ignored ground truth
    ignored: np.ndarray  # (T, D) bool
    n_gt: np.ndarray  # (I,) non-ignored ground truths per image


class SubsetAP:
    """AP (IoU .50:.95) and AP50 of any image multiset, from one ``COCOeval.evaluate``.

    Only area "all" and the largest ``maxDets`` are kept: those are mAP and AP50.
    """

    def __init__(self, ev: COCOeval) -> None:
        p = ev.params
        self.img_ids: list[int] = list(p.imgIds)
        self.rec_thrs = np.asarray(p.recThrs)
        self.iou_thrs = np.asarray(p.iouThrs)
        max_det = p.maxDets[-1]
        n_img, n_area = len(p.imgIds), len(p.areaRng)
        a = p.areaRngLbl.index("all")
        t = len(p.iouThrs)
        self.cats: list[_CatMatches] = []
        for k in range(len(p.catIds)):
            base = k * n_area * n_img + a * n_img
            owner, scores, matched, ignored = [], [], [], []
            n_gt = np.zeros(n_img, int)
            for i in range(n_img):
                e = ev.evalImgs[base + i]
                if e is None:
                    continue
                s = np.asarray(e["dtScores"][:max_det], float)
                owner.append(np.full(len(s), i))
                scores.append(s)
                dtm = np.asarray(e["dtMatches"][:, :max_det]).reshape(t, len(s))
                dtig = np.asarray(e["dtIgnore"][:, :max_det], bool).reshape(t, len(s))
                matched.append(dtm != 0)  # pycocotools: a match is a non-zero gt id
                ignored.append(dtig)
                n_gt[i] = int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
            cat = _CatMatches(
                np.concatenate(owner) if owner else np.zeros(0, int),
                np.concatenate(scores) if scores else np.zeros(0),
                np.concatenate(matched, axis=1) if matched else np.zeros((t, 0), bool),
                np.concatenate(ignored, axis=1) if ignored else np.zeros((t, 0), bool),
                n_gt,
            )
            self.cats.append(cat)

    def _flatten(self) -> None:
        """All categories in one array, each block sorted the way ``accumulate`` sorts it
        (stable by descending score, images in their original order), for vectorised calls."""
        t = len(self.iou_thrs)
        owner, cat, matched, ignored = [], [], [], []
        for k, c in enumerate(self.cats):
            order = np.argsort(-c.scores, kind="mergesort")
            owner.append(c.owner[order])
            cat.append(np.full(len(order), k))
            matched.append(c.matched[:, order])
            ignored.append(c.ignored[:, order])
        self._owner = np.concatenate(owner) if owner else np.zeros(0, int)
        self._cat = np.concatenate(cat) if cat else np.zeros(0, int)
        m = np.concatenate(matched, axis=1) if matched else np.zeros((t, 0), bool)
        ig = np.concatenate(ignored, axis=1) if ignored else np.zeros((t, 0), bool)
        self._tp, self._fp = m & ~ig, ~m & ~ig
        self._n_gt = np.stack([c.n_gt for c in self.cats]) if self.cats else np.zeros((0, 0))
        self._t50 = int(np.flatnonzero(np.isclose(self.iou_thrs, 0.5))[0])

    def precision(self, counts: np.ndarray) -> np.ndarray:
        """(T, R, K) interpolated precision (-1 where a category has no ground truth) of the
        multiset that holds image position ``i`` ``counts[i]`` times.

        Repeated images repeat their detections next to each other; for a subset without
        repeats this is exactly pycocotools' ``accumulate``. All categories are done at once:
        cumulative sums restart at each category's block, the precision envelope and the
        recall look-up use per-block offsets (values stay in [0, 1] inside a block).
        """
        if not hasattr(self, "_owner"):
            self._flatten()
        counts = np.asarray(counts, int)
        n_t, n_r, n_k = len(self.iou_thrs), len(self.rec_thrs), len(self.cats)
        npig = self._n_gt @ counts  # (K,)
        out = np.zeros((n_t, n_r, n_k))
        out[:, :, npig == 0] = -1
        rep = counts[self._owner]
        keep = rep > 0
        rep, cat = rep[keep], self._cat[keep]
        cat = np.repeat(cat, rep)
        nd = len(cat)
        if nd == 0:
            return out
        tp = np.repeat(self._tp[:, keep], rep, axis=1).astype(float)
        fp = np.repeat(self._fp[:, keep], rep, axis=1).astype(float)
        first = np.r_[True, cat[1:] != cat[:-1]]  # block starts
        starts = np.flatnonzero(first)
        block = np.cumsum(first) - 1  # block index of each detection
        tp_c, fp_c = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
        # cumulative sums restarted at each block: subtract the sum before its start
        tp_c -= np.where(starts > 0, tp_c[:, starts - 1], 0)[:, block]
        fp_c -= np.where(starts > 0, fp_c[:, starts - 1], 0)[:, block]
        denom = npig[cat].astype(float)
        rc = np.divide(tp_c, denom, out=np.zeros_like(tp_c), where=denom > 0)
        pr = tp_c / (fp_c + tp_c + np.spacing(1))
        # envelope: reverse running max restarting per block (earlier blocks offset higher)
        shift = 2.0 * (block.max() - block)
        env = np.maximum.accumulate((pr + shift)[:, ::-1], axis=1)[:, ::-1] - shift
        # recall thresholds: one sorted search over all (iou, block) rows with offsets
        n_b = len(starts)
        ends = np.r_[starts[1:], nd]
        key = rc + 2.0 * block + 2.0 * n_b * np.arange(n_t)[:, None]
        thr = (
            self.rec_thrs[None, None, :]
            + 2.0 * np.arange(n_b)[None, :, None]
            + 2.0 * n_b * np.arange(n_t)[:, None, None]
        )  # (T, B, R)
        flat = np.searchsorted(key.ravel(), thr.ravel(), side="left").reshape(n_t, n_b, n_r)
        pos = flat - (np.arange(n_t) * nd)[:, None, None]
        ok = pos < ends[None, :, None]
        vals = np.where(ok, env.ravel()[np.minimum(flat, n_t * nd - 1)].reshape(n_t, n_b, n_r), 0)
        k_of_block = cat[starts]
        valid = npig[k_of_block] > 0
        out[:, :, k_of_block[valid]] = vals[:, valid, :].transpose(0, 2, 1)
        return out

    def ap(self, counts: np.ndarray) -> tuple[float, float]:
        """(mAP, AP50) of a multiset given as per-image counts (as ``COCOeval.summarize``)."""
        prec = self.precision(counts)
        valid = prec > -1
        if not valid.any():
            return float("nan"), float("nan")
        m_ap = float(prec[valid].mean())
        p50 = prec[self._t50]
        ap50 = float(p50[p50 > -1].mean()) if (p50 > -1).any() else float("nan")
        return m_ap, ap50

    def ap_of_indices(self, indices: np.ndarray) -> tuple[float, float]:
        """(mAP, AP50) of image positions (repeats allowed)."""
        return self.ap(np.bincount(np.asarray(indices, int), minlength=len(self.img_ids)))
