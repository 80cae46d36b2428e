"""Curation benchmarks.

1. Throughput of a realistic recipe (decode, language ID, DataComp basic filter, exact and
   pHash near-duplicate removal, write) with N workers, against the decode-only rate of the
   same images with N workers measured in the same run, side by side, ``--repeats`` times
   (medians reported: the machine may be shared). Both are timed from the call, process-pool
   start-up included; the decode-only rate on an already warm pool is reported as well. A
   crawl with fewer than two shards per worker (``--size small`` is one shard of 5,000,
   which would run everything in one process) is first cut into shards of
   ``--in-shard-size`` samples; output shards hold ``--out-shard-size`` samples.
2. Speed of the three language-ID backends (one core) and their agreement on the captions,
   with accuracy against the metadata's true ``language``.
3. MetaCLIP metadata matching (``metadata_balance``'s pass-1 work) on one core, beside
   read + full decode of the same samples on one core, ``--repeats`` times; and the balance
   draws on a synthetic pool of ``--draws`` pairs: per-entry keep counts against their
   expectation (z-scores; within 3 sigma for ~99.7% of entries if the draws are right).

    .venv/bin/python benchmarks/bench_curate.py --size default --workers 2 --repeats 3
    # lingua is an optional extra; to include it without installing it into the venv:
    pip install --target /tmp/lingua_pkgs lingua-language-detector
    .venv/bin/python benchmarks/bench_curate.py --crawl OUT/crawl --extra-path /tmp/lingua_pkgs
    .venv/bin/python benchmarks/bench_curate.py --crawl OUT/crawl --parts metadata --draws 1000000

Without ``--crawl`` it builds the embedded world's crawl (``globelens world build``) when
that is available, else a synthetic multilingual crawl from the test factory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
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


def reshard(crawl: str, out: Path, per_shard: int) -> str:
    """The same samples, in the same order, cut into shards of ``per_shard``."""
    from globelens.data import ShardWriter, read_shards

    with ShardWriter(out, maxcount=per_shard) as writer:
        writer.write_all(read_shards(crawl))
    return str(out)


def bench_throughput(
    crawl: str, workers: int, tmp: Path, repeats: int, out_shard_size: int
) -> dict:
    from globelens.curate import run_recipe
    from globelens.curate.engines.local import LocalEngine
    from globelens.data import expand_shards

    paths = expand_shards(crawl)
    runs: list[dict] = []
    for _ in range(repeats):
        run: dict = {}
        # Decode-only, timed like the recipe: from the call, starting its own pool of workers;
        # then again on the warm pool (no process start-up).
        t = time.perf_counter()
        engine = LocalEngine(workers)
        n_decoded = sum(r["samples"] for r in engine.map(decode_shard, paths))
        run["decode_cold_s"] = time.perf_counter() - t
        t = time.perf_counter()
        sum(r["samples"] for r in engine.map(decode_shard, paths))
        run["decode_warm_s"] = time.perf_counter() - t
        engine.close()
        for mode in ("full", "draft"):
            out = tmp / f"curated_{mode}"
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            manifest = run_recipe(
                {**REALISTIC, "decode": mode},
                crawl,
                out,
                workers=workers,
                shard_size=out_shard_size,
                progress=False,
            )
            run[f"{mode}_s"] = time.perf_counter() - t
            run[f"{mode}_manifest"] = manifest
            assert manifest["counts"]["in"] == n_decoded
        runs.append(run)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    out: dict = {
        "samples": n_decoded,
        "input_shards": len(paths),
        "output_shard_size": out_shard_size,
        "workers": workers,
        "repeats": repeats,
        "decode_only_samples_per_s": round(med([n_decoded / r["decode_cold_s"] for r in runs]), 1),
        "decode_only_warm_pool_samples_per_s": round(
            med([n_decoded / r["decode_warm_s"] for r in runs]), 1
        ),
    }
    for mode in ("full", "draft"):
        last = runs[-1][f"{mode}_manifest"]
        out[f"recipe_decode_{mode}"] = {
            "samples_per_s": round(med([n_decoded / r[f"{mode}_s"] for r in runs]), 1),
            # ratios within each repeat (measured side by side), then the median
            "ratio_to_decode_only": round(
                med([r["decode_cold_s"] / r[f"{mode}_s"] for r in runs]), 3
            ),
            "ratio_to_decode_only_warm_pool": round(
                med([r["decode_warm_s"] / r[f"{mode}_s"] for r in runs]), 3
            ),
            "ratios_per_repeat": [round(r["decode_cold_s"] / r[f"{mode}_s"], 3) for r in runs],
            "timing_s_last": last["timing_s"],
            "kept": last["counts"]["kept"],
            "output_shards": len(last["output"]["shards"]),
            "dropped": last["counts"]["dropped"],
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


def bench_metadata(crawl: str, metadata: str | None, tmp: Path, repeats: int, draws: int) -> dict:
    """Matching speed on the crawl's captions (one core) beside decode-only, and the keep
    draws' per-entry z-scores on a synthetic pool of ``draws`` pairs."""
    from globelens.curate import build_step
    from globelens.data import read_shards

    if metadata is None:  # the lists `globelens world build` writes
        from globelens.world.lexicon import metadata_lists

        metadata = str(tmp / "metadata")
        Path(metadata).mkdir(exist_ok=True)
        for lang, entries in metadata_lists().items():
            (Path(metadata) / f"{lang}.txt").write_text("".join(f"{e}\n" for e in entries))
    step = build_step("metadata_balance", metadata=metadata, t_en=10**9, lang_field="language")
    samples = list(read_shards(crawl))
    step.features(samples[:2000])  # builds every language's automaton once
    match_s, features_s, decode_s = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        n_matched = sum(1 for s in samples if step.matcher(step.group_of(s)).match(s.caption))
        match_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        step.features(samples)
        features_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        for sample in read_shards(crawl):
            with contextlib.suppress(Exception):
                sample.image()
        decode_s.append(time.perf_counter() - t)
    n = len(samples)
    out: dict = {
        "texts": n,
        "matched_share": round(n_matched / n, 4),
        "match_texts_per_s_one_core": round(n / statistics.median(match_s), 1),
        "features_per_s_one_core": round(n / statistics.median(features_s), 1),
        "decode_only_per_s_one_core": round(n / statistics.median(decode_s), 1),
        "match_per_s_repeats": [round(n / x, 1) for x in match_s],
        "decode_per_s_repeats": [round(n / x, 1) for x in decode_s],
    }
    out["draws"] = bench_draws(draws, tmp)
    return out


def bench_draws(n: int, tmp: Path, n_entries: int = 50) -> dict:
    """Per-entry keep counts of ``select`` on ``n`` synthetic pairs vs their expectation."""
    import numpy as np

    from globelens.curate import build_step

    rng = np.random.default_rng(0)
    md = tmp / "draws_metadata"
    md.mkdir(exist_ok=True)
    (md / "en.txt").write_text("".join(f"entry{i}\n" for i in range(n_entries)))
    ids = np.minimum(rng.zipf(1.4, size=n), n_entries) - 1  # a long tail and a few heads
    feats = [["en", [int(e)], None] for e in ids]
    uids = [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, size=(n, 2))]
    step = build_step("metadata_balance", metadata=str(md), tail_mass=0.2, one_text_per="sample")
    t = time.perf_counter()
    step.select(feats, uids)
    select_s = time.perf_counter() - t
    rows = step.report().tables["entries"]
    z = [(r["kept"] - r["expected"]) / max(r["variance"], 1e-12) ** 0.5 for r in rows]
    head = [r for r in rows if r["p"] < 1]
    return {
        "pairs": n,
        "entries": len(rows),
        "head_entries": len(head),
        "min_p": round(min(r["p"] for r in rows), 5),
        "max_abs_z": round(max(abs(x) for x in z), 3),
        "entries_within_3_sigma": sum(abs(x) <= 3 for x in z),
        "select_s": round(select_s, 2),
        "head": [
            {
                "entry": r["entry"],
                "texts": r["texts"],
                "p": round(r["p"], 5),
                "kept": r["kept"],
                "expected": round(r["expected"], 1),
            }
            for r in sorted(head, key=lambda r: -r["texts"])[:5]
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--crawl", help="shard pattern (default: build the world)")
    ap.add_argument("--size", default="default", help="world size when building it")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="side-by-side repeats (median)")
    ap.add_argument(
        "--in-shard-size",
        type=int,
        default=1000,
        help="samples per input shard when the crawl has fewer than 2 shards per worker",
    )
    ap.add_argument("--out-shard-size", type=int, default=1000, help="output samples per shard")
    ap.add_argument("--shards", type=int, default=12, help="synthetic fallback: shards of 500")
    ap.add_argument("--max-texts", type=int, default=20000)
    ap.add_argument(
        "--extra-path", help="folder prepended to sys.path (e.g. a --target install of lingua)"
    )
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--parts", default="throughput,langid,metadata", help="which benchmarks")
    ap.add_argument("--metadata", help="metadata folder (default: the world's lists)")
    ap.add_argument("--draws", type=int, default=1_000_000, help="pairs for the keep-rate check")
    args = ap.parse_args()
    if args.extra_path:
        sys.path.insert(0, args.extra_path)
    from globelens.data import expand_shards

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        crawl, source = get_crawl(args, tmp)
        if len(expand_shards(crawl)) < 2 * args.workers:
            crawl = reshard(crawl, tmp / "crawl_resharded", args.in_shard_size)
            source += f", cut into shards of {args.in_shard_size}"
        parts = args.parts.split(",")
        results: dict = {"data": source}
        if "throughput" in parts:
            results["throughput"] = bench_throughput(
                crawl, args.workers, tmp, args.repeats, args.out_shard_size
            )
        if "langid" in parts:
            results["langid"] = bench_langid(crawl, args.max_texts)
        if "metadata" in parts:
            results["metadata"] = bench_metadata(
                crawl, args.metadata, tmp, args.repeats, args.draws
            )
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
