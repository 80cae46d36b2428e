"""What rendering the HTML report costs: ``render_report`` over a study's results (the page,
the per-group sections, the generative sections and their thumbnails), from the templates.

    .venv/bin/python benchmarks/bench_report.py OUT/demo [--repeats 5]

``OUT/demo`` is a ``globelens demo`` folder (its first seed's results and act two's). Prints
one JSON line with the median seconds, the report's size and the load average. Point
``PYTHONPATH`` at an older checkout's ``src`` to time its renderer on the same results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from globelens.evaluate import load_results
from globelens.report import render_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path, help="a `globelens demo` output folder")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    summary = json.loads((args.demo / "summary.json").read_text(encoding="utf-8"))
    seed = summary["seeds"][0]
    results = load_results(args.demo / "results" / f"seed{seed}")
    generative = args.demo / "results_generative" / f"seed{seed}"
    if generative.is_dir():
        results += load_results(generative)
    times, size = [], 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        size = len(render_report(results, "bench"))
        times.append(time.perf_counter() - start)
    print(json.dumps({"measure": "render_report", "results": len(results),
                      "median_s": round(statistics.median(times), 3), "bytes": size,
                      "repeats": args.repeats, "loadavg": os.getloadavg()}))  # fmt: skip


if __name__ == "__main__":
    main()
