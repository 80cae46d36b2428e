"""Metrics: top-k with "match any", per-class recall, group accuracy, disparity,
worst-group accuracy, bootstrap confidence intervals, retrieval recall, top confusions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def topk(scores: np.ndarray, k: int) -> np.ndarray:
    """(N, C) scores -> (N, min(k, C)) class indices, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def label_matrix(labels: Sequence[Sequence[int]], num_classes: int) -> np.ndarray:
    """(N, C) bool: True where class c is one of sample n's labels."""
    m = np.zeros((len(labels), num_classes), dtype=bool)
    for i, ls in enumerate(labels):
        m[i, list(ls)] = True
    return m


def topk_correct(scores: np.ndarray, labels: Sequence[Sequence[int]], k: int) -> np.ndarray:
    """(N,) bool: some label of the sample is among its top-k predictions ("match any")."""
    lab = label_matrix(labels, scores.shape[1])
    return np.take_along_axis(lab, topk(scores, k), axis=1).any(axis=1)


def mean_per_class_recall(
    pred: np.ndarray, labels: Sequence[Sequence[int]], num_classes: int
) -> float:
    """Mean over classes with samples of the fraction of their samples predicted right.

    A multi-label sample counts toward each of its classes (hit if the top-1 is any label).
    """
    hits = np.zeros(num_classes)
    counts = np.zeros(num_classes)
    for p, ls in zip(pred, labels, strict=True):
        ok = p in ls
        for c in ls:
            counts[c] += 1
            hits[c] += ok
    present = counts > 0
    return float((hits[present] / counts[present]).mean()) if present.any() else float("nan")


def group_ids(values: Sequence[Any]) -> tuple[np.ndarray, list[str]]:
    """Factorise group values (None/"" dropped to -1) -> (ids, names sorted)."""
    names = sorted({str(v) for v in values if v not in (None, "")})
    index = {n: i for i, n in enumerate(names)}
    ids = np.array([index.get(str(v), -1) if v not in (None, "") else -1 for v in values])
    return ids, names


def group_means(
    values: np.ndarray, gid: np.ndarray, n_groups: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group mean of ``values`` (weighted by ``weights`` where given) and group sizes
    (ids of -1 are ignored)."""
    m = gid >= 0
    counts = np.bincount(gid[m], minlength=n_groups)
    w = np.ones(int(m.sum())) if weights is None else weights[m].astype(float)
    sums = np.bincount(gid[m], weights=values[m].astype(float) * w, minlength=n_groups)
    totals = counts if weights is None else np.bincount(gid[m], weights=w, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / totals, counts


#: resampling indices drawn at a time (int64: 32 MB); 1000 resamples of 50k images would
#: otherwise be 400 MB at once
BOOTSTRAP_CHUNK = 1 << 22


@dataclass(frozen=True)
class Resamples:
    """``n_boot`` bootstrap resamples of ``n`` items (with replacement), fixed by ``seed``,
    drawn ``BOOTSTRAP_CHUNK`` indices at a time: iterate for the index rows, or take
    :meth:`means`. Each pass draws the same rows again, so statistics computed in separate
    passes pair up resample by resample. When everything fits in one chunk the rows equal
    ``default_rng(seed).integers(0, n, size=(n_boot, n))``."""

    n: int
    n_boot: int
    seed: int = 0

    def __len__(self) -> int:
        return self.n_boot

    def chunks(self) -> Iterator[np.ndarray]:
        """(rows, n) blocks of index rows, in order."""
        rng = np.random.default_rng(self.seed)
        per = max(1, BOOTSTRAP_CHUNK // max(self.n, 1))
        for start in range(0, self.n_boot, per):
            yield rng.integers(0, self.n, size=(min(per, self.n_boot - start), self.n))

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self.chunks():
            yield from block

    def means(self, values: np.ndarray) -> np.ndarray:
        """(n_boot,) mean of ``values`` over each resample."""
        if not self.n_boot:
            return np.zeros(0)
        return np.concatenate([values[b].mean(axis=1) for b in self.chunks()])


def bootstrap_indices(n: int, n_boot: int, seed: int = 0) -> Resamples:
    """The ``n_boot`` resamples of ``n`` items fixed by ``seed`` (see :class:`Resamples`)."""
    return Resamples(n, n_boot, seed)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> list[float]:
    """Percentile interval of bootstrap samples, ignoring NaNs (empty resampled groups)."""
    s = samples[~np.isnan(samples)]
    if s.size == 0:
        return [float("nan"), float("nan")]
    a = (1 - level) / 2
    return [float(np.quantile(s, a)), float(np.quantile(s, 1 - a))]


def group_report(
    correct1: np.ndarray,
    correct5: np.ndarray,
    values: Sequence[Any],
    boot: Resamples | None,
) -> dict[str, Any]:
    """Per-group acc1/acc5/n with 95% CIs, plus spread (max - min acc1), best and worst."""
    gid, names = group_ids(values)
    acc1, counts = group_means(correct1, gid, len(names))
    acc5, _ = group_means(correct5, gid, len(names))
    groups: dict[str, dict[str, Any]] = {}
    boot1 = None
    if boot is not None and names:
        # One bincount per resample: (B, G) group accuracies of the same resamples.
        boot1 = np.stack([group_means(correct1[b], gid[b], len(names))[0] for b in boot])
        boot5 = np.stack([group_means(correct5[b], gid[b], len(names))[0] for b in boot])
    for j, name in enumerate(names):
        g: dict[str, Any] = {"n": int(counts[j]), "acc1": float(acc1[j]), "acc5": float(acc5[j])}
        if boot1 is not None:
            g["acc1_ci95"] = percentile_ci(boot1[:, j])
            g["acc5_ci95"] = percentile_ci(boot5[:, j])
        groups[name] = g
    out: dict[str, Any] = {"groups": groups}
    if names:
        out["worst"] = names[int(np.nanargmin(acc1))]
        out["best"] = names[int(np.nanargmax(acc1))]
        out["spread"] = float(np.nanmax(acc1) - np.nanmin(acc1))
        out["min_acc1"] = float(np.nanmin(acc1))
        out["min_acc5"] = float(np.nanmin(acc5))
        if boot1 is not None:
            out["spread_ci95"] = percentile_ci(np.nanmax(boot1, 1) - np.nanmin(boot1, 1))
            out["min_acc1_ci95"] = percentile_ci(np.nanmin(boot1, 1))
            out["min_acc5_ci95"] = percentile_ci(np.nanmin(boot5, 1))
    return out


def retrieval_recall(
    sim: np.ndarray, text_to_image: np.ndarray, ks: Sequence[int] = (1, 5, 10)
) -> dict[str, float]:
    """Recall@k both ways from an (images, texts) similarity matrix.

    Image->text: an image is a hit when any of its captions ranks in its top k texts.
    Text->image: a caption is a hit when its own image ranks in its top k images.
    Keys follow CLIP_benchmark: ``text_retrieval_recall@k`` (i2t), ``image_retrieval_recall@k`` (t2i).
    """
    _n_img, n_txt = sim.shape
    out: dict[str, float] = {}
    # Rank of the best-ranked own caption for each image = number of texts scoring strictly
    # higher than it (ties resolved in the query's favour, as a stable argsort would not).
    own = np.zeros_like(sim, dtype=bool)
    own[text_to_image, np.arange(n_txt)] = True
    best_own = np.where(own, sim, -np.inf).max(axis=1, keepdims=True)
    i2t_rank = (sim > best_own).sum(axis=1)
    sim_own_t = sim[text_to_image, np.arange(n_txt)]
    t2i_rank = (sim > sim_own_t[None, :]).sum(axis=0)
    for k in ks:
        out[f"text_retrieval_recall@{k}"] = float((i2t_rank < k).mean())
        out[f"image_retrieval_recall@{k}"] = float((t2i_rank < k).mean())
    return out


def top_confusions(
    pred: np.ndarray,
    labels: Sequence[Sequence[int]],
    metas: Sequence[dict[str, Any]],
    classnames: Sequence[str],
    indices: np.ndarray,
    top: int = 10,
    examples: int = 3,
) -> list[dict[str, Any]]:
    """The most frequent (true class -> predicted class) errors, with the groups involved.

    ``indices`` maps rows of ``pred`` back to benchmark records (for example images).
    """
    pairs: Counter[tuple[int, int]] = Counter()
    rows: dict[tuple[int, int], list[int]] = defaultdict(list)
    for r, (p, ls) in enumerate(zip(pred, labels, strict=True)):
        if p not in ls:
            pair = (int(ls[0]), int(p))
            pairs[pair] += 1
            rows[pair].append(r)
    out = []
    for (t, p), count in pairs.most_common(top):
        rs = rows[(t, p)]
        countries = Counter(metas[r].get("country") for r in rs if metas[r].get("country"))
        regions = Counter(metas[r].get("region") for r in rs if metas[r].get("region"))
        out.append(
            {
                "true": classnames[t],
                "predicted": classnames[p],
                "count": count,
                "countries": dict(countries.most_common(5)),
                "regions": dict(regions.most_common(5)),
                "examples": [int(indices[r]) for r in rs[:examples]],
            }
        )
    return out


# -- group reports of any per-example score (generative tasks) ---------------------------------


def score_group_report(
    scores: np.ndarray,
    values: Sequence[Any],
    boot: Resamples | None,
    name: str,
    stat: Any = None,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per-group ``name`` with 95% CIs, spread (best - worst), best, worst and the minimum.

    The group value is the mean of ``scores`` over the group's examples (weighted by
    ``weights`` where given), or ``stat(indices)`` when given (a statistic that is not a
    mean, such as COCO AP over the group's images; indices may repeat under the bootstrap).
    """
    gid, names = group_ids(values)
    g_n = len(names)
    if stat is None:
        vals, counts = group_means(scores, gid, g_n, weights)
    else:
        counts = np.bincount(gid[gid >= 0], minlength=g_n)
        vals = np.array([stat(np.flatnonzero(gid == j)) for j in range(g_n)])
    bvals = None
    if boot is not None and names:
        if stat is None:
            bvals = np.stack(
                [
                    group_means(scores[b], gid[b], g_n, None if weights is None else weights[b])[0]
                    for b in boot
                ]
            )
        else:
            rows = []
            for b in boot:
                gb = gid[b]
                rows.append(
                    [stat(b[gb == j]) if (gb == j).any() else float("nan") for j in range(g_n)]
                )
            bvals = np.asarray(rows, float)
    groups: dict[str, dict[str, Any]] = {}
    for j, gname in enumerate(names):
        g: dict[str, Any] = {"n": int(counts[j]), name: float(vals[j])}
        if bvals is not None:
            g[f"{name}_ci95"] = percentile_ci(bvals[:, j])
        groups[gname] = g
    out: dict[str, Any] = {"metric": name, "groups": groups}
    if names and not np.isnan(vals).all():
        out["worst"] = names[int(np.nanargmin(vals))]
        out["best"] = names[int(np.nanargmax(vals))]
        out["spread"] = float(np.nanmax(vals) - np.nanmin(vals))
        out["min"] = float(np.nanmin(vals))
        if bvals is not None:
            with np.errstate(all="ignore"):
                ok = ~np.isnan(bvals).all(axis=1)
                out["spread_ci95"] = percentile_ci(
                    np.nanmax(bvals[ok], 1) - np.nanmin(bvals[ok], 1)
                )
                out["min_ci95"] = percentile_ci(np.nanmin(bvals[ok], 1))
    return out
