"""Evaluation throughput at 1, 2, ... ranks: ``torchrun --nproc-per-node N globelens eval``.

    .venv/bin/python benchmarks/bench_eval_ranks.py [--ranks 1,1x1,2] [--repeats 2]
        [--size tiny] [--limit 64] [--benchmarks world/dollarstreet,world/xm3600,world/vqa]
        [--tasks T,...] [--batch-size 64] [--model DIR ...] [--data-root DIR] [--device cpu]
        [--out DIR]

Without ``--model`` it builds a tiny random SigLIP and a tiny random PaliGemma; without
``--data-root`` it builds the embedded world at ``--size``. ``--ranks`` lists configurations:
``N`` ranks with the available CPUs divided among them as torch threads (``OMP_NUM_THREADS``),
or ``NxT`` with T threads each. Each repeat runs every configuration in turn (interleaved, so
load from other jobs hits all of them), each with a cold cache, and checks that the result
JSONs equal the first configuration's, timing fields aside. Reported per
run: wall time of the whole command (start-up, loading, work, metrics) and, from the result
JSONs, the shared work's throughput: image embeddings per second (dual encoders) and answers
per second (generators), in total and per rank (per GPU with ``--device cuda``). One JSON
line per run, then a summary line per rank count (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "models"))


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def tiny_models(root: Path) -> list[Path]:
    from vlm_factory import tiny_paligemma_dir

    from conftest import TINY_CAPTIONS
    from globelens.models import build_model, train_tokenizer

    captions = [c for caps in TINY_CAPTIONS.values() for c in caps]
    languages = [lang for lang, caps in TINY_CAPTIONS.items() for _ in caps]
    train_tokenizer(captions, vocab_size=400, out_dir=root / "tok", languages=languages)
    siglip = build_model("tiny", root / "tok", root / "siglip", seed=0)
    return [Path(siglip), tiny_paligemma_dir(root / "paligemma")]


def parse_config(spec: str) -> tuple[int, int]:
    """``N`` (the CPUs shared out) or ``NxT`` -> (ranks, torch threads per rank)."""
    ranks, _, threads = spec.partition("x")
    n = int(ranks)
    return n, int(threads) if threads else max(1, len(os.sched_getaffinity(0)) // n)


def run(args: argparse.Namespace, spec: str, models: list[Path], work: Path) -> dict[str, Any]:
    ranks, threads = parse_config(spec)
    out, cache = work / f"out-{spec}", work / f"cache-{spec}"
    for p in (out, cache):
        shutil.rmtree(p, ignore_errors=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += ["--nproc-per-node", str(ranks), "-m", "globelens", "eval"]
    for m in models:
        cmd += ["-m", str(m)]
    cmd += ["-b", args.benchmarks, "--data-root", str(args.data_root), "--limit", str(args.limit)]
    cmd += ["--out", str(out), "--cache-dir", str(cache), "--device", args.device]
    cmd += ["--bootstrap", "100", "--max-new-tokens", str(args.max_new_tokens)]
    cmd += ["--batch-size", str(args.batch_size)] + (["--tasks", args.tasks] if args.tasks else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": str(threads)}
    load = loadavg()
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{spec} failed:\n{p.stderr[-3000:]}")
    results = {f.name: json.loads(f.read_text()) for f in sorted(out.glob("*.json"))}
    images = seconds = answers = gen_s = 0.0
    seen: set[tuple[str, str]] = set()
    for r in results.values():
        t = r["timing"]
        key = (r["model"], r["dataset"])  # tasks of one pair share the embeddings
        if "image_embeddings_s" in t and key not in seen and not t["image_embeddings_cached"]:
            seen.add(key)
            images += r.get("n_images", 0)
            seconds += t["image_embeddings_s"]
        if t.get("generated"):
            answers += t["generated"]
            gen_s += t["generation_s"]
    return {
        "config": spec,
        "ranks": ranks,
        "threads_per_rank": threads,
        "wall_s": round(wall, 2),
        "images_per_s": round(images / seconds, 1) if seconds else None,
        "answers_per_s": round(answers / gen_s, 1) if gen_s else None,
        "images_per_s_per_rank": round(images / seconds / ranks, 1) if seconds else None,
        "answers_per_s_per_rank": round(answers / gen_s / ranks, 1) if gen_s else None,
        "loadavg_before": load,
        "results": {k: {f: v for f, v in r.items() if f != "timing"} for k, r in results.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", default="1,1x1,2", help="Configurations: N or NxT (threads).")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--size", default="tiny", help="World size when --data-root is not given.")
    ap.add_argument("--limit", type=int, default=64, help="Records per benchmark.")
    ap.add_argument("--benchmarks", default="world/dollarstreet,world/xm3600,world/vqa")
    ap.add_argument("--model", action="append", default=[], help="Model dirs (default: tiny).")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (rank r uses cuda:r).")
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=64, help="Images per forward pass.")
    ap.add_argument("--tasks", default=None, help="Passed to --tasks (default: each set's own).")
    ap.add_argument("--out", type=Path, default=None, help="Keep the runs here.")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench-eval-ranks-"))
    work.mkdir(parents=True, exist_ok=True)
    models = [Path(m) for m in args.model] or tiny_models(work / "models")
    if args.data_root is None:
        from globelens.world import build_world

        args.data_root = work / "world"
        if not (args.data_root / "world.json").exists():
            build_world(args.data_root, seed=0, size=args.size, progress=False)
    counts = args.ranks.split(",")
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in counts}
    reference = None
    for rep in range(args.repeats):
        for n in counts:
            r = run(args, n, models, work)
            same = reference is None or r["results"] == reference
            reference = reference or r["results"]
            if not same:
                raise SystemExit(f"{n} gave other results than {counts[0]}")
            line = {k: v for k, v in r.items() if k != "results"}
            print(json.dumps({"repeat": rep, **line, "results_equal": same}), flush=True)
            runs[n].append(line)
    base = statistics.median(r["wall_s"] for r in runs[counts[0]])
    for n, rs in runs.items():
        summary: dict[str, Any] = {"summary": True, "config": n}
        for k in ("wall_s", "images_per_s", "answers_per_s"):
            vals = [r[k] for r in rs if r[k] is not None]
            summary[k] = round(statistics.median(vals), 2) if vals else None
        summary["wall_speedup"] = round(base / summary["wall_s"], 2)
        print(json.dumps(summary), flush=True)
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
