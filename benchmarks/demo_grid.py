"""Run several No Filter studies side by side, one process each, and print their main numbers.

The grid is JSON: study name -> ``run_study`` overrides (``StudyConfig`` fields, plus
``profile`` and ``seed``); ``world`` holds ``WorldConfig`` fields. Each study trains two runs
at a time, so give it about 2 cores per study. Summaries land in ``OUT/<name>/summary.json``.

    python benchmarks/demo_grid.py grid.json --out /tmp/grid
    # grid.json: {"base_1600": {"steps": 1600},
    #             "cm30_1600": {"steps": 1600, "world": {"code_mix_rate": 0.3}}}
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = (
    ("western", "main", "Western"),
    ("dollarstreet", "main", "DS"),
    ("dollarstreet", "disparity", "DS disp"),
    ("geode", "main", "GeoDE"),
    ("landmarks", "main", "Landmarks"),
)


def table(summary: dict) -> str:
    lines = ["model        " + " ".join(f"{c[2]:>9}" for c in COLUMNS)]
    for name, m in summary["models"].items():
        cells = []
        for bench, key, _ in COLUMNS:
            value = m["benchmarks"].get(bench, {}).get(key, {}).get("value")
            cells.append(f"{100 * value:9.1f}" if value is not None else f"{'n/a':>9}")
        lines.append(f"{name:12} " + " ".join(cells))
    return "\n".join(lines)


def run_one(out: Path, settings: dict) -> None:
    from globelens.experiments.nofilter import run_study

    settings = dict(settings)
    run_study(
        out,
        profile=settings.pop("profile", "quick"),
        seed=settings.pop("seed", 0),
        progress=False,
        **settings,
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("grid", help="JSON file: name -> settings")
    ap.add_argument("--out", default="out/grid")
    ap.add_argument("--only", default=None, help=argparse.SUPPRESS)  # one study (child process)
    args = ap.parse_args()
    grid = json.loads(Path(args.grid).read_text())
    out = Path(args.out)
    if args.only:
        run_one(out / args.only, grid[args.only])
        return
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    procs = {}
    for name in grid:
        log = open(out / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        cmd = [sys.executable, __file__, args.grid, "--out", str(out), "--only", name]
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
    while procs:
        time.sleep(2)
        for name, (proc, log) in list(procs.items()):
            if proc.poll() is None:
                continue
            del procs[name]
            log.close()
            elapsed = time.perf_counter() - t0
            print(f"== {name} {json.dumps(grid[name])}: exit {proc.returncode}, {elapsed:.0f} s")
            summary = out / name / "summary.json"
            if proc.returncode == 0 and summary.is_file():
                print(table(json.loads(summary.read_text())), flush=True)
            else:
                print((out / f"{name}.log").read_text()[-2000:], flush=True)


if __name__ == "__main__":
    main()
