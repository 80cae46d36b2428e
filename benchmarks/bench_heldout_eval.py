"""In-training evaluation of a generative model: what one evaluation costs.

Loads the held-out benchmark as ``train-vlm`` does (``eval.data``: scene shards or a benchmark
spec, its first ``--max-images`` pictures) and times ``HeldOutBenchmark.evaluate`` on a saved
PaliGemma, per task (the evaluator's tasks, bootstrap off), ``--repeats`` times. Prints one
JSON line per repeat with the load average beside it.

    python benchmarks/bench_heldout_eval.py runs/vlm/model --data out/world/scenes \\
        --max-images 64 --task caption --task answer --task detect --task refer
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from globelens.models.paligemma import load_generator
from globelens.train.evaluation import HeldOutBenchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a PaliGemma directory (train-vlm's OUT/model)")
    ap.add_argument("--data", required=True, help="eval.data: scene shards or a benchmark spec")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--max-images", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument(
        "--task", action="append", help="training kinds (default: caption, answer, detect)"
    )
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    gen = load_generator(args.model)
    t0 = time.perf_counter()
    held = HeldOutBenchmark(
        args.data,
        args.task or ["caption", "answer", "detect"],
        args.data_root,
        max_images=args.max_images,
        max_new_tokens=args.max_new_tokens,
    )
    load_s = time.perf_counter() - t0
    for r in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = held.evaluate(gen)
        row = {
            "repeat": r,
            "tasks": held.tasks,
            "images": len(held.bench.records),
            "load_s": round(load_s, 2),
            "evaluate_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(time.process_time() - c0, 2),
            "scored": {k: v for k, v in res.items() if k.endswith("/n")},
            "load_average": os.getloadavg()[0],
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
