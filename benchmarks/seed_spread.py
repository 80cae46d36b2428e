"""How much do training seeds disagree? Train chosen variants of the No Filter study for several
seeds with chosen settings, on a world, curation and tokenizer built once, and print each main
metric per seed with its standard deviation, plus the loss curves' landmarks.

The world, curated data and tokenizer come from a study folder whose first three stages ran
(``run_study(BASE, stages=["world", "curate", "tokenizer"])``); training and evaluation are the
study's own stages, so the numbers are the ones ``globelens demo`` would print.

    python benchmarks/seed_spread.py --base /tmp/s0 --out /tmp/spread/before \\
        --variants en,globe-tl --seeds 0,1,2
    python benchmarks/seed_spread.py --base /tmp/s0 --out /tmp/spread/lr1e-3 \\
        --variants en,globe-tl --seeds 0,1,2 --set lr=1e-3 --set warmup_frac=0.1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

#: The main metrics of the study's table (summary.json ``table`` keys).
MAIN = (
    "western",
    "dollarstreet",
    "dollarstreet_disparity",
    "geode",
    "landmarks",
    "geode_country_10shot",
)


def _std(xs: list[float]) -> float:
    if len(xs) < 2:
        return float("nan")
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the training workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def curve(metrics_path: Path, at: tuple[int, ...] = (50, 100, 200, 400, 600, 800)) -> dict:
    """Loss at a few steps, the largest gradient norm, the lowest logit scale (how far the
    temperature dips early on) and the final logit scale and bias."""
    rows = [json.loads(x) for x in metrics_path.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if "loss" in r]
    by_step = {r["step"]: r for r in rows}
    return {
        "loss": {s: round(by_step[s]["loss"], 3) for s in at if s in by_step},
        "max_grad_norm": round(max(r["grad_norm"] for r in rows), 2),
        "min_scale": round(min(r["logit_scale"] for r in rows), 2),
        "scale": round(rows[-1]["logit_scale"], 2),
        "bias": round(rows[-1].get("logit_bias", float("nan")), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", required=True, help="study folder with world, data, tokenizer")
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", default="full")
    ap.add_argument("--variants", default="en,globe-tl")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="StudyConfig override (JSON value), repeatable")  # fmt: skip
    ap.add_argument(
        "--preset",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="DEMO_PRESET override at the top level or KEY.SUB (init.logit_bias)",
    )
    args = ap.parse_args()

    from globelens.experiments import nofilter
    from globelens.experiments.nofilter import Study, resolve_config

    overrides = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = resolve_config(args.profile, **overrides)
    for item in args.preset:
        key, value = item.split("=", 1)
        preset = json.loads(json.dumps(config.preset))
        *path, last = key.split(".")
        node = preset
        for p in path:
            node = node.setdefault(p, {})
        node[last] = _value(value)
        config = resolve_config(args.profile, **{**overrides, "preset": preset})
    base, out = Path(args.base), Path(args.out)
    study = Study(out, config, seed=0, progress=False, stream=None)
    study.world, study.data, study.tokenizer_dir = base / "world", base / "data", base / "tokenizer"
    study.cache = out / "cache"
    names = args.variants.split(",")
    study.seeds = [int(s) for s in args.seeds.split(",")]
    study.variants = {k: v for k, v in study.variants.items() if k in names}
    for v in study.variants.values():  # a continuation needs its parent
        if v.continues and v.continues not in study.variants:
            raise SystemExit(f"{v.name} continues {v.continues}: add it to --variants")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cpu0 = _cpu_s()
    nofilter.stage_train(study)
    t_train = time.perf_counter() - t0
    nofilter.stage_evaluate(study)
    nofilter.stage_summarise(study)
    summary = json.loads((out / "summary.json").read_text())
    report: dict[str, Any] = {
        "settings": {"set": overrides, "preset": args.preset},
        "train_wall_s": round(t_train, 1),
        "wall_s": round(time.perf_counter() - t0, 1),
        "models": {},
    }
    print(f"settings {overrides} {args.preset}; train {t_train:.0f} s wall")
    print(f"{'model':12} {'metric':24} per seed                    std")
    for name in study.variants:
        row: dict[str, Any] = {}
        for key in MAIN:
            vals = summary["table"][name].get(key, {}).get("per_seed", [])
            pts = [100 * x for x in vals]
            row[key] = {"per_seed": [round(x, 1) for x in pts], "std": round(_std(pts), 1)}
            print(f"{name:12} {key:24} {' / '.join(f'{x:5.1f}' for x in pts):27} "
                  f"{_std(pts):5.1f}")  # fmt: skip
        row["curves"] = {}
        for seed in study.seeds:
            c = curve(study.model_dir(name, seed).parent / "metrics.jsonl")
            row["curves"][seed] = c
            print(f"{name:12} seed {seed} {json.dumps(c)}")
        report["models"][name] = row
    report["cpu_s"] = round(_cpu_s() - cpu0, 1)
    print(f"wall {report['wall_s']} s, CPU {report['cpu_s']} s (this process and its children)")
    (out / "spread.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
