"""Shard read + decode throughput: globelens reader (full decode, JPEG draft) vs webdataset.

    .venv/bin/python benchmarks/bench_data.py [--samples 1500] [--width 640] [--height 480]

Writes shards of synthetic photo-like JPEGs to a temporary folder, then times, in one run and
interleaved (the machine is shared and noisy), best of ``--repeat``:
  read only        globelens read_shards          vs webdataset.WebDataset (raw bytes)
  read + decode    globelens Sample.image()       vs webdataset .decode("pil") + RGB
  read + draft     globelens Sample.image(target_size=224) (JPEG DCT scaling)
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from globelens.data import Sample, ShardWriter, encode_image, read_shards


def make_image(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Smooth shapes plus mild noise: JPEG size and decode cost close to a real photo."""
    small = rng.integers(0, 256, size=(height // 16, width // 16, 3), dtype=np.uint8)
    im = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, size=(height, width, 3))
    arr = np.clip(np.asarray(im, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr).filter(ImageFilter.SMOOTH)


def build_shards(out: Path, n: int, width: int, height: int, per_shard: int) -> list[str]:
    rng = np.random.default_rng(0)
    # A pool of distinct images, reused: building is not what we measure.
    pool = [encode_image(make_image(rng, width, height), "jpg", quality=90) for _ in range(64)]
    with ShardWriter(out, maxcount=per_shard, assign_keys=True) as writer:
        for i in range(n):
            writer.write(
                Sample(key="x", image_bytes=pool[i % len(pool)], caption=f"photo {i}", meta={})
            )
    return writer.written


def run_ours(paths: list[str], target: int | None, decode: bool) -> int:
    n = 0
    for sample in read_shards(paths):
        if decode:
            sample.image(target_size=target)
        n += 1
    return n


def run_wds(paths: list[str], decode: bool) -> int:
    import webdataset as wds

    ds = wds.WebDataset(paths, shardshuffle=False, empty_check=False)
    if decode:
        ds = ds.decode("pil")
    n = 0
    for item in ds:
        if decode:
            item["jpg"].convert("RGB")
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--samples", type=int, default=1500)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--per-shard", type=int, default=500)
    ap.add_argument("--target", type=int, default=224, help="target shorter side for the draft")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = build_shards(Path(tmp), args.samples, args.width, args.height, args.per_shard)
        mib = sum(Path(p).stat().st_size for p in paths) / 2**20
        print(
            f"{args.samples} samples of {args.width}x{args.height} JPEG in {len(paths)} shards "
            f"({mib:.1f} MiB), built in {time.perf_counter() - t0:.1f} s"
        )
        cases: dict[str, Callable[[], int]] = {
            "read only / globelens": lambda: run_ours(paths, None, decode=False),
            "read only / webdataset": lambda: run_wds(paths, decode=False),
            "read+decode / globelens": lambda: run_ours(paths, None, decode=True),
            "read+decode / webdataset": lambda: run_wds(paths, decode=True),
            f"read+decode draft {args.target} / globelens": lambda: run_ours(
                paths, args.target, decode=True
            ),
        }
        best: dict[str, float] = dict.fromkeys(cases, float("inf"))
        for _ in range(args.repeat):  # interleaved rounds
            for name, fn in cases.items():
                t = time.perf_counter()
                n = fn()
                best[name] = min(best[name], time.perf_counter() - t)
                assert n == args.samples, (name, n)
        rates = {name: args.samples / t for name, t in best.items()}
        for name, rate in rates.items():
            print(f"  {name:<38} {rate:>9,.0f} samples/s")
        draft = rates[f"read+decode draft {args.target} / globelens"]
        full = rates["read+decode / globelens"]
        wds_full = rates["read+decode / webdataset"]
        print(
            f"  draft speed-up over full decode: {draft / full:.2f}x; vs webdataset: "
            f"full {full / wds_full:.2f}x, draft {draft / wds_full:.2f}x"
        )
        print(json.dumps({"bench": "data", **vars(args), "samples_per_s": rates}))


if __name__ == "__main__":
    main()
