"""Run every ``benchmarks/bench_*.py`` script in turn (``make bench``).

    .venv/bin/python benchmarks/run_all.py [NAME_SUBSTRING ...]

Each script runs in its own process with its default arguments; its output streams through.
Exits non-zero if any script failed, after running them all.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.name for a in argv)]
    if not scripts:
        print(f"no benchmark scripts matched {argv}", file=sys.stderr)
        return 2
    results: list[tuple[str, int, float]] = []
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        results.append((script.name, rc, time.perf_counter() - t))
    print("=== summary")
    for name, rc, seconds in results:
        print(f"  {'ok  ' if rc == 0 else 'FAIL'} {name:<32} {seconds:8.1f} s")
    return 1 if any(rc for _, rc, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
