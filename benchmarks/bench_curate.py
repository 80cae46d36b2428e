"""Curation benchmarks.

1. Throughput of a realistic recipe (decode, language ID, DataComp basic filter, exact and
   pHash near-duplicate removal, write) with N workers, against the decode-only rate of the
   same images measured in the same run with the same process pool.
2. Speed of the three language-ID backends (one core) and their agreement on the captions,
   with accuracy against the metadata's true ``language``.

    .venv/bin/python benchmarks/bench_curate.py --crawl OUT/crawl --workers 2
    # lingua is an optional extra; to include it without installing it into the venv:
    pip install --target /tmp/lingua_pkgs lingua-language-detector
    .venv/bin/python benchmarks/bench_curate.py --crawl OUT/crawl --extra-path /tmp/lingua_pkgs

Without ``--crawl`` it builds the embedded world's crawl (``globelens world build``) when
that is available, else a synthetic multilingual crawl from the test factory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

REALISTIC = {
    "name": "realistic",
    "decode": "full",
    "steps": [
        {"type": "langid"},
        # DataComp's basic filter without its English rule (which would keep few samples to
        # write), the image side scaled to the world's small renders.
        {"type": "caption_length", "min_words": 3, "min_chars": 6},
        {"type": "image_size", "min_side": 64, "max_aspect": 3.0},
        {"type": "exact_dedup"},
        {"type": "near_dedup", "max_distance": 4},
    ],
}


def decode_shard(path: str) -> dict:
    """Decode-only baseline task: read the shard and fully decode every image."""
    from globelens.data import ImageDecodeError, read_shards

    n = 0
    for sample in read_shards(path):
        with contextlib.suppress(ImageDecodeError):
            sample.image()
        n += 1
    return {"samples": n}


def get_crawl(args: argparse.Namespace, tmp: Path) -> tuple[str, str]:
    if args.crawl:
        return args.crawl, f"given crawl {args.crawl}"
    world = tmp / "world"
    exe = Path(sys.executable).parent / "globelens"
    res = subprocess.run(
        [str(exe), "world", "build", str(world), "--size", args.size],
        capture_output=True,
        text=True,
    )
    if res.returncode == 0 and (world / "crawl").exists():
        return str(world / "crawl"), f"embedded world crawl (--size {args.size})"
    sys.path.insert(0, str(REPO / "tests" / "curate"))
    from curate_factory import write_shards

    write_shards(tmp / "synthetic", n_shards=args.shards, per_shard=500)
    return (
        str(tmp / "synthetic"),
        f"synthetic multilingual crawl from tests/curate/curate_factory.py ({args.shards} x 500, 256x224 JPEGs)",
    )


def bench_throughput(crawl: str, workers: int, tmp: Path) -> dict:
    from globelens.curate import run_recipe
    from globelens.curate.engines.local import LocalEngine
    from globelens.data import expand_shards

    paths = expand_shards(crawl)
    # Warm the pool (process start-up is not decode time), then time decode-only.
    engine = LocalEngine(workers)
    list(engine.map(decode_shard, paths[:workers]))
    t = time.perf_counter()
    n_decoded = sum(r["samples"] for r in engine.map(decode_shard, paths))
    decode_s = time.perf_counter() - t
    engine.close()
    decode_rate = n_decoded / decode_s
    out: dict = {
        "samples": n_decoded,
        "workers": workers,
        "decode_only_samples_per_s": round(decode_rate, 1),
    }
    for mode in ("full", "draft"):
        # Timed from the call: includes starting the worker pool and both passes.
        t = time.perf_counter()
        manifest = run_recipe(
            {**REALISTIC, "decode": mode},
            crawl,
            tmp / f"curated_{mode}",
            workers=workers,
            progress=False,
        )
        recipe_s = time.perf_counter() - t
        recipe_rate = manifest["counts"]["in"] / recipe_s
        out[f"recipe_decode_{mode}"] = {
            "samples_per_s": round(recipe_rate, 1),
            "ratio_to_decode_only": round(recipe_rate / decode_rate, 3),
            "timing_s": manifest["timing_s"],
            "wall_s": round(recipe_s, 2),
            "kept": manifest["counts"]["kept"],
            "dropped": manifest["counts"]["dropped"],
        }
    return out


def bench_langid(crawl: str, max_texts: int) -> dict:
    from globelens.curate.steps.langid import make_backend
    from globelens.data import read_shards

    texts, truth = [], []
    for sample in read_shards(crawl):
        texts.append(sample.caption or "")
        truth.append(sample.meta.get("language"))
        if len(texts) >= max_texts:
            break
    preds: dict[str, list[str]] = {}
    out: dict = {"texts": len(texts), "backends": {}}
    for name in ("fasttext", "pycld2", "lingua"):
        try:
            backend = make_backend(name)
        except ImportError as e:
            out["backends"][name] = {"error": str(e)}
            continue
        backend.detect(texts[:50])  # warm-up (lazy model loading)
        t = time.perf_counter()
        got = [lang for lang, _ in backend.detect(texts)]
        secs = time.perf_counter() - t
        preds[name] = got
        labelled = [(p, g) for p, g in zip(got, truth, strict=True) if g]
        out["backends"][name] = {
            "texts_per_s": round(len(texts) / secs, 1),
            "accuracy_vs_metadata_language": round(
                sum(p == g for p, g in labelled) / len(labelled), 4
            )
            if labelled
            else None,
        }
    names = list(preds)
    out["agreement"] = {
        f"{a}~{b}": round(
            sum(x == y for x, y in zip(preds[a], preds[b], strict=True)) / len(texts), 4
        )
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--crawl", help="shard pattern (default: build the world)")
    ap.add_argument("--size", default="small", help="world size when building it")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shards", type=int, default=12, help="synthetic fallback: shards of 500")
    ap.add_argument("--max-texts", type=int, default=20000)
    ap.add_argument(
        "--extra-path", help="folder prepended to sys.path (e.g. a --target install of lingua)"
    )
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()
    if args.extra_path:
        sys.path.insert(0, args.extra_path)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        crawl, source = get_crawl(args, tmp)
        results = {
            "data": source,
            "throughput": bench_throughput(crawl, args.workers, tmp),
            "langid": bench_langid(crawl, args.max_texts),
        }
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
