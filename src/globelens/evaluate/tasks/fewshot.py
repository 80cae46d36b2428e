"""Few-shot geo-localisation: a closed-form L2-regularised least-squares probe on frozen image
embeddings, with the semantics of big_vision's ``evaluators/fewshot_lsr.py``.

- features are whitened with the mean and (population) std of the few-shot training set
  (std + 1e-5), and a constant feature of 100 is appended so the bias is almost unregularised;
- targets are one-hot vectors rescaled to {-1, +1};
- weights ``(X^T X + l2 I)^-1 X^T Y`` (or the dual form when there are fewer points than
  dimensions), solved through an eigendecomposition; prediction is the argmax;
- per seed, each class's training examples are permuted and the first ``shots`` taken; the
  reported accuracy is the mean over seeds (big_vision reports each seed; 3 by default).

The train/test split follows No Filter's GeoDE protocol: shuffle with a fixed seed and take
the first 20,000 images (or half of a smaller set) for few-shot training, the rest for testing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from globelens.evaluate.tasks import TaskContext

BIAS_CONSTANT = 100.0
L2_REG = 2.0**10
SHOTS = (5, 10, 25)
NUM_SEEDS = 3
TRAIN_SIZE = 20_000


def lsr_fit(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float = L2_REG) -> dict:
    """Fit the probe; returns what :func:`lsr_predict` needs (weights, mean, std)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True) + 1e-5
    xw = np.pad((x - mean) / std, ((0, 0), (0, 1)), constant_values=BIAS_CONSTANT)
    targets = 2.0 * np.eye(num_classes)[y] - 1.0
    n, d = xw.shape
    if n >= d:
        eigs, q = np.linalg.eigh(xw.T @ xw)
        rhs, lhs = q.T @ (xw.T @ targets), q
    else:
        eigs, q = np.linalg.eigh(xw @ xw.T)
        rhs, lhs = q.T @ targets, xw.T @ q
    w = (lhs / (eigs + l2)[None, :]) @ rhs
    return {"w": w, "mean": mean, "std": std}


def lsr_predict(probe: dict, x: np.ndarray) -> np.ndarray:
    xw = (np.asarray(x, np.float64) - probe["mean"]) / probe["std"]
    xw = np.pad(xw, ((0, 0), (0, 1)), constant_values=BIAS_CONSTANT)
    return np.argmax(xw @ probe["w"], axis=1)


def fewshot_accuracy(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    num_classes: int,
    shots: tuple[int, ...] = SHOTS,
    seeds: int = NUM_SEEDS,
    l2: float = L2_REG,
) -> dict[int, list[float]]:
    """{shots: [accuracy per seed]} exactly as big_vision samples and solves."""
    out: dict[int, list[float]] = {s: [] for s in shots}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        class_idx = [rng.permutation(np.flatnonzero(y_train == c)) for c in range(num_classes)]
        for s in shots:
            idx = np.concatenate([ci[:s] for ci in class_idx])
            probe = lsr_fit(x_train[idx], y_train[idx], num_classes, l2)
            out[s].append(float((lsr_predict(probe, x_test) == y_test).mean()))
    return out


def split(n: int, seed: int = 0, train_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (train, test) indices: the first ``train_size`` (default min(20000, n//2))."""
    perm = np.random.default_rng(seed).permutation(n)
    k = min(TRAIN_SIZE, n // 2) if train_size is None else train_size
    return perm[:k], perm[k:]


def run(ctx: TaskContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    targets = ctx.options.get("fewshot_targets") or bench.fewshot_targets
    if not targets:
        raise ValueError(
            f"benchmark {bench.name!r} has no geographic targets (country/region) for few-shot"
        )
    shots = tuple(ctx.options.get("shots", SHOTS))
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {}
    for target in targets:
        rows = [
            i
            for i in np.flatnonzero(ctx.valid)
            if bench.records[i].meta.get(target) not in (None, "")
        ]
        values = [str(bench.records[i].meta[target]) for i in rows]
        classes = sorted(set(values))
        if len(classes) < 2:
            continue
        y = np.array([classes.index(v) for v in values])
        x = ctx.image_emb[rows]
        tr, te = split(len(rows), ctx.seed, ctx.options.get("train_size"))
        accs = fewshot_accuracy(x[tr], y[tr], x[te], y[te], len(classes), shots)
        for s, per_seed in accs.items():
            metrics[f"{target}_{s}shot"] = float(np.mean(per_seed))
        details[target] = {
            "classes": len(classes),
            "train": len(tr),
            "test": len(te),
            "per_seed": {str(s): v for s, v in accs.items()},
            "std": {str(s): float(np.std(v)) for s, v in accs.items()},
        }
    return [
        {
            "task": "fewshot_geolocalization",
            "language": "",
            "metrics": metrics,
            "fewshot": details,
            "l2_reg": L2_REG,
            "n_evaluated": int(ctx.valid.sum()),
        }
    ]
