"""Seconds per training step of act two's PaliGemma: threads x batch x length groups.

Trains act two's model (``benchmarks/act_two_recipe.py``'s ``act_config``: the quick demo's
world, globe-tl tower and mask codec) for ``--steps`` steps per setting, one setting at a
time, and reports the seconds per step between the first logged step after ``--skip`` and the
last (``elapsed_s`` of ``metrics.jsonl``: start-up and the first steps' decoding left out).

    python benchmarks/vlm_step_speed.py --demo DIR --settings 1x32x1,1x32x4,1x64x1,1x64x4

Each setting is THREADSxBATCHxGROUPS. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from globelens.train.loop import train

sys.path.insert(0, str(Path(__file__).parent))
from act_two_recipe import PROFILES, TimedObjective, act_config


def seconds_per_step(demo: Path, threads: int, batch: int, groups: int, steps: int,
                     skip: int) -> float:  # fmt: skip
    out = Path(tempfile.mkdtemp(prefix="vlm_speed_"))
    try:
        cfg = act_config(PROFILES["quick"], demo, "globe-tl", 11, out / "run")
        cfg.threads, cfg.batch_size, cfg.length_groups = threads, batch, groups
        cfg.steps, cfg.checkpoint.every = steps, 0
        torch.set_num_threads(threads)
        train(cfg, objective=TimedObjective)
        rows = [json.loads(x) for x in (out / "run" / "metrics.jsonl").read_text().splitlines()]
        at = {r["step"]: r["elapsed_s"] for r in rows if "elapsed_s" in r}
        first = min(s for s in at if s >= skip)
        return (at[steps] - at[first]) / (steps - first)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo", type=Path, required=True, help="a finished quick demo's folder")
    ap.add_argument("--settings", default="1x32x1,1x32x4,1x64x1,1x64x4")
    ap.add_argument("--steps", type=int, default=90)
    ap.add_argument("--skip", type=int, default=30)
    args = ap.parse_args()
    print("| threads | batch | length groups | s/step | samples/s |")
    print("|---:|---:|---:|---:|---:|")
    for setting in args.settings.split(","):
        threads, batch, groups = (int(x) for x in setting.split("x"))
        s = seconds_per_step(args.demo, threads, batch, groups, args.steps, args.skip)
        print(f"| {threads} | {batch} | {groups} | {s:.3f} | {batch / s:.0f} |", flush=True)
    print(f"loadavg {os.getloadavg()}")


if __name__ == "__main__":
    main()
