"""How long the embedded world takes to build, and where the time goes.

    .venv/bin/python benchmarks/bench_world.py [--size default] [--workers 2]

Prints one JSON line: wall seconds, CPU seconds of the main process (shard and file
writing) and of the drawing processes, pictures per second, and the load average, because
the machines are shared and a busy machine stretches wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time

from globelens.world import build_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="default")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        t, cpu = time.perf_counter(), time.process_time()
        summary = build_world(
            os.path.join(tmp, "w"),
            seed=args.seed,
            size=args.size,
            workers=args.workers,
            progress=False,
        )
        wall, main_cpu = time.perf_counter() - t, time.process_time() - cpu
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    images = sum(part["total"] for part in summary["counts"].values())
    print(
        json.dumps(
            {
                "bench": "world_build",
                "size": args.size,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "images": images,
                "crawl": summary["counts"]["crawl"]["total"],
                "wall_s": round(wall, 2),
                "main_cpu_s": round(main_cpu, 2),
                "workers_cpu_s": round(kids.ru_utime + kids.ru_stime, 2),
                "images_per_s": round(images / wall, 1),
                "load_avg_1min_before": round(load_before, 2),
                "load_avg_1min_after": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
