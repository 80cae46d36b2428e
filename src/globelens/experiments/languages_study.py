"""The study's languages-and-cultures tables (``globelens demo --languages``): every trained
tower, every seed, scored on the world's Babel-ImageNet (top-1 per language, over each
language's partial label set) and CVQA (option by cosine, LOCAL and English versions).
Does ``globe`` keep the world's languages that ``en`` loses?

Run after the study's towers are trained; it reads their folders, adds nothing to the default
demo's time, and writes ``OUT/languages.json`` and ``OUT/languages.md``. Image and text
embeddings go to the study's cache, so a second run only re-reads them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from globelens.evaluate import load_results, run_suite
from globelens.experiments.generative_act import vlm_dir
from globelens.experiments.study import STUDY, Study
from globelens.report.render import pct
from globelens.world.language_sets import write_language_sets

#: the contrastive sets of the pack (grounding needs a generative model)
LANGUAGE_SETS = ("world/babel", "world/cvqa")
#: act two's generative models: CVQA by letter and grounding
GENERATIVE_SETS = ("world/cvqa", "world/grounding")
#: records of each set act two's models answer (generation is the slow part on CPU)
GENERATIVE_LIMIT = 300
#: (task, metric) -> the column it fills: the towers' CVQA, then act two's columns
CVQA_COLUMNS = {("multiple_choice", "acc_local"): "CVQA LOCAL",
                ("multiple_choice", "acc_en"): "CVQA English"}  # fmt: skip
ACT_TWO_COLUMNS = {
    ("multiple_choice_by_generation", "acc_local"): "CVQA LOCAL (letter)",
    ("multiple_choice_by_generation", "acc_en"): "CVQA English (letter)",
    ("multiple_choice_by_generation", "invalid_rate"): "CVQA invalid",
    ("grounding", "grounding_acc"): "grounding IoU≥0.5",
    ("grounding", "invalid_rate"): "grounding invalid",
}


def _stats(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if x == x], float)  # NaN: a language with no picture
    if v.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "values": []}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "values": [float(x) for x in v]}  # fmt: skip


def summarise_languages(
    results_by_seed: dict[int, list[dict[str, Any]]], variants: Sequence[str]
) -> dict[str, Any]:
    """Per model: each language's top-1, the mean over languages and the worst language's,
    CVQA LOCAL and English; each as mean and standard deviation over seeds."""
    out: dict[str, Any] = {}
    for name in variants:
        per_lang: dict[str, list[float]] = {}
        heads: dict[str, list[float]] = {}
        for results in results_by_seed.values():
            for r in results:
                if r.get("model") != name:
                    continue
                if r["task"] == "multilingual_zeroshot":
                    for lang, m in r["languages"].items():
                        per_lang.setdefault(lang, []).append(m["acc1"])
                    heads.setdefault("mean", []).append(r["metrics"]["acc1"])
                    heads.setdefault("worst", []).append(r["metrics"]["worst_language_acc1"])
                for (task, metric), label in {**CVQA_COLUMNS, **ACT_TWO_COLUMNS}.items():
                    if r["task"] == task and metric in r["metrics"]:
                        heads.setdefault(label, []).append(r["metrics"][metric])
        out[name] = {
            "languages": {lang: _stats(v) for lang, v in sorted(per_lang.items())},
            **{k: _stats(v) for k, v in heads.items()},
        }
    return out


def _cell(s: dict[str, Any] | None) -> str:
    if not s or s["mean"] != s["mean"]:
        return "-"
    sd = f" ± {pct(s['sd'])}" if len(s["values"]) > 1 else ""
    return f"{pct(s['mean'])}{sd}"


def markdown(summary: dict[str, Any], seeds: int) -> str:
    names = list(summary)
    langs = sorted({lang for v in summary.values() for lang in v["languages"]})
    spread = "mean ± sd over seeds" if seeds > 1 else "one seed"
    lines = [f"## Per-language zero-shot (world/babel, top-1 %, {spread})", "",
             "| language | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]  # fmt: skip
    for lang in langs:
        cells = [_cell(summary[n]["languages"].get(lang)) for n in names]
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    for key, label in (("mean", "**mean over languages**"), ("worst", "**worst language**")):
        lines.append(f"| {label} | " + " | ".join(_cell(summary[n].get(key)) for n in names) + " |")
    lines += ["", f"## CVQA, LOCAL and English (world/cvqa, option by cosine, %, {spread})", "",
              "| model | " + " | ".join(CVQA_COLUMNS.values()) + " |", "|---|---:|---:|"]  # fmt: skip
    for n in names:
        lines.append(
            f"| {n} | " + " | ".join(_cell(summary[n].get(k)) for k in CVQA_COLUMNS.values()) + " |"
        )
    return (
        "\n".join(lines) + "\n\nThe world is synthetic: these show the mechanism, not real sizes.\n"
    )


def markdown_act_two(summary: dict[str, Any]) -> str:
    if not summary:
        return ""
    lines = [f"## Act two: CVQA by letter and cultural grounding (first {GENERATIVE_LIMIT} "
             "pictures of each set, %)", "",
             "| model | " + " | ".join(ACT_TWO_COLUMNS.values()) + " |",
             "|---|" + "---:|" * len(ACT_TWO_COLUMNS)]  # fmt: skip
    for n, m in summary.items():
        lines.append(
            f"| {n} | " + " | ".join(_cell(m.get(k)) for k in ACT_TWO_COLUMNS.values()) + " |"
        )
    return "\n" + "\n".join(lines) + "\n"


def _act_two_models(study: Study) -> list[tuple[str, str]]:
    """(name, folder) of act two's trained generative models, where the study made them."""
    found = []
    for tower in study.variants:
        for seed in study.seeds:
            p = vlm_dir(study, tower, seed) / "model"
            if (p / "config.json").is_file():
                found.append((f"{tower} + decoder, seed {seed}", str(p)))
    return found


def evaluate_languages(study: Study) -> dict[str, Any]:
    """Score every tower of ``study`` on :data:`LANGUAGE_SETS`; write the JSON and tables."""
    if not (study.world / "benchmarks" / "babel").is_dir():  # a world built before the sets
        write_language_sets(study.world, study.seed)
    names = list(study.variants)
    results: dict[int, list[dict[str, Any]]] = {}
    for seed in study.seeds:
        out = study.out / "results_languages" / f"seed{seed}"
        study.log.say(f"languages: seed {seed}: {', '.join(names)} on {', '.join(LANGUAGE_SETS)}")
        run_suite([str(study.model_dir(v, seed)) for v in names], list(LANGUAGE_SETS), out,
                  model_names=names, data_root=str(study.world),
                  n_bootstrap=study.config.n_bootstrap, seed=seed, cache_dir=str(study.cache),
                  progress=False)  # fmt: skip
        results[seed] = load_results(out)
    summary = summarise_languages(results, names)
    act_two: dict[str, Any] = {}
    if vlms := _act_two_models(study):
        out = study.out / "results_languages" / "act_two"
        study.log.say(f"languages: act two's {len(vlms)} models on {', '.join(GENERATIVE_SETS)}")
        run_suite([p for _, p in vlms], list(GENERATIVE_SETS), out,
                  model_names=[n for n, _ in vlms], data_root=str(study.world),
                  n_bootstrap=study.config.n_bootstrap, seed=study.seed,
                  cache_dir=str(study.cache), limit=GENERATIVE_LIMIT, progress=False)  # fmt: skip
        act_two = summarise_languages({0: load_results(out)}, [n for n, _ in vlms])
    (study.out / "languages.json").write_text(
        json.dumps({"seeds": study.seeds, "models": summary, "act_two": act_two}, indent=1,
                   ensure_ascii=False) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    md = markdown(summary, len(study.seeds)) + markdown_act_two(act_two)
    (study.out / "languages.md").write_text(md, encoding="utf-8")
    return {"models": summary, "markdown": md}


@STUDY.stage("languages", 110, optional=True)
def stage_languages(study: Study) -> dict[str, Any]:
    """The pack as a stage of the study (``globelens demo --languages``)."""
    evaluate_languages(study)
    return {"tables": str(study.out / "languages.md")}
