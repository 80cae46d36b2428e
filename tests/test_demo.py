"""The No Filter study behind ``globelens demo``: settings, scheduling, the summary's
arithmetic, and one end-to-end ``--quick`` run whose main effects must come out of training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from globelens.experiments.nofilter import (
    PROFILES,
    STAGES,
    Study,
    model_variants,
    resolve_config,
    split_step,
    train_jobs,
)
from globelens.experiments.nofilter_summary import findings, mean_ci, metric_values, summarise

# ----------------------------------------------------------------------------- settings


def test_profiles_and_overrides() -> None:
    assert PROFILES["full"].seeds >= 3  # intervals over seeds need at least three
    assert PROFILES["quick"].seeds == 1
    cfg = resolve_config("quick", steps=7)
    assert cfg.steps == 7 and cfg.profile == "quick"
    with pytest.raises(ValueError, match="unknown profile 'huge'; available: full, quick"):
        resolve_config("huge")
    with pytest.raises(TypeError, match=r"unknown study setting\(s\) \['stepz'\]"):
        resolve_config("full", stepz=3)
    assert cfg.fingerprint(0) != cfg.fingerprint(1)
    assert resolve_config("quick", steps=8).fingerprint(0) != cfg.fingerprint(0)


def test_act_two_rescoring_does_not_retrain() -> None:
    """Act two's training stages depend on their own settings only: how the models are
    scored (pictures, classes per prompt) reruns the evaluation, not the training."""
    import dataclasses

    from globelens.experiments.generative_act import PROFILES as ACT_TWO

    cfg = ACT_TWO["quick"]
    rescored = dataclasses.replace(cfg, benchmarks=cfg.benchmarks[:1], classes_per_prompt=4)
    retrained = dataclasses.replace(cfg, steps=cfg.steps + 1)
    for stage in ("codec", "vlm_train"):
        assert rescored.fingerprint(stage) == cfg.fingerprint(stage)
    assert rescored.fingerprint("vlm_evaluate") != cfg.fingerprint("vlm_evaluate")
    assert retrained.fingerprint("vlm_train") != cfg.fingerprint("vlm_train")
    assert retrained.fingerprint("codec") == cfg.fingerprint("codec")
    assert dataclasses.replace(cfg, parallel=1).fingerprint("vlm_train") == cfg.fingerprint(
        "vlm_train"
    )
    # the quick model trains data-parallel: the same global batch, so not a new training
    assert cfg.ranks == 2
    assert dataclasses.replace(cfg, ranks=1).fingerprint("vlm_train") == cfg.fingerprint(
        "vlm_train"
    )


def test_gallery_counts_captions_that_name_an_object(tmp_path: Path) -> None:
    """A caption names an object when the object's whole name is among its words
    ("pot" is not in "potato"; "photo: stove" names the stove)."""
    from globelens.experiments.generative_act import gallery_named, names_an_object

    assert names_an_object("photo: cooking pot and bed", ["cooking pot"])
    assert names_an_object("Photo: Stove", ["stove"])
    assert not names_an_object("photo: potato", ["pot"])
    assert names_an_object("view of N Seoul Tower", ["N Seoul Tower", "bicycle"])
    cells = [
        {"labels": ["stove"], "models": {"a": {"caption": {"text": "sanca"},
                                               "caption_en": {"text": "photo: stove"}}}},
        {"labels": ["bed"], "models": {"a": {"caption": {"text": "photo: broom"}}}},
    ]  # fmt: skip
    path = tmp_path / "gallery.json"
    path.write_text(json.dumps({"cells": cells}))
    assert gallery_named(path, ("a",)) == {"a": [1, 2]}
    assert gallery_named(tmp_path / "none.json", ("a",)) == {}


def test_alt_text_prompts_are_the_crawls_english_templates() -> None:
    """``ALT_TEXT_TEMPLATES`` are the world's own English alt-text templates, so every token
    of a prompt is one the models trained on (benchmarks/RESULTS.md, "Seeds that agree")."""
    from globelens.experiments.nofilter import ALT_TEXT_TEMPLATES
    from globelens.world.lexicon import TEMPLATES

    assert ALT_TEXT_TEMPLATES and set(ALT_TEXT_TEMPLATES) <= set(TEMPLATES["en"])
    assert resolve_config("quick", templates=ALT_TEXT_TEMPLATES).templates == ALT_TEXT_TEMPLATES


def test_unknown_stage_is_named(tmp_path: Path) -> None:
    study = Study(tmp_path, resolve_config("quick"), progress=False)
    with pytest.raises(ValueError, match="unknown stage"):
        study.run(["train", "fly"])


def test_globe_then_en_continues_globe_at_the_phase_boundary(tmp_path: Path) -> None:
    variants = model_variants(0.2)
    assert list(variants) == ["en", "globe", "globe-tl", "globe→en", "globe-tl→en"]
    ge = variants["globe→en"]
    assert ge.phases == ((0.8, "globe"), (1.0, "en")) and ge.continues == "globe"
    assert variants["globe-tl→en"].continues == "globe-tl"
    study = Study(tmp_path, resolve_config("quick", steps=150, seeds=2), seed=5, progress=False)
    assert split_step(study, ge) == 120  # steps 0..119 on globe, 120..149 on en
    jobs = train_jobs(study)
    assert len(jobs) == 10 and [s for _, s, _, _ in jobs].count(5) == 5
    names = [(v.name, seed) for v, seed, _, _ in jobs]
    for seed in (5, 6):  # the parent is scheduled before its continuation
        assert names.index(("globe", seed)) < names.index(("globe→en", seed))
        assert names.index(("globe-tl", seed)) < names.index(("globe-tl→en", seed))
    by = {(v.name, seed): (cfg, split) for v, seed, cfg, split in jobs}
    cfg, split = by[("globe", 5)]
    assert cfg.checkpoint.every == 120 and split is None
    cfg, split = by[("globe→en", 5)]
    assert split == 120 and [s.name for s in cfg.data.sources] == ["globe", "en"]
    # Same seed, steps, batch, model and tokenizer for every variant: only the data differ.
    base = by[("en", 5)][0]
    for (_, seed), (c, _) in by.items():
        if seed == 5:
            assert (c.steps, c.batch_size, c.seed, c.optim.lr) == (
                base.steps, base.batch_size, base.seed, base.optim.lr,
            )  # fmt: skip
            assert c.model.preset == base.model.preset
            assert c.model.tokenizer == base.model.tokenizer


def test_scheduler_runs_parents_first_and_reraises_failures() -> None:
    from globelens.experiments.scheduler import Job, run_jobs

    started: list[str] = []
    finished: list[str] = []
    jobs = [
        Job("child", (2, 5), after="parent"),
        Job("parent", (2, 3)),
        Job("other", (3, 2)),
    ]
    results = run_jobs(
        jobs, pow, 2,
        on_start=lambda j: started.append(j.key),
        on_finish=lambda j, r, s: finished.append(j.key),
    )  # fmt: skip
    assert results == {"parent": 8, "other": 9, "child": 32}
    assert started.index("parent") < started.index("child")
    assert finished.index("parent") < started.index("child")
    with pytest.raises(ValueError, match=r"wait for unknown job\(s\) \['nope'\]"):
        run_jobs([Job("a", (1, 1), after="nope")], pow, 1)
    with pytest.raises(ZeroDivisionError):
        run_jobs([Job("bad", (0, -1))], pow, 1)


# ------------------------------------------------------------------------------ summary


def _result(model: str, bench: str, task: str, metrics: dict, groups: dict | None = None) -> dict:
    return {"model": model, "dataset": f"world/{bench}", "task": task, "metrics": metrics,
            "ci95": {k: [v - 0.05, v + 0.05] for k, v in metrics.items()},
            "groups": groups or {}}  # fmt: skip


def _fake_results(ds: dict[str, float], west: dict[str, float], disp: dict[str, float]) -> list:
    out = []
    for m in ds:
        groups = {"income_bucket": {"groups": {"$0-200": {"acc1": ds[m] - disp[m]},
                                               "$1998+": {"acc1": ds[m]}}}}  # fmt: skip
        out += [
            _result(m, "western", "zeroshot_classification", {"acc1": west[m]}),
            _result(m, "dollarstreet", "zeroshot_classification",
                    {"acc1": ds[m], "disparity": disp[m], "acc_wg": ds[m] - disp[m]}, groups),
            _result(m, "landmarks", "zeroshot_classification", {"acc1": ds[m] / 2}),
            _result(m, "geode", "zeroshot_classification", {"acc1": ds[m]}),
            _result(m, "geode", "fewshot_geolocalization", {"country_10shot": ds[m] / 3}),
        ]  # fmt: skip
    return out


def test_mean_ci_is_a_t_interval() -> None:
    mean, ci = mean_ci([0.1, 0.2, 0.3])
    assert mean == pytest.approx(0.2)
    # sd = 0.1, t(2) = 4.303: half width 4.303 * 0.1 / sqrt(3)
    assert ci == pytest.approx([0.2 - 0.24843, 0.2 + 0.24843], abs=1e-4)
    assert mean_ci([0.5])[1] is None


def test_summary_and_findings_follow_the_numbers() -> None:
    models = ["en", "globe", "globe-tl", "globe→en", "globe-tl→en"]
    by_seed = {
        0: _fake_results(
            ds={"en": 0.40, "globe": 0.50, "globe-tl": 0.48, "globe→en": 0.47, "globe-tl→en": 0.4},
            west={
                "en": 0.80,
                "globe": 0.70,
                "globe-tl": 0.72,
                "globe→en": 0.78,
                "globe-tl→en": 0.8,
            },
            disp={
                "en": 0.30,
                "globe": 0.20,
                "globe-tl": 0.22,
                "globe→en": 0.24,
                "globe-tl→en": 0.3,
            },
        ),
        1: _fake_results(
            ds={"en": 0.42, "globe": 0.50, "globe-tl": 0.47, "globe→en": 0.48, "globe-tl→en": 0.4},
            west={
                "en": 0.82,
                "globe": 0.70,
                "globe-tl": 0.71,
                "globe→en": 0.79,
                "globe-tl→en": 0.8,
            },
            disp={
                "en": 0.28,
                "globe": 0.22,
                "globe-tl": 0.21,
                "globe→en": 0.25,
                "globe-tl→en": 0.3,
            },
        ),
    }
    variants = list(model_variants(0.2).values())
    s = summarise(by_seed, variants, config={}, seed=0)
    assert list(s["models"]) == models and s["synthetic"] is True
    ds = s["models"]["en"]["benchmarks"]["dollarstreet"]
    assert ds["main"]["value"] == pytest.approx(0.41)
    assert ds["main"]["per_seed"] == pytest.approx([0.40, 0.42])
    assert ds["main"]["interval"] == "t over seeds"
    assert ds["disparity"]["value"] == pytest.approx(0.29)
    assert ds["worst_group"]["group"] == {"by": "income_bucket", "name": "$0-200",
                                          "acc1": pytest.approx(0.12)}  # fmt: skip
    f = s["findings"]
    # Both seeds agree, but two seeds' t interval (t = 12.7) reaches below zero: not robust.
    assert f["globe_beats_en_dollarstreet"]["status"] == "not robust"
    assert f["globe_beats_en_dollarstreet"]["holds"] is None
    assert f["globe_beats_en_dollarstreet"]["margin"] == pytest.approx(0.09)
    assert f["globe_beats_en_dollarstreet"]["per_seed"] == pytest.approx([0.10, 0.08])
    assert f["globe_smaller_disparity"]["margin"] == pytest.approx(0.08)
    assert f["en_beats_globe_western"]["margin"] == pytest.approx(0.11)
    # globe->en: Western 0.785 of the gap 0.70 -> 0.81: (0.785 - 0.70) / 0.11
    assert f["globe_then_en_recovers_western"]["margin"] == pytest.approx(0.085 / 0.11)
    assert f["globe_then_en_recovers_western"]["holds"]  # 3 points over half, on each seed
    assert f["globe_then_en_recovers_western"]["excess_per_seed"] == pytest.approx([0.03, 0.03])
    # global = mean(DS, landmarks = DS / 2) = 0.75 DS: gain 0.75 * 0.09, kept 0.75 * 0.065
    assert f["globe_then_en_keeps_global_gain"]["margin"] == pytest.approx(0.065 / 0.09)
    assert f["globe-tl_beats_en_dollarstreet"]["margin"] == pytest.approx(0.065)
    assert not f["globe-tl_then_en_keeps_global_gain"]["holds"]  # back to en's 0.40 / 0.40

    # The same arithmetic reports a reversed world as such.
    flipped = {0: _fake_results(
        ds={"en": 0.50, "globe": 0.40, "globe-tl": 0.4, "globe→en": 0.45, "globe-tl→en": 0.4},
        west={"en": 0.8, "globe": 0.8, "globe-tl": 0.8, "globe→en": 0.8, "globe-tl→en": 0.8},
        disp={"en": 0.2, "globe": 0.3, "globe-tl": 0.3, "globe→en": 0.3, "globe-tl→en": 0.3},
    )}  # fmt: skip
    f = summarise(flipped, variants, config={}, seed=0)["findings"]
    assert not f["globe_beats_en_dollarstreet"]["holds"]
    assert not f["globe_smaller_disparity"]["holds"]
    assert f["globe_then_en_keeps_global_gain"]["status"] == "n/a"  # globe lost: no gain
    one = metric_values(flipped, "en", __import__(
        "globelens.experiments.nofilter_summary", fromlist=["METRIC_BY_KEY"]
    ).METRIC_BY_KEY["dollarstreet"])  # fmt: skip
    assert one["interval"] == "bootstrap over images" and one["ci95"] == pytest.approx([0.45, 0.55])
    assert findings({}) == {}


VERDICTS = ("holds", "does not hold", "not robust", "no difference beyond the noise", "n/a")


@pytest.mark.parametrize(
    ("per_seed", "within_noise", "status"),
    [
        ([0.079, 0.096, 0.057], False, "holds"),  # globe-tl over en on Dollar Street, full
        ([0.010, 0.057, -0.011], False, "not robust"),  # one seed the other way
        ([0.097, -0.008, 0.011], False, "not robust"),
        ([0.02, 0.03, 0.25], False, "not robust"),  # one sign, but the interval reaches 0
        ([-0.053, -0.111, -0.084, -0.094], False, "does not hold"),
        ([0.05], False, "holds"),  # one seed: its sign, beyond the noise
        ([-0.05], False, "does not hold"),
        ([0.05], True, "no difference beyond the noise"),
        ([], False, "n/a"),
    ],
)
def test_one_verdict_rule_for_every_finding(
    per_seed: list[float], within_noise: bool, status: str
) -> None:
    """A finding "holds" only when every seed's margin is positive and the t interval of the
    mean margin excludes zero; the reverse is "does not hold"; anything else is "not
    robust". (Full demo, seed 7: "globe-tl has a smaller Dollar Street income disparity"
    printed "holds" with per-seed margins +1.0, +5.7, -1.1.)"""
    from globelens.experiments.verdicts import judge

    v = judge(per_seed, within_noise)
    assert v.status == status
    assert v.holds == {"holds": True, "does not hold": False}.get(status)


def test_a_claim_without_its_premise_is_na_never_holds() -> None:
    """Quick seed 4 once printed "[holds] globe-tl→en recovers most of the Western gap: n/a"
    (en had not beaten globe-tl) and "keeps ... 246%" (a share of a 1-point gain)."""
    from globelens.experiments.study_report import markdown_summary

    variants = list(model_variants(0.2).values())
    results = {0: _fake_results(
        # globe-tl beats en on Western (no gap); its global gain over en is 0.5 points
        ds={"en": 0.400, "globe": 0.50, "globe-tl": 0.405, "globe→en": 0.47, "globe-tl→en": 0.4},
        west={"en": 0.70, "globe": 0.60, "globe-tl": 0.72, "globe→en": 0.69, "globe-tl→en": 0.7},
        disp={"en": 0.3, "globe": 0.2, "globe-tl": 0.3, "globe→en": 0.2, "globe-tl→en": 0.3},
    )}  # fmt: skip
    summary = summarise(results, variants, config={}, seed=0)
    f = summary["findings"]
    rec, keep = f["globe-tl_then_en_recovers_western"], f["globe-tl_then_en_keeps_global_gain"]
    assert rec["status"] == "n/a" and rec["holds"] is None and rec["margin"] != rec["margin"]
    assert rec["reason"].startswith("no gap to recover") and rec["gap"] == pytest.approx(-0.02)
    assert keep["status"] == "n/a" and keep["reason"].startswith("no gain to keep")
    assert keep["gain"] == pytest.approx(0.00375)  # (0.005 + 0.0025) / 2: under two points
    assert rec["direction_matches"] is None  # no direction to compare with the paper's
    # With a gap: a share, defined over at least two points.
    assert f["globe_then_en_recovers_western"]["margin"] == pytest.approx(0.09 / 0.10)
    assert f["globe_then_en_recovers_western"]["status"] == "holds"
    # Every finding carries the paper's side; globe-tl's headline numbers are Table 1's.
    ds = f["globe-tl_beats_en_dollarstreet"]["paper"]
    assert (ds["a_value"], ds["b_value"], ds["margin"]) == (49.96, 48.52, 1.44)
    assert f["globe-tl_beats_en_dollarstreet"]["direction_matches"] is True
    assert f["en_beats_globe-tl_western"]["direction_matches"] is False  # globe-tl won here
    assert f["globe_beats_en_dollarstreet"]["paper"]["reported"] is False
    assert all("paper" in x and "direction_matches" in x for x in f.values())

    md = markdown_summary(summary, "report.html")
    row = next(line for line in md.splitlines() if "globe-tl→en recovers" in line)
    assert "| n/a: no gap to recover" in row and "holds" not in row.split("|")[2]
    assert "%" not in row.split("|")[3]  # no share of an absent gap
    assert "+1.4 points (globe-tl 49.96 vs en 48.52" in md


# --------------------------------------------------------------------------- end to end

# The directions the quick study (world v2, BPE tokenizer, 1 training seed, 800 steps, the
# temperature and bias at the base learning rate) gave on every seed measured (seeds 0, 1,
# 2, 11), with margins below the smallest value seen (points as fractions;
# benchmarks/RESULTS.md has the table). The study is deterministic for a seed on one
# platform; the slack is for other CPUs and library versions.
#   globe: better 10-shot GeoDE country probe          +20.4, +21.3, +17.7, +16.4  -> > 8
#   en: better on the Western set than globe           +15.0, +31.0, +18.5, +24.0  -> > 8
#   globe-tl: better on Dollar Street than en           +3.7,  +8.7, +10.5,  +3.1  -> > 2
#   globe: smaller Dollar Street disparity than en     +13.6, +16.5, +10.0,  +3.6  -> > 2
# and what fails on every seed (the raw multilingual model's blocked claims):
#   globe: better on Dollar Street than en              -5.3, -11.1,  -8.4,  -9.4  -> < -3
#   globe: better on GeoDE than en                      -9.0, -14.3,  -9.3, -15.7  -> < -5
# Not asserted, no consistent sign: globe-tl on GeoDE (+12.8, +1.7, +18.3, -0.7), globe-tl
# on landmarks (+20.4, +10.9, +13.5, -0.1), globe on landmarks (+16.1, -0.5, -0.8, +2.3).
QUICK_SEED = 11
# Act two (frozen towers, 300 steps), the same four quick seeds, percentages:
#   VQA accuracy, every tower                  45.4-50.3                      -> > 35
#   referring mIoU, every tower                 3.4-13.7                      -> > 2
#   VQA's worst income bucket, every tower     $0-200 or $201-684 (12 of 12)  -> one of the
#                                              two poorest
# No comparison between towers is robust: the one that keeps its sign on the four quick
# seeds, globe-tl over en on referring mIoU (+1.1, +0.9, +6.6, +1.0), reverses on the full
# world's seeds 1 and 2 (+1.1, -2.3, -1.5); detection mAP < 1% for every model (its
# comparisons are n/a). benchmarks/RESULTS.md, "Demo act two", has the tables.
ACT_TWO_FLOORS = {"world/vqa": 0.35, "world/refcoco": 0.02}
# The quick profile's one model (globe-tl tower, 900 steps x 96 on two processes) against
# itself on blank pictures (benchmarks/RESULTS.md, "Act two's recipe, continued"): captions
# CIDEr 71.8 against 7.8 blank on seed 11 (9.2x; 6.3x at batch 128, 3.1x / 4.5x at batch 32 on
# training seeds 11 / 12) -> >= 3x; VQA, referring and detection stay within a few points of
# their prior and are not asserted beyond ACT_TWO_FLOORS.
BLANK_RATIOS = {"world/captions": 3.0}
POOREST = ("$0-200", "$201-684")
MARGINS = {
    "globe_beats_en_geode_country_10shot": 0.08,
    "en_beats_globe_western": 0.08,
    "globe-tl_beats_en_dollarstreet": 0.02,
    "globe_smaller_disparity": 0.02,
}
FAILS_BY = {"globe_beats_en_dollarstreet": -0.03, "globe_beats_en_geode": -0.05}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_quick_end_to_end(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """``globelens demo --quick`` with a non-default seed: every artifact of both acts is
    written, the No Filter pattern comes out of training with the measured margins, and the
    report opens in Chromium without console errors."""
    from typer.testing import CliRunner

    from globelens.cli.main import app

    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--quick", "--seed", str(QUICK_SEED), "--out", str(out),
                                   "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"The report is at {(out / 'report.html').resolve()}" in res.output
    assert "| en |" in res.output and "| globe |" in res.output

    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic"] is True and summary["seeds"] == [QUICK_SEED]
    assert list(summary["models"]) == ["en", "globe", "globe-tl", "globe→en", "globe-tl→en"]
    for model in summary["models"].values():
        b = model["benchmarks"]
        assert {"western", "dollarstreet", "geode", "landmarks", "xm3600"} <= set(b)
        assert b["dollarstreet"]["disparity"]["value"] >= 0
        assert b["dollarstreet"]["worst_group"]["group"]["by"] == "income_bucket"
        assert b["geode"]["worst_group"]["group"]["by"] == "region"
        assert 0 <= b["western"]["main"]["value"] <= 1
        assert b["western"]["main"]["interval"] == "bootstrap over images"

    f = summary["findings"]
    for name, margin in MARGINS.items():
        assert f[name]["margin"] > margin, (name, f[name])
    for name, margin in FAILS_BY.items():
        assert f[name]["status"] == "does not hold" and f[name]["margin"] < margin, f[name]

    html = (out / "report.html").read_text()
    for text in ("This world is synthetic", "Table 1", "Look-alike landmarks", "Milad Tower",
                 "filter audit", "Accuracy by income", "Few-shot geo-localization"):  # fmt: skip
        assert text in html, text
    # The README's pipeline snippet loads the demo's 16-token models.
    from PIL import Image
    from transformers import pipeline

    classify = pipeline("zero-shot-image-classification",
                        model=str(out / "runs" / f"en_seed{QUICK_SEED}" / "model"))  # fmt: skip
    scores = classify(Image.new("RGB", (96, 96), "red"), candidate_labels=["bus", "dog"])
    assert {r["label"] for r in scores} == {"bus", "dog"}

    events = [json.loads(line)["event"] for line in (out / "demo_log.jsonl").open()]
    assert events[0] == "study_start" and events[-1] == "study_end"
    assert events.count("trained") == 5
    assert events.count("vlm_trained") == 1  # one model, trained longer, in the quick profile

    # The study's result as figures, saved beside summary.json and inlined in the report.
    assert {"dollarstreet", "geode"} <= set(summary["by_group"])
    for stem in ("accuracy_by_income", "accuracy_by_region", "finding_margins"):
        assert (out / f"{stem}.png").stat().st_size > 0 and (out / f"{stem}.svg").is_file()
        assert f'id="{stem}"' in html, stem
    _check_act_two(out, summary, html, res.output)
    _report_opens_in_chromium(out / "report.html", request)

    # A second run skips every finished stage.
    res = CliRunner().invoke(app, ["demo", "--quick", "--seed", str(QUICK_SEED), "--out", str(out),
                                   "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    events = [json.loads(line)["event"] for line in (out / "demo_log.jsonl").open()]
    assert events.count("stage_skipped") == len(STAGES)


def _report_opens_in_chromium(path: Path, request: pytest.FixtureRequest) -> None:
    """Without Chromium only this check is left out (the rest of the run still counts)."""
    try:
        chrome = request.getfixturevalue("chrome")
    except pytest.skip.Exception as why:
        print(f"report not opened in a browser: {why}")
        return
    from conftest import console_errors

    chrome.get(path.resolve().as_uri())
    assert chrome.find_element("tag name", "h1").text
    assert console_errors(chrome) == []


def _check_act_two(out: Path, summary: dict, html: str, output: str) -> None:
    """Every generative task has a result for every tower and every group; the gallery
    holds every model's words and drawings; serve finds the demo's models."""
    from globelens.evaluate import load_results
    from globelens.experiments import generative_act as act_two
    from globelens.serve.models import discover

    towers = ["globe-tl"]  # the quick profile trains one model; the full one compares towers
    gen = summary["generative"]
    assert gen["seeds"] == [QUICK_SEED] and list(gen["table"]) == towers
    results = load_results(out / "results_generative" / f"seed{QUICK_SEED}")
    for tower in towers:
        for bench, (task, metric, _) in act_two.BENCHMARKS.items():
            (r,) = [x for x in results if (x["model"], x["dataset"], x["task"]) ==
                    (tower, bench, task)]  # fmt: skip
            assert metric in r["metrics"], (tower, bench)
            for key in ("income_bucket", "region"):
                groups = r["groups"][key]["groups"]
                assert len(groups) >= 2 and all(metric in g for g in groups.values()), key
            cell = gen["table"][tower][bench]
            assert cell["value"] is not None and cell["disparity"] is not None, (tower, bench)
    for bench in ("world/captions", "world/vqa"):  # language groups where text has one
        r = next(x for x in results if x["dataset"] == bench)
        assert len(r["groups"]["language"]["groups"]) >= 2
    assert gen["findings"] == {} and act_two.ONE_TOWER in output
    for bench, (task, _, _) in act_two.BENCHMARKS.items():  # the prior-only baseline
        (r,) = [x for x in results if (x["dataset"], x["task"]) == (f"{bench}?{act_two.BLANK}",
                                                                    task)]  # fmt: skip
        assert "pictures=blank" in r["protocol"]
        assert gen["table"]["globe-tl"][bench]["blank"] is not None, bench
    for bench, ratio in BLANK_RATIOS.items():  # what the picture earned
        cell = gen["table"]["globe-tl"][bench]
        assert cell["value"] >= ratio * cell["blank"], (bench, cell["value"], cell["blank"])
    assert "on blank pictures" in output
    for bench, floor in ACT_TWO_FLOORS.items():  # every tower learns more than a format
        assert all(gen["table"][t][bench]["value"] > floor for t in towers), bench
    worst = {gen["table"][t]["world/vqa"]["worst_income"] for t in towers}
    assert worst <= set(POOREST), worst  # every VQA model serves the poorest homes worst
    gallery = json.loads((out / "gallery.json").read_text())
    assert len(gallery["cells"]) >= 4
    assert gen["gallery_named"]["globe-tl"][1] == len(gallery["cells"])
    assert "names an object of the picture" in html
    for cell in gallery["cells"]:
        assert set(cell["models"]) == set(towers)
        for m in cell["models"].values():
            assert {"caption", "answer", "detect", "segment"} <= set(m)
            assert m["detect"]["drawing"].startswith("data:image/webp;base64,")
    for text in ("Act two: generative models on the same towers", "Act two: the gallery",
                 "whom the model serves", "Referring segmentation"):  # fmt: skip
        assert text in html, text
    assert "## Act two" in output and f"globelens serve {out}" in output
    assert "globelens ask " in output
    found = {(s.name, s.kind) for s in discover([str(out)])}
    for tower in towers:
        assert (f"vlm/{tower}_seed{QUICK_SEED}", "generator") in found
    for tower in ("en", "globe", "globe-tl"):
        assert (f"runs/{tower}_seed{QUICK_SEED}", "dual_encoder") in found
