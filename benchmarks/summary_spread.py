"""Per-seed values and their spread for every model and main metric of a finished study.

    python benchmarks/summary_spread.py out/demo     # prints a Markdown table

Reads ``OUT/summary.json`` (``models.*.benchmarks.*.*.per_seed``): the numbers of
benchmarks/RESULTS.md's "Seeds that agree" tables, with the sample standard deviation over
the study's training seeds (points).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

CELLS = (
    ("Western", "western", "main"),
    ("Dollar Street", "dollarstreet", "main"),
    ("DS disparity", "dollarstreet", "disparity"),
    ("GeoDE", "geode", "main"),
    ("Landmarks", "landmarks", "main"),
    ("GeoDE country 10-shot", "geode", "country_10shot"),
)


def per_seed(bench: dict, key: str) -> list[float]:
    entry = bench.get(key) or (bench.get("other") or {}).get(key) or {}
    return [100 * float(v) for v in entry.get("per_seed") or []]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path, help="a finished study folder (with summary.json)")
    args = ap.parse_args()
    summary = json.loads((args.study / "summary.json").read_text(encoding="utf-8"))
    print("| model | " + " | ".join(c[0] for c in CELLS) + " |")
    print("|---|" + "---:|" * len(CELLS))
    worst = (0.0, "")
    for name, model in summary["models"].items():
        row = [name]
        for label, bench, key in CELLS:
            vals = per_seed(model["benchmarks"].get(bench, {}), key)
            if len(vals) < 2:
                row.append(" / ".join(f"{v:.1f}" for v in vals) or "–")
                continue
            sd = statistics.stdev(vals)
            worst = max(worst, (sd, f"{name} {label}"))
            row.append(" / ".join(f"{v:.1f}" for v in vals) + f" (sd {sd:.1f})")
        print("| " + " | ".join(row) + " |")
    if worst[1]:
        print(f"\nlargest sd: {worst[0]:.1f} ({worst[1]})")


if __name__ == "__main__":
    main()
