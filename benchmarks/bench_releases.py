"""Reading a Hugging Face parquet mirror vs the same pictures as JPEG files.

    .venv/bin/python benchmarks/bench_releases.py [--images 2000] [--size 256] [--repeats 3]

The same ``--images`` JPEGs are written twice: as an XM3600 release folder
(``captions.jsonl`` + ``images/<key>.jpg``) and as its parquet mirror
(``data/en-*.parquet``, the pictures' bytes in the ``image`` column, 500 rows a file as the
Hub writes them). Timed side by side, interleaved ``--repeats`` times so load from other jobs
hits both sides:

1. load: ``load_benchmark`` (the folder checks every picture exists; the mirror reads the
   parquet's text columns);
2. read: every picture's bytes through ``Benchmark.iter_image_sources`` (files are opened
   and read; the mirror streams the image column in batches);
3. embed: ``encode_benchmark_images`` with the tiny model (read, decode, preprocess, forward),
   whose embeddings must be identical on both sides (asserted).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import TINY_CAPTIONS
from globelens.evaluate import load_benchmark
from globelens.evaluate.embed import encode_benchmark_images
from globelens.models import build_model, load_dual_encoder, train_tokenizer

ROWS_PER_FILE = 500


def write_both(root: Path, n: int, size: int) -> tuple[Path, Path]:
    """The XM3600 folder and its parquet mirror, holding the same JPEG bytes."""
    folder, mirror = root / "xm3600", root / "xm3600_parquet"
    (folder / "images").mkdir(parents=True)
    (mirror / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines, rows = [], []
    for i in range(n):
        arr = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).resize((size, size)).save(buf, "JPEG", quality=90)
        key = f"{i:016x}"
        (folder / "images" / f"{key}.jpg").write_bytes(buf.getvalue())
        lines.append(json.dumps({"image/key": key, "image/locale": "en",
                                 "en": {"caption": [f"picture {i}"]}}))  # fmt: skip
        rows.append({"image_id": key, "image": {"bytes": buf.getvalue(), "path": f"{key}.jpg"},
                     "image_locale": "en", "captions": [f"picture {i}"]})  # fmt: skip
    (folder / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = (n + ROWS_PER_FILE - 1) // ROWS_PER_FILE
    for f in range(files):
        part = rows[f * ROWS_PER_FILE : (f + 1) * ROWS_PER_FILE]
        pq.write_table(
            pa.Table.from_pylist(part), mirror / "data" / f"en-{f:05d}-of-{files:05d}.parquet"
        )
    return folder, mirror


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_releases_"))
    caps = [c for cs in TINY_CAPTIONS.values() for c in cs]
    langs = [lang for lang, cs in TINY_CAPTIONS.items() for _ in cs]
    train_tokenizer(caps, vocab_size=400, out_dir=work / "tok", languages=langs)
    model = load_dual_encoder(build_model("tiny", work / "tok", work / "model", seed=0))
    folder, mirror = write_both(work, args.images, args.size)
    with open("/proc/loadavg") as fh:
        print("loadavg at start:", fh.read().strip())
    times: dict[str, dict[str, list[float]]] = {
        step: {"folder": [], "parquet": []} for step in ("load", "read", "embed")
    }
    for _ in range(args.repeats):
        embs = {}
        for side, spec in (("folder", f"xm3600:{folder}"), ("parquet", f"parquet:{mirror}")):
            t, bench = timed(lambda spec=spec: load_benchmark(spec))
            times["load"][side].append(t)
            t, n = timed(lambda b=bench: sum(1 for _, src in b.iter_image_sources()
                                             if (src if isinstance(src, bytes) else Path(src).read_bytes())))  # fmt: skip
            assert n == args.images
            times["read"][side].append(t)
            t, out = timed(lambda b=bench: encode_benchmark_images(model, b))
            times["embed"][side].append(t)
            embs[side] = out.embeddings
        np.testing.assert_array_equal(embs["folder"], embs["parquet"])
    print(f"{args.images} JPEGs of {args.size}x{args.size} px; seconds per repeat, median ratio")
    for step, sides in times.items():
        ratios = [p / f for f, p in zip(sides["folder"], sides["parquet"], strict=True)]
        print(f"{step:6s} folder {[round(x, 3) for x in sides['folder']]}  "
              f"parquet {[round(x, 3) for x in sides['parquet']]}  "
              f"parquet/folder {statistics.median(ratios):.2f}")  # fmt: skip
    with open("/proc/loadavg") as fh:
        print("loadavg at end:", fh.read().strip())


if __name__ == "__main__":
    main()
