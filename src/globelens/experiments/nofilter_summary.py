"""From evaluation results to the study's summary: metrics per model with intervals over
seeds, the filter audit, and the No Filter findings, each with the margin by which it holds.

The findings are computed from the results, never assumed: a finding that does not hold is
reported as such.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globelens.experiments.nofilter_paper import direction_matches, paper_finding
from globelens.experiments.verdicts import finding, mean_ci, share_finding


@dataclass(frozen=True)
class Metric:
    """One number of Table 1: which result (dataset folder, task) and which metric key."""

    key: str
    dataset: str
    task: str
    metric: str
    label: str
    higher_is_better: bool = True
    #: the group field whose worst group goes with this metric (acc_wg)
    group: str | None = None

    @property
    def bench(self) -> str:
        """The benchmark's short name (``world/geode`` -> ``geode``)."""
        return self.dataset.rsplit("/", 1)[-1]


ZS, RET, FS = "zeroshot_classification", "zeroshot_retrieval", "fewshot_geolocalization"

#: Table 1 of the study, in column order.
METRICS: tuple[Metric, ...] = (
    Metric("western", "world/western", ZS, "acc1", "Western top-1"),
    Metric("dollarstreet", "world/dollarstreet", ZS, "acc1", "Dollar Street top-1"),
    Metric("dollarstreet_disparity", "world/dollarstreet", ZS, "disparity", "DS disparity", False),
    Metric("dollarstreet_worst", "world/dollarstreet", ZS, "acc_wg", "DS worst income",
           group="income_bucket"),
    Metric("geode", "world/geode", ZS, "acc1", "GeoDE top-1"),
    Metric("geode_worst", "world/geode", ZS, "acc_wg", "GeoDE worst region", group="region"),
    Metric("landmarks", "world/landmarks", ZS, "acc1", "Landmarks top-1"),
    Metric("landmarks_worst", "world/landmarks", ZS, "acc_wg", "Landmarks worst region",
           group="region"),
    Metric("xm3600_i2t", "world/xm3600", RET, "text_retrieval_recall@1", "XM3600 I→T R@1"),
    Metric("xm3600_t2i", "world/xm3600", RET, "image_retrieval_recall@1", "XM3600 T→I R@1"),
    Metric("geode_country_10shot", "world/geode", FS, "country_10shot", "GeoDE country 10-shot"),
    Metric("geode_region_10shot", "world/geode", FS, "region_10shot", "GeoDE region 10-shot"),
    Metric("dollarstreet_country_10shot", "world/dollarstreet", FS, "country_10shot",
           "DS country 10-shot"),
)  # fmt: skip
METRIC_BY_KEY = {m.key: m for m in METRICS}


def _find(results: Sequence[dict[str, Any]], model: str, m: Metric) -> dict[str, Any] | None:
    for r in results:
        if r["model"] == model and r["dataset"] == m.dataset and r["task"] == m.task:
            return r
    return None


def with_interval(per_seed: list[float], boot: Sequence[float] | None) -> dict[str, Any]:
    """Mean over seeds with its t interval, or the one seed's bootstrap interval."""
    mean, ci = mean_ci(per_seed)
    out: dict[str, Any] = {"value": mean, "per_seed": per_seed}
    if ci is not None:
        out.update(ci95=ci, interval="t over seeds")
    elif boot:
        out.update(ci95=list(boot), interval="bootstrap over images")
    return out


def metric_values(
    results_by_seed: dict[int, list[dict[str, Any]]], model: str, m: Metric
) -> dict[str, Any]:
    """One metric of one model: per-seed values, mean, interval and where it comes from."""
    per_seed, boot, worst_groups = [], None, []
    for _seed, results in sorted(results_by_seed.items()):
        r = _find(results, model, m)
        if r is None or m.metric not in r.get("metrics", {}):
            continue
        per_seed.append(float(r["metrics"][m.metric]))
        boot = r.get("ci95", {}).get(m.metric)
        if m.group:
            groups = r.get("groups", {}).get(m.group, {}).get("groups", {})
            if groups:
                worst_groups.append(groups)
    if not per_seed:
        return {}
    out = with_interval(per_seed, boot)
    if worst_groups:
        # The worst group by mean accuracy over seeds.
        names = set.intersection(*(set(g) for g in worst_groups))
        means = {n: sum(g[n]["acc1"] for g in worst_groups) / len(worst_groups) for n in names}
        if means:
            name = min(means, key=lambda n: (means[n], n))
            out["group"] = {"by": m.group, "name": name, "acc1": means[name]}
    return out


#: The study's accuracy-by-group figures: (benchmark, group field), each drawn per model.
GROUP_FIGURES: tuple[tuple[str, str], ...] = (
    ("world/dollarstreet", "income_bucket"),
    ("world/geode", "region"),
)


def group_accuracy(
    results_by_seed: dict[int, list[dict[str, Any]]], models: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Zero-shot top-1 per group for each benchmark of :data:`GROUP_FIGURES`:
    ``{benchmark: {"by": field, "models": {model: {group: {value, per_seed, ci95}}}}}``."""
    out: dict[str, dict[str, Any]] = {}
    for dataset, field in GROUP_FIGURES:
        metric = Metric(dataset, dataset, ZS, "acc1", dataset)
        by_model: dict[str, dict[str, Any]] = {}
        for model in models:
            per_group: dict[str, tuple[list[float], Any]] = {}
            for _seed, results in sorted(results_by_seed.items()):
                r = _find(results, model, metric) or {}
                for name, g in r.get("groups", {}).get(field, {}).get("groups", {}).items():
                    values, _ = per_group.get(name, ([], None))
                    per_group[name] = ([*values, float(g["acc1"])], g.get("acc1_ci95"))
            if per_group:
                by_model[model] = {n: with_interval(v, b) for n, (v, b) in per_group.items()}
        if by_model:
            out[metric.bench] = {"by": field, "models": by_model}
    return out


def _per_seed(values: dict[str, Any]) -> list[float]:
    return list(values.get("per_seed", []))


def _paired(a: dict[str, Any], b: dict[str, Any]) -> list[float]:
    """Per-seed differences a - b (seeds are paired: same seed, same init, same order)."""
    xa, xb = _per_seed(a), _per_seed(b)
    return [x - y for x, y in zip(xa, xb, strict=False)]


def _difference(
    table: dict[str, dict[str, Any]], a: str, b: str, key: str, sign: float = 1.0
) -> dict[str, Any]:
    diffs = [sign * d for d in _paired(table[a][key], table[b][key])]
    mean, ci = mean_ci(diffs)
    return {"value": mean, "per_seed": diffs, "ci95": ci}


#: The no-filter variants and the run that continues each on en.
NO_FILTER: tuple[tuple[str, str], ...] = (("globe", "globe→en"), ("globe-tl", "globe-tl→en"))


def _finding(statement: str, d: dict[str, Any], unit: str) -> dict[str, Any]:
    """A claim "margin > 0" from a paired difference ``d`` (:func:`verdicts.finding`)."""
    return finding(statement, d["value"], d["per_seed"], ci95=d["ci95"], unit=unit)


#: MetaCLIP 2's data (per-language metadata balancing) and what it is set against
BALANCED, BALANCED_AGAINST = "metaclip2", ("en", "globe")
#: the global sets: the mean of Dollar Street and landmarks, as in the fine-tuning finding
GLOBAL_SETS = ("dollarstreet", "landmarks")


def _global_difference(table: dict[str, dict[str, Any]], a: str, b: str) -> dict[str, Any]:
    """Per-seed differences a - b of the mean over :data:`GLOBAL_SETS`."""
    per = [_paired(table[a][k], table[b][k]) for k in GLOBAL_SETS]
    diffs = [sum(d) / len(d) for d in zip(*per, strict=True)] if all(per) else []
    mean, ci = mean_ci(diffs)
    return {"value": mean, "per_seed": diffs, "ci95": ci}


def balanced_findings(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """MetaCLIP 2's claim on this run: ``metaclip2_beats_<en|globe>_<western|global>``, each
    judged by the one verdict rule (:func:`verdicts.judge`) on its per-seed margins."""
    out: dict[str, dict[str, Any]] = {}
    if BALANCED not in table:
        return out
    acc = "accuracy points (fraction)"
    for other in BALANCED_AGAINST:
        if other not in table:
            continue
        for key, what, d in (
            ("western", "the Western set", _difference(table, BALANCED, other, "western")),
            ("global", "the global sets (mean of Dollar Street and landmarks)",
             _global_difference(table, BALANCED, other)),
        ):  # fmt: skip
            name = f"{BALANCED}_beats_{other}_{key}"
            out[name] = _finding(f"{BALANCED} (balanced worldwide data) beats {other} on {what}",
                                 d, acc)  # fmt: skip
    return out


def findings(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The No Filter pattern, checked on this run's numbers (fractions, not percentages), for
    each no-filter variant present: ``<variant>_beats_en_<benchmark>``,
    ``<variant>_smaller_disparity``, ``en_beats_<variant>_western``,
    ``<variant>_then_en_recovers_western`` and ``<variant>_then_en_keeps_global_gain``.

    Each has a ``status`` from :func:`verdicts.judge`: "holds" (every seed and the interval
    agree), "does not hold" (they agree on the reverse), "not robust" (they do not agree),
    "no difference beyond the noise", or "n/a" (with a ``reason``) when its premise is absent;
    ``holds`` is True, False or None to match. Each carries the paper's
    own numbers for the same comparison (``paper``, see :data:`PAPER`) and whether the
    direction matches."""
    if "en" not in table:
        return {}
    out: dict[str, dict[str, Any]] = {}
    acc = "accuracy points (fraction)"

    def seeds(model: str, key: str) -> list[float]:
        return _per_seed(table[model][key])

    def minus(a: list[float], b: list[float]) -> list[float]:
        return [x - y for x, y in zip(a, b, strict=False)]

    for nf, cont in NO_FILTER:
        if nf not in table:
            continue
        for key, what in (("dollarstreet", "Dollar Street"), ("landmarks", "the landmark set"),
                          ("geode", "GeoDE"), ("geode_country_10shot", "GeoDE 10-shot country")):  # fmt: skip
            d = _difference(table, nf, "en", key)
            out[f"{nf}_beats_en_{key}"] = _finding(f"{nf} beats en on {what}", d, acc)
        d = _difference(table, "en", nf, "dollarstreet_disparity")
        out[f"{nf}_smaller_disparity"] = _finding(
            f"{nf} has a smaller Dollar Street income disparity than en", d,
            "disparity points (fraction)",
        )  # fmt: skip
        d = _difference(table, "en", nf, "western")
        out[f"en_beats_{nf}_western"] = _finding(
            f"en beats {nf} on the Western set (the cost of not filtering)", d, acc
        )
        if cont not in table:
            continue
        out[f"{nf}_then_en_recovers_western"] = share_finding(
            f"{cont} recovers most (≥ 50%) of the Western gap between {nf} and en",
            part=minus(seeds(cont, "western"), seeds(nf, "western")),
            whole=minus(seeds("en", "western"), seeds(nf, "western")),
            whole_name="gap",
            unit="share of the gap",
        )
        glob = {
            m: [(a + b) / 2 for a, b in zip(seeds(m, "dollarstreet"), seeds(m, "landmarks"),
                                            strict=False)]
            for m in ("en", nf, cont)
        }  # fmt: skip
        out[f"{nf}_then_en_keeps_global_gain"] = share_finding(
            f"{cont} keeps most (≥ 50%) of {nf}'s gain over en on the global sets "
            "(mean of Dollar Street and landmarks)",
            part=minus(glob[cont], glob["en"]),
            whole=minus(glob[nf], glob["en"]),
            whole_name="gain",
            unit="share of the gain",
        )
    out |= balanced_findings(table)
    for name, f in out.items():
        f["paper"] = paper_finding(name)
        f["direction_matches"] = direction_matches(f["holds"], f["paper"])
    return out


def audit_summary(data_dir: str | os.PathLike) -> dict[str, Any]:
    """Kept fractions of the en curation by region and income bucket, and its headline."""
    path = Path(data_dir) / "en" / "audit.json"
    if not path.is_file():
        return {}
    audit = json.loads(path.read_text(encoding="utf-8"))
    overall = audit.get("overall", {})
    return {
        "recipe": audit.get("recipe"),
        "headline": audit.get("headline"),
        "counts": audit.get("counts", {}),
        "kept_by_region": {k: v["fraction"] for k, v in overall.get("region", {}).items()},
        "kept_by_income_bucket": {
            k: v["fraction"] for k, v in overall.get("income_bucket", {}).items()
        },
        "kept_by_language": {k: v["fraction"] for k, v in overall.get("language", {}).items()},
    }


def summarise(
    results_by_seed: dict[int, list[dict[str, Any]]],
    variants: Sequence[Any],
    config: dict[str, Any],
    seed: int,
    data: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """The content of ``summary.json``."""
    table: dict[str, dict[str, Any]] = {}
    models: dict[str, Any] = {}
    for var in variants:
        name = var.name
        table[name] = {m.key: metric_values(results_by_seed, name, m) for m in METRICS}
        benchmarks: dict[str, Any] = {}
        for m in METRICS:
            vals = table[name][m.key]
            if not vals:
                continue
            bench = benchmarks.setdefault(m.bench, {})
            entry = {"metric": f"{m.task}/{m.metric}", "label": m.label, **vals}
            if m.key == m.bench:  # the benchmark's main metric
                bench["main"] = entry
            elif m.metric == "disparity":
                bench["disparity"] = entry
            elif m.metric.startswith("acc_wg"):
                bench["worst_group"] = entry
            else:
                bench.setdefault("other", {})[m.metric] = entry
        models[name] = {
            "description": var.description,
            "phases": [list(p) for p in var.phases],
            "benchmarks": benchmarks,
        }
    return {
        "study": "No Filter (Pouget, Beyer et al. 2024) on the embedded synthetic world",
        "synthetic": True,
        "seed": seed,
        "seeds": sorted(results_by_seed),
        "config": config,
        "units": "fractions in [0, 1]; ci95 is a t interval over seeds, or a bootstrap "
        "interval over images when there is one seed",
        "models": models,
        "table": table,
        "findings": findings(table),
        "by_group": group_accuracy(results_by_seed, list(table)),
        "filter_audit": audit_summary(data) if data is not None else {},
    }
