"""What the study's report shows, gathered from the study's folder: ``report.html`` (rendered
by :mod:`globelens.report.study` and :func:`globelens.report.write_report`) and the Markdown
summary for the terminal."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globelens.curate import audit_data, compare_figure
from globelens.data.images import data_uri, thumbnail_data_uri
from globelens.evaluate import load_benchmark
from globelens.experiments.nofilter_summary import METRIC_BY_KEY
from globelens.experiments.study import Study
from globelens.experiments.verdicts import MIN_MARGIN
from globelens.report import figure_to_data_uri, plots, write_report
from globelens.report import study as pages
from globelens.report.study import finding_match, finding_ours, finding_paper, finding_status

#: Table 1's columns in the report and the terminal (keys of METRICS).
TABLE_KEYS: tuple[str, ...] = (
    "western",
    "dollarstreet",
    "dollarstreet_disparity",
    "dollarstreet_worst",
    "geode",
    "geode_worst",
    "landmarks",
    "xm3600_i2t",
    "xm3600_t2i",
    "geode_country_10shot",
    "geode_region_10shot",
)
MARKDOWN_KEYS: tuple[str, ...] = (
    "western",
    "dollarstreet",
    "dollarstreet_disparity",
    "geode",
    "landmarks",
    "xm3600_i2t",
    "geode_country_10shot",
)

#: The paper's Figure 1 example, always shown whatever the models do with it.
SPOTLIGHT = "Milad Tower"


def _cell(vals: dict[str, Any]) -> str:
    """A metric ± half its 95% interval, as text."""
    cell = pages.value_cell(vals)
    return cell["value"] + (f" ± {cell['half']}" if cell["half"] is not None else "")


def _group_figure(bench: str, title: str, draw: Callable[..., Any]) -> Callable[..., Any]:
    """A drawer of ``summary["by_group"][bench]``: one line or bar colour per model."""

    def figure(summary: dict[str, Any]) -> Any | None:
        entry = summary.get("by_group", {}).get(bench)
        if not entry:
            return None
        series = {
            model: {g: {"acc1": v["value"], "acc1_ci95": v.get("ci95")} for g, v in gs.items()}
            for model, gs in entry["models"].items()
        }
        return draw(series, entry["by"], title)

    return figure


def _margins_figure(summary: dict[str, Any]) -> Any | None:
    # Shares of a gap have no per-seed values (they are ratios of means): the table has them.
    margins = [
        plots.Margin(f["statement"], f["per_seed"], f["margin"], f.get("ci95"), f["holds"])
        for f in summary.get("findings", {}).values()
        if f.get("per_seed")
    ]
    if not margins:
        return None
    return plots.margins_figure(
        margins, "margin (accuracy or disparity points)", "Each finding's margin, per seed"
    )


@dataclass(frozen=True)
class StudyFigure:
    """One figure of the study's result, saved as ``<stem>.png`` and ``<stem>.svg`` beside
    ``summary.json`` and drawn from it alone."""

    stem: str
    caption: str
    #: summary -> matplotlib figure, or None when the summary lacks what it draws
    draw: Callable[[dict[str, Any]], Any | None]


STUDY_FIGURES: tuple[StudyFigure, ...] = (
    StudyFigure(
        "accuracy_by_income",
        "Dollar Street zero-shot top-1 by monthly household income (USD PPP), one line per "
        "model; the No Filter paper's headline figure.",
        _group_figure("dollarstreet", "Dollar Street: top-1 by income", plots.group_lines_figure),
    ),
    StudyFigure(
        "accuracy_by_region",
        "GeoDE zero-shot top-1 by region, one bar per model.",
        _group_figure("geode", "GeoDE: top-1 by region", plots.group_bars_figure),
    ),
    StudyFigure(
        "finding_margins",
        "The margin of each finding measured per seed (a paired difference; right of zero: "
        "it holds). Dots: one training seed each; diamonds: the mean with its interval. "
        "Findings stated as a share of a gap are in the findings table only.",
        _margins_figure,
    ),
)


def _interval_note(summary: dict[str, Any]) -> str:
    n = len(summary.get("seeds", []))
    if n >= 2:
        return f"Error bars: 95% t interval over {n} training seeds."
    return "Error bars: 95% bootstrap interval over images (one training seed)."


def write_figures(summary: dict[str, Any], out_dir: Path) -> list[tuple[StudyFigure, list[Path]]]:
    """Draw every figure the summary has data for into ``out_dir``; returns each figure
    with its saved paths (PNG first)."""
    saved = []
    for spec in STUDY_FIGURES:
        fig = spec.draw(summary)
        if fig is None:
            continue
        saved.append((spec, plots.save_figure(fig, out_dir / spec.stem)))
    return saved


def figures_html(summary: dict[str, Any], out_dir: Path) -> str:
    """The study's figures, written beside ``summary.json`` in ``out_dir`` and inlined
    (the report stays one self-contained file), each with links to its PNG and SVG."""
    saved = [
        pages.SavedFigure(
            spec.stem, spec.caption, data_uri(paths[0].read_bytes(), "image/png"), paths
        )
        for spec, paths in write_figures(summary, out_dir)
    ]
    return pages.figures_html(_interval_note(summary), saved)


def audit_html(data_dir: Path) -> str:
    """What the en and globe curations keep of the crawl, from their audits."""
    audits = {}
    for name in ("en", "globe"):
        try:
            audits[name] = audit_data(data_dir / name)
        except FileNotFoundError:
            continue
    if "en" not in audits:
        return pages.audit_html(None, [], [])
    en = audits["en"]
    figures = [
        (field, figure_to_data_uri(compare_figure(audits, field=field)))
        for field in ("region", "income_bucket", "language")
    ]
    rows = [
        [field.replace("_", " "), value, str(d["in"]), str(d["kept"]), pages.share(d["fraction"])]
        for field in ("region", "income_bucket")
        for value, d in en["overall"].get(field, {}).items()
    ]
    return pages.audit_html(en["headline"], figures, rows)


def landmark_predictions(study: Study, seed: int) -> tuple[Any, dict[str, Any]]:
    """(benchmark, {model: predicted class per record}) on the landmark set, read from what
    the evaluation wrote (no model is loaded, nothing is embedded again)."""
    bench = load_benchmark("world/landmarks", str(study.world))
    preds: dict[str, Any] = {}
    for r in study.load_results()[seed]:
        if (r["dataset"], r["task"]) == ("world/landmarks", "zeroshot_classification"):
            if len(r.get("predictions", [])) != len(bench.records):
                raise ValueError(
                    f"{r['model']}: the landmark results hold no predictions for this world's "
                    "landmark set; run the evaluate stage again"
                )
            preds[r["model"]] = r["predictions"]
    return bench, {m: preds[m] for m in study.variants if m in preds}


def lookalike_html(study: Study, seed: int) -> str:
    """Per look-alike family: each landmark's accuracy per model and what it is mistaken for;
    thumbnails of the spotlight landmark with every model's answer."""
    families_path = study.world / "benchmarks" / "landmarks" / "look_alikes.json"
    if not families_path.is_file():
        return pages.lookalike_html(None, seed, [], [], None)
    families: dict[str, list[str]] = json.loads(families_path.read_text(encoding="utf-8"))
    bench, preds = landmark_predictions(study, seed)
    names = bench.classnames
    by_true: dict[str, list[int]] = {}
    for i, rec in enumerate(bench.records):
        by_true.setdefault(names[rec.labels[0]], []).append(i)
    country = {rec.meta.get("landmark"): rec.meta.get("country", "") for rec in bench.records}
    rows = [
        {"landmark": lm, "country": country.get(lm, ""), "family": family,
         "cells": [_lookalike_cell(preds[m], by_true[lm], names, lm) for m in preds]}
        for family, members in families.items()
        for lm in members
        if by_true.get(lm)
    ]  # fmt: skip
    spot = by_true.get(SPOTLIGHT, [])[:6]
    spotlight = None
    if spot:
        images = bench.read_images(spot)
        spotlight = pages.Spotlight(SPOTLIGHT, [
            {"uri": thumbnail_data_uri(images[i]),
             "answers": [_answer(m, int(preds[m][i]), names) for m in preds]}
            for i in spot if i in images
        ])  # fmt: skip
    return pages.lookalike_html(families, seed, list(preds), rows, spotlight)


def _lookalike_cell(pred: Any, idx: list[int], names: list[str], landmark: str) -> dict[str, Any]:
    """One model on one landmark: the share named right and the most frequent mistake."""
    p = [int(pred[i]) for i in idx if pred[i] >= 0]
    acc = sum(1 for x in p if names[x] == landmark) / max(1, len(p))
    wrong = Counter(names[x] for x in p if names[x] != landmark).most_common(1)
    return {"share": pages.share(acc), "wrong": wrong[0][0] if wrong else None,
            "count": wrong[0][1] if wrong else 0}  # fmt: skip


def _answer(model: str, pred: int, names: list[str]) -> dict[str, Any]:
    guess = names[pred] if pred >= 0 else "?"
    return {"model": model, "guess": guess, "right": guess == SPOTLIGHT}


def write_study_report(study: Study, summary: dict[str, Any]) -> Path:
    """``out/report.html``: the study's sections, then globelens' standard report sections
    (income, disparity, regions, few-shot, retrieval, confusions) for the first seed."""
    first = summary["seeds"][0]
    results = study.load_results()[first]
    table1 = pages.table1_html(summary, TABLE_KEYS, [METRIC_BY_KEY[k].label for k in TABLE_KEYS])
    sections = [
        ("Table 1: the models side by side", table1),
        ("The result in figures", figures_html(summary, study.out)),
        ("Look-alike landmarks", lookalike_html(study, first)),
        ("The filter audit: whom English-only filtering removes", audit_html(study.data)),
    ]
    sections.append(("Per-group results", pages.seed_note_html(first)))
    # the other acts' sections (act two's), before act one's details
    sections[4:4] = [s for part in study.registry.report_parts for s in part(study, summary)]
    return write_report(
        study.results / f"seed{first}",
        study.out / "report.html",
        title="The No Filter study on a synthetic world",
        extra_sections=sections,
        intro_html=pages.intro_html(summary, pages.findings_html(summary, MIN_MARGIN)),
        results=results,
    )


def markdown_summary(summary: dict[str, Any], report: Path | str) -> str:
    """Table 1 and the findings as Markdown, for the terminal."""
    table = summary["table"]
    n = len(summary["seeds"])
    cols = [METRIC_BY_KEY[k].label for k in MARKDOWN_KEYS]
    lines = [
        "## The No Filter study on a synthetic world",
        "",
        f"Percentages, {'mean ± half 95% t interval over ' + str(n) + ' seeds' if n > 1 else 'one seed ± half 95% bootstrap interval'}."
        " The world is synthetic: this shows the mechanism at toy scale, not real-world sizes.",
        "",
        "| model | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for m in summary["models"]:
        lines.append(
            f"| {m} | " + " | ".join(_cell(table[m].get(k, {})) for k in MARKDOWN_KEYS) + " |"
        )
    lines += [
        "",
        "Findings, beside the No Filter paper's own numbers (accuracy points; our Western set "
        "stands for ImageNet, our landmarks for GLDv2):",
        "",
        "| finding | here | ours | paper | direction |",
        "|---|---|---|---|---|",
    ]
    for f in summary["findings"].values():
        cells = (f["statement"], finding_status(f), finding_ours(f), finding_paper(f),
                 finding_match(f))  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    lines += ["", f"Report: {report}"]
    return "\n".join(lines) + "\n"
