"""What the documentation site and the study's figures cost to build.

    .venv/bin/python benchmarks/bench_docs.py [--repeats 3]

Times ``mkdocs build --strict`` (``make docs``' command, in a fresh process each time), the
command-line reference page alone (every command's ``--help``), and drawing the study's three
figures (PNG + SVG) from a summary of 5 models x 3 seeds. Prints one JSON line per measurement
with the load average beside it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _report(name: str, seconds: float, repeats: int) -> None:
    print(json.dumps({"measure": name, "median_s": round(seconds, 2), "repeats": repeats,
                      "loadavg": os.getloadavg()}), flush=True)  # fmt: skip


def build_site(site: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def cli_reference() -> str:
    path = ROOT / "docs/hooks/cli_reference.py"
    spec = importlib.util.spec_from_file_location("cli_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.markdown()


def study_summary(seeds: int = 3) -> dict:
    """A summary as ``summarise`` writes it: 5 models, income and region groups per seed."""
    from globelens.experiments.nofilter import model_variants
    from globelens.experiments.nofilter_summary import summarise
    from globelens.groups import INCOME_BUCKET_NAMES

    def groups(names: list[str], base: float) -> dict:
        return {n: {"acc1": base + 0.05 * i, "acc1_ci95": [base, base + 0.1], "n": 50}
                for i, n in enumerate(names)}  # fmt: skip

    regions = ["Africa", "Americas", "EastAsia", "Europe", "SouthAsia", "SouthEastAsia", "WestAsia"]
    variants = list(model_variants(0.2).values())
    by_seed = {}
    for seed in range(seeds):
        results = []
        for k, v in enumerate(variants):
            base = 0.2 + 0.03 * k + 0.01 * seed
            zs = "zeroshot_classification"
            results += [
                {"model": v.name, "dataset": "world/western", "task": zs,
                 "metrics": {"acc1": 0.6 - 0.02 * k}},
                {"model": v.name, "dataset": "world/dollarstreet", "task": zs,
                 "metrics": {"acc1": base, "disparity": 0.2, "acc_wg": base - 0.1},
                 "groups": {"income_bucket": {"groups": groups(list(INCOME_BUCKET_NAMES), base)}}},
                {"model": v.name, "dataset": "world/geode", "task": zs, "metrics": {"acc1": base},
                 "groups": {"region": {"groups": groups(regions, base)}}},
                {"model": v.name, "dataset": "world/landmarks", "task": zs,
                 "metrics": {"acc1": base}},
            ]  # fmt: skip
        by_seed[seed] = results
    return summarise(by_seed, variants, config={}, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from globelens.experiments.study_report import write_figures

    with tempfile.TemporaryDirectory() as tmp:
        _report("mkdocs build --strict", _median_s(lambda: build_site(Path(tmp) / "site"),
                                                   args.repeats), args.repeats)  # fmt: skip
        _report("command-line reference page", _median_s(cli_reference, args.repeats),
                args.repeats)  # fmt: skip
        summary = study_summary()
        seconds = _median_s(lambda: write_figures(summary, Path(tmp)), args.repeats)
        _report("study figures (3 x PNG + SVG)", seconds, args.repeats)


if __name__ == "__main__":
    main()
