"""Peak memory and time of bootstrap intervals: all resampling indices at once (the old
``default_rng(seed).integers(0, n, size=(n_boot, n))``) against ``Resamples`` chunks.

    PYTHONPATH=src python benchmarks/bench_bootstrap.py --n 50000 --boot 1000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from globelens.evaluate import metrics as M


def measure(fn) -> tuple[float, float, np.ndarray]:
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return dt, peak / 2**20, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    correct = np.random.default_rng(0).random(args.n) < 0.5

    def at_once() -> np.ndarray:
        idx = np.random.default_rng(0).integers(0, args.n, size=(args.boot, args.n))
        return correct[idx].mean(axis=1)

    def chunked() -> np.ndarray:
        return M.bootstrap_indices(args.n, args.boot, 0).means(correct)

    rows = [("all indices at once", *measure(at_once)), ("Resamples chunks", *measure(chunked))]
    for name, dt, mb, out in rows:
        lo, hi = M.percentile_ci(out)
        print(f"{name:22s} {dt:6.2f} s  peak {mb:7.1f} MiB  95% CI [{lo:.4f}, {hi:.4f}]")


if __name__ == "__main__":
    main()
