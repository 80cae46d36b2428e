"""SigLIP 2 NaFlex preprocessing: globelens' ``PatchTransform`` beside transformers' processor.

Both turn the same pictures (photo sizes and shapes: 4:3, 16:9 both ways, 4:1, square) into
the released settings' input (16 px patches, ``max_num_patches`` 256): transformers'
``Siglip2ImageProcessorPil`` (what the zero-shot pipeline runs without torchvision) and
``globelens.models.preprocess.PatchTransform`` (what ``classify``, ``eval`` and ``serve``
run). Decoding is not timed (the pictures are in memory). Reports the time per picture of each,
run alternately in one process, their ratio, and the largest difference between their outputs
(the patch grids must be equal). One JSON line per measurement, then a summary line.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_naflex.py [--pictures 64 --repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image

from globelens.models.preprocess import PatchTransform

#: (width, height) of the pictures, cycled
SHAPES = [(640, 480), (1920, 1080), (1080, 1920), (4000, 1000), (300, 300), (1024, 768)]


def pictures(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w, h = SHAPES[i % len(SHAPES)]
        # smooth content, as photos are, rather than noise
        small = rng.integers(0, 256, (max(h // 32, 2), max(w // 32, 2), 3), dtype=np.uint8)
        out.append(Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR))
    return out


def _timed(fn, images: list[Image.Image]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(images)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pictures", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--patch-size", type=int, default=16)
    ap.add_argument("--max-num-patches", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import Siglip2ImageProcessorPil

    settings = {"patch_size": args.patch_size, "max_num_patches": args.max_num_patches}
    reference = Siglip2ImageProcessorPil(**settings)
    ours = PatchTransform.from_processor(reference)
    images = pictures(args.pictures)
    print(json.dumps({"event": "start", "loadavg": os.getloadavg(), **vars(args)}), flush=True)
    best = {"transformers": float("inf"), "globelens": float("inf")}
    for r in range(args.repeats):
        t_ref, want = _timed(lambda ims: reference(images=ims, return_tensors="pt"), images)
        t_ours, got = _timed(ours, images)
        best["transformers"] = min(best["transformers"], t_ref)
        best["globelens"] = min(best["globelens"], t_ours)
        same_grid = torch.equal(got.spatial_shapes, want["spatial_shapes"])
        diff = float((got.values - want["pixel_values"]).abs().max())
        print(json.dumps({"event": "repeat", "repeat": r, "transformers_s": round(t_ref, 4),
                          "globelens_s": round(t_ours, 4), "same_grid": same_grid,
                          "max_abs_diff": diff}), flush=True)  # fmt: skip
    n = args.pictures
    print(json.dumps({
        "event": "summary",
        "ms_per_picture": {k: round(v / n * 1000, 2) for k, v in best.items()},
        "speedup": round(best["transformers"] / best["globelens"], 2),
        "loadavg": os.getloadavg(),
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
