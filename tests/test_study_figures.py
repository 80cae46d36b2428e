"""The study's result as figures: accuracy by income and by region per model with intervals,
and each finding's per-seed margin, saved beside ``summary.json`` and shown in the report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from globelens.experiments.nofilter import model_variants
from globelens.experiments.nofilter_summary import summarise
from globelens.experiments.study_report import STUDY_FIGURES, figures_html
from globelens.groups import INCOME_BUCKET_NAMES
from globelens.report import render_report

MODELS = ("en", "globe", "globe-tl", "globe→en", "globe-tl→en")
REGIONS = ("Africa", "EastAsia", "Europe", "WestAsia")


def _result(model: str, bench: str, task: str, metrics: dict, groups: dict | None = None) -> dict:
    return {"model": model, "dataset": f"world/{bench}", "task": task, "metrics": metrics,
            "groups": groups or {}}  # fmt: skip


def _groups(field: str, names: tuple[str, ...], base: float, step: float) -> dict:
    groups = {}
    for i, name in enumerate(names):
        acc = base + step * i
        groups[name] = {"acc1": acc, "acc1_ci95": [acc - 0.05, acc + 0.05], "n": 40}
    return {field: {"groups": groups}}


def _results(seed: int) -> list[dict]:
    """A study's results: the richer the household the better, en more so than the others."""
    out = []
    for k, model in enumerate(MODELS):
        slope = 0.10 if model == "en" else 0.04
        base = 0.20 + 0.02 * k + 0.01 * seed * (k + 1)  # seeds disagree more for some models
        ds = _groups("income_bucket", INCOME_BUCKET_NAMES, base, slope)
        geode = _groups("region", REGIONS, base + 0.1, 0.03)
        out += [
            _result(model, "western", "zeroshot_classification", {"acc1": 0.8 - 0.05 * k}),
            _result(model, "dollarstreet", "zeroshot_classification",
                    {"acc1": base + 0.1, "disparity": 3 * slope, "acc_wg": base}, ds),
            _result(model, "landmarks", "zeroshot_classification", {"acc1": base}),
            _result(model, "geode", "zeroshot_classification", {"acc1": base + 0.15}, geode),
            _result(model, "geode", "fewshot_geolocalization", {"country_10shot": base / 2}),
        ]  # fmt: skip
    return out


@pytest.fixture(scope="module")
def summary() -> dict:
    variants = list(model_variants(0.2).values())
    return summarise({0: _results(0), 1: _results(1)}, variants, config={}, seed=0)


def test_summary_holds_accuracy_by_group_over_seeds(summary: dict) -> None:
    income = summary["by_group"]["dollarstreet"]
    assert income["by"] == "income_bucket" and list(income["models"]) == list(MODELS)
    poorest = income["models"]["en"][INCOME_BUCKET_NAMES[0]]
    assert poorest["per_seed"] == pytest.approx([0.20, 0.21])
    assert poorest["value"] == pytest.approx(0.205)
    assert poorest["interval"] == "t over seeds"
    # sd of (0.20, 0.21) = 0.00707; t(1) = 12.706: half width 12.706 * 0.00707 / sqrt(2)
    assert poorest["ci95"] == pytest.approx([0.205 - 0.06353, 0.205 + 0.06353], abs=1e-4)
    region = summary["by_group"]["geode"]
    assert region["by"] == "region" and set(region["models"]["globe"]) == set(REGIONS)
    # One seed: the bootstrap interval over images of that seed.
    one = summarise({0: _results(0)}, list(model_variants(0.2).values()), config={}, seed=0)
    africa = one["by_group"]["geode"]["models"]["en"]["Africa"]
    assert africa["interval"] == "bootstrap over images"
    assert africa["ci95"] == pytest.approx([0.25, 0.35])


def test_figures_are_saved_beside_the_summary_and_shown_in_the_report(
    summary: dict, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    section = figures_html(summary, tmp_path)
    for spec in STUDY_FIGURES:
        png, svg = tmp_path / f"{spec.stem}.png", tmp_path / f"{spec.stem}.svg"
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), spec.stem
        assert ET.parse(svg).getroot().tag.endswith("svg"), spec.stem
        assert f'id="{spec.stem}"' in section and f'href="{spec.stem}.svg"' in section
    assert section.count('src="data:image/png;base64,') == len(STUDY_FIGURES)
    assert "95% t interval over 2 training seeds" in section
    # The SVG is a function of the data: the same summary draws the same bytes.
    first = (tmp_path / "finding_margins.svg").read_bytes()
    figures_html(summary, tmp_path)
    assert (tmp_path / "finding_margins.svg").read_bytes() == first

    page = tmp_path / "report.html"
    page.write_text(render_report([], "study", [("The result in figures", section)]))
    try:
        chrome = request.getfixturevalue("chrome")
    except pytest.skip.Exception as why:
        pytest.skip(f"figures checked; the page not opened in a browser: {why}")
    from conftest import console_errors

    chrome.get(page.as_uri())
    images = chrome.find_elements("css selector", "figure.fig img")
    assert len(images) == len(STUDY_FIGURES)
    # Every image decoded and laid out at a readable width.
    assert all(chrome.execute_script("return arguments[0].naturalWidth", i) > 300 for i in images)
    assert console_errors(chrome) == []


def test_a_summary_without_groups_draws_what_it_has(tmp_path: Path) -> None:
    """A summary.json written before the groups were recorded still gets its margins."""
    variants = list(model_variants(0.2).values())
    summary = summarise({0: _results(0), 1: _results(1)}, variants, config={}, seed=0)
    del summary["by_group"]
    section = figures_html(summary, tmp_path)
    assert 'id="finding_margins"' in section and "accuracy_by_income" not in section
    assert figures_html({"seeds": [0], "findings": {}}, tmp_path) == ""
