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
from typing import Any

import numpy as np


def coco_from_dict(dataset: dict[str, Any]):
    """A pycocotools ``COCO`` built from an in-memory instances dict (no printing)."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = copy.deepcopy(dataset)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_results(coco_gt, detections: Sequence[dict[str, Any]]):
    """``coco_gt.loadRes`` that also accepts an empty list (a model that found nothing)."""
    if detections:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_gt.loadRes([dict(d) for d in detections])
    return coco_from_dict(
        {"images": coco_gt.dataset["images"], "categories": coco_gt.dataset["categories"],
         "annotations": []}
    )  # fmt: skip


def run_cocoeval(coco_gt, detections: Sequence[dict[str, Any]], iou_type: str = "bbox"):
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

    def __init__(self, ev) -> None:
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

    def precision(self, counts: np.ndarray) -> np.ndarray:
        """(T, R, K) interpolated precision (-1 where a category has no ground truth) of the
        multiset that holds image position ``i`` ``counts[i]`` times."""
        counts = np.asarray(counts, int)
        t, r = len(self.iou_thrs), len(self.rec_thrs)
        out = -np.ones((t, r, len(self.cats)))
        for k, c in enumerate(self.cats):
            npig = int((c.n_gt * counts).sum())
            if npig == 0:
                continue
            rep = counts[c.owner]
            # Repeats stay next to each other, images in their original order: for a subset
            # without repeats this is exactly pycocotools' concatenation.
            scores = np.repeat(c.scores, rep)
            order = np.argsort(-scores, kind="mergesort")
            dtm = np.repeat(c.matched, rep, axis=1)[:, order]
            dtig = np.repeat(c.ignored, rep, axis=1)[:, order]
            tp = np.cumsum(dtm & ~dtig, axis=1, dtype=float)
            fp = np.cumsum(~dtm & ~dtig, axis=1, dtype=float)
            nd = tp.shape[1]
            q = np.zeros((t, r))
            if nd:
                rc = tp / npig
                pr = tp / (fp + tp + np.spacing(1))
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # precision envelope
                for ti in range(t):
                    inds = np.searchsorted(rc[ti], self.rec_thrs, side="left")
                    ok = inds < nd
                    q[ti, ok] = pr[ti, inds[ok]]
            out[:, :, k] = q
        return out

    def ap(self, counts: np.ndarray) -> tuple[float, float]:
        """(mAP, AP50) of a multiset given as per-image counts (as ``COCOeval.summarize``)."""
        prec = self.precision(counts)
        valid = prec > -1
        if not valid.any():
            return float("nan"), float("nan")
        m_ap = float(prec[valid].mean())
        t50 = int(np.flatnonzero(np.isclose(self.iou_thrs, 0.5))[0])
        p50 = prec[t50]
        ap50 = float(p50[p50 > -1].mean()) if (p50 > -1).any() else float("nan")
        return m_ap, ap50

    def ap_of_indices(self, indices: np.ndarray) -> tuple[float, float]:
        """(mAP, AP50) of image positions (repeats allowed)."""
        return self.ap(np.bincount(np.asarray(indices, int), minlength=len(self.img_ids)))
