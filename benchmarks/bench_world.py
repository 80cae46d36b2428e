"""How long the embedded world takes to build, and where the time goes.

    .venv/bin/python benchmarks/bench_world.py [--size default] [--workers 2] [--compare-scenes]

Prints one JSON line: wall seconds, CPU seconds of the main process (shard and file
writing) and of the drawing processes, pictures per second, and the load average, because
the machines are shared and a busy machine stretches wall time. ``--compare-scenes`` builds
the same size without scenes first and prints both lines, so the scenes' cost is a ratio
measured side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import tempfile
import time

from globelens.world import WorldSize, build_world, resolve_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="default")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-scenes", action="store_true")
    args = parser.parse_args()
    if args.compare_scenes:
        plain = dataclasses.replace(resolve_size(args.size), scenes=0, scene_benchmarks=0)
        _run(args, plain, "without scenes")
    _run(args, args.size, "with scenes")


def _run(args: argparse.Namespace, size: str | WorldSize, label: str) -> None:
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        t, cpu = time.perf_counter(), time.process_time()
        summary = build_world(
            os.path.join(tmp, "w"),
            seed=args.seed,
            size=size,
            workers=args.workers,
            progress=False,
        )
        wall, main_cpu = time.perf_counter() - t, time.process_time() - cpu
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    kids_cpu = kids.ru_utime + kids.ru_stime - before.ru_utime - before.ru_stime
    images = sum(part["total"] for part in summary["counts"].values())
    print(
        json.dumps(
            {
                "bench": "world_build",
                "variant": label,
                "size": args.size,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "images": images,
                "crawl": summary["counts"]["crawl"]["total"],
                "scenes": summary["counts"].get("scenes", {}).get("total", 0),
                "scene_benchmarks": summary["counts"].get("scene_benchmarks", {}).get("total", 0),
                "wall_s": round(wall, 2),
                "main_cpu_s": round(main_cpu, 2),
                "workers_cpu_s": round(kids_cpu, 2),
                "images_per_s": round(images / wall, 1),
                "load_avg_1min_before": round(load_before, 2),
                "load_avg_1min_after": round(os.getloadavg()[0], 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
