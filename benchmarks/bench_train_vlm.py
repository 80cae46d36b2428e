"""The generative trainer: what a tiny PaliGemma learns in a few CPU-minutes, and loop overhead.

1. ``learn``: ``globelens train-vlm`` from each given SigLIP tower (``NAME=DIR``, e.g. towers
   trained by ``globelens train`` on en and on globe data) on the world's scenes, the same
   task mixture, seed and steps for every tower; CPU-seconds of the whole run (main process
   and data workers) are measured. Then greedy answers on the world's held-out benchmarks,
   the first ``--max-images`` of each, by the evaluator's tasks as in-training evaluation
   runs them (``globelens.train.evaluation.HeldOutBenchmark``, the names ``globelens eval``
   writes): ``vqa`` on world/vqa, ``detection`` (COCO mAP) on world/coco_det, ``captioning``
   (CIDEr) on world/captions, and ``referring_segmentation`` (mIoU) on world/refcoco when a
   codec is given.
2. ``overhead``: samples/s of the full loop (shards -> JSON targets -> processor -> step, with
   DataLoader workers) against the bare forward + backward + step on pre-built batches,
   interleaved in one run (``bench_train.interleaved_overhead``).

    .venv/bin/python benchmarks/bench_train_vlm.py learn --world out/world \\
        --tower en=runs/en/model --tower globe=runs/globe/model --steps 700
    .venv/bin/python benchmarks/bench_train_vlm.py overhead --world out/world --tower runs/globe/model
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

TASKS = ["caption:1", "answer:2", "detect:2"]
EVALS = {  # training kind -> the held-out benchmark it is scored on
    "answer": "world/vqa",
    "detect": "world/coco_det",
    "caption": "world/captions",
    "refer": "world/refcoco",
}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def train_one(args: argparse.Namespace, name: str, tower: str, out: Path) -> dict:
    tasks = list(args.task or TASKS)
    if args.codec:
        tasks.append("refer:1")
    cmd = [
        sys.executable, "-m", "globelens", "train-vlm",
        "--data", str(Path(args.world) / "scenes"),
        "--vision", tower, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
        "--lr", str(args.lr), "--seed", str(args.seed), "--out", str(out), "--quiet",
        *[x for t in tasks for x in ("--task", t)],
        *(["--codec", args.codec] if args.codec else []),
        *(["--config", args.config] if args.config else []),
    ]  # fmt: skip
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    before, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - before
    lines = [json.loads(x) for x in (out / "metrics.jsonl").open()]
    losses = [x["loss"] for x in lines if "loss" in x]
    return {
        "tower": name,
        "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu, 1),
        "first_loss": round(losses[0], 3),
        "last_loss": round(sum(losses[-10:]) / len(losses[-10:]), 3),
        "bad_samples": lines[-1].get("bad_samples", {}),
    }


def evaluate(args: argparse.Namespace, model_dir: Path) -> dict:
    """The evaluator's tasks on the world's held-out benchmarks, as in-training evaluation
    runs them (``HeldOutBenchmark``: ``globelens eval --limit N``, bootstrap off)."""
    from globelens.models.paligemma import load_generator
    from globelens.train.evaluation import HeldOutBenchmark

    gen = load_generator(model_dir)
    results: dict = {}
    kinds = ["caption", "answer", "detect"] + (["refer"] if args.codec else [])
    for kind in kinds:
        t0 = time.perf_counter()
        held = HeldOutBenchmark(
            EVALS[kind], [kind], data_root=args.world, max_images=args.max_images
        )
        res = held.evaluate(gen)
        res[f"eval/{kind}/seconds"] = round(time.perf_counter() - t0, 1)
        results.update({k.removeprefix("eval/"): round(v, 4) for k, v in res.items()})
    return results


def bench_learn(args: argparse.Namespace) -> list[dict]:
    root = Path(args.out or tempfile.mkdtemp(prefix="bench_vlm_"))
    rows = []
    for spec in args.tower:
        name, _, tower = spec.rpartition("=")
        name = name or Path(tower).parent.name
        out = root / name
        row = train_one(args, name, tower, out)
        row.update(evaluate(args, out / "model"))
        row["load_average"] = round(os.getloadavg()[0], 2)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def bench_overhead(args: argparse.Namespace) -> dict:
    import torch

    from bench_train import interleaved_overhead
    from globelens.train.config import PhaseConfig, SourceConfig, VLMTrainConfig, task_from_spec
    from globelens.train.generative import GenerativeObjective
    from globelens.train.loop import Trainer

    tmp = Path(tempfile.mkdtemp(prefix="bench_vlm_loop_"))
    cfg = VLMTrainConfig(
        out=str(tmp / "run"),
        steps=args.warmup + args.repeats * args.segment,
        batch_size=args.batch_size,
    )
    cfg.data.sources = [SourceConfig("world", str(Path(args.world) / "scenes"))]
    specs = [task_from_spec(t) for t in (args.task or TASKS)]
    cfg.tasks = [t for t, _ in specs]
    cfg.data.phases = [PhaseConfig(1.0, {t.name: w or 1.0 for t, w in specs})]
    cfg.data.workers, cfg.data.prefetch = args.workers, args.prefetch
    cfg.model.vision = args.tower[0].rpartition("=")[2]
    cfg.checkpoint.every, cfg.progress, cfg.log_every = 0, False, 1
    cfg.threads = args.threads
    trainer = Trainer(cfg, objective=GenerativeObjective)
    return {
        "batch_size": args.batch_size,
        "workers": args.workers,
        "threads": torch.get_num_threads(),
        **interleaved_overhead(trainer, args),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="what", required=True)
    for name in ("learn", "overhead"):
        p = sub.add_parser(name)
        p.add_argument("--world", required=True, help="a folder `globelens world build` wrote")
        p.add_argument("--tower", action="append", required=True, help="[NAME=]SIGLIP_DIR")
        p.add_argument("--task", action="append", help=f"task specs (default {TASKS})")
        p.add_argument("--batch-size", type=int, default=32)
    lp = sub.choices["learn"]
    lp.add_argument("--steps", type=int, default=700)
    lp.add_argument("--lr", type=float, default=2e-3)
    lp.add_argument("--seed", type=int, default=0)
    lp.add_argument("--codec", default=None, help="mask codec: adds the refer task")
    lp.add_argument("--config", default=None, help="TOML with further train-vlm settings")
    lp.add_argument("--max-images", type=int, default=300)
    lp.add_argument("--out", default=None)
    op = sub.choices["overhead"]
    op.add_argument("--repeats", type=int, default=5)
    op.add_argument("--segment", type=int, default=8)
    op.add_argument("--warmup", type=int, default=3)
    op.add_argument("--workers", type=int, default=1)
    op.add_argument("--prefetch", type=int, default=2)
    op.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    result = {"learn": bench_learn, "overhead": bench_overhead}[args.what](args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
