"""`globelens eval` and `globelens report` end to end on a real tiny SigLIP model."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from eval_factory import write_world
from typer.testing import CliRunner

from conftest import console_errors
from globelens.cli.main import app

runner = CliRunner()


def test_eval_then_report_in_headless_chromium(
    tiny_model_dir: Path, tmp_path: Path, chrome
) -> None:
    world = write_world(tmp_path / "world")
    out = tmp_path / "results"
    benches = "world/western,world/dollarstreet,world/geode,world/landmarks,world/xm3600"
    args = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--benchmarks",
        benches,
        "--data-root",
        str(world),
    ]
    args += ["--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--bootstrap", "100"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "world/dollarstreet" in r.output and "disparity" in r.output  # the printed table
    name = tiny_model_dir.name
    ds = json.loads((out / f"{name}__world_dollarstreet__zeroshot_classification.json").read_text())
    # CLIP_benchmark-compatible keys plus the group metrics.
    assert {"dataset", "model", "task", "metrics", "language"} <= set(ds)
    assert {"acc1", "acc5", "mean_per_class_recall", "disparity", "acc_top5_wg"} <= set(
        ds["metrics"]
    )
    assert set(ds["groups"]["income_bucket"]["groups"]) == {
        "$0-200",
        "$201-684",
        "$685-1997",
        "$1998+",
    }
    assert ds["confusions"] and ds["confusions"][0]["examples"][0]["thumbnail"].startswith(
        "data:image/jpeg"
    )
    xm = json.loads((out / f"{name}__world_xm3600__zeroshot_retrieval.json").read_text())
    assert "image_retrieval_recall@1" in xm["metrics"] and set(xm["languages"]) == {
        "en",
        "fr",
        "ar",
    }
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert len(rows) == 7 and {r["task"] for r in rows} == {
        "zeroshot_classification",
        "zeroshot_retrieval",
        "fewshot_geolocalization",
    }
    # A second run finds the cached image embeddings.
    r2 = runner.invoke(app, [*args, "--templates", str(_templates(tmp_path))])
    assert r2.exit_code == 0, r2.output
    ds2 = json.loads(
        (out / f"{name}__world_dollarstreet__zeroshot_classification.json").read_text()
    )
    assert ds2["timing"]["image_embeddings_cached"] and ds2["num_templates"] == 2

    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3  # income lines, disparity, region bars
    assert "Accuracy by income" in html and "Top confusions" in html
    assert "http://" not in html and "https://" not in html  # self-contained
    chrome.get((out / "report.html").as_uri())
    assert "globelens" in chrome.title
    assert console_errors(chrome) == []


def _templates(tmp_path: Path) -> Path:
    p = tmp_path / "templates.txt"
    p.write_text("a photo of a {c}.\n{c}\n")
    return p


def test_wrong_input_fails_fast(tiny_model_dir: Path, tmp_path: Path) -> None:
    world = write_world(tmp_path / "world")
    r = runner.invoke(
        app, ["eval", "-m", str(tiny_model_dir), "-b", "world/nope", "--data-root", str(world)]
    )
    assert r.exit_code == 2 and "unknown benchmark 'world/nope'" in r.output
    assert "world/geode" in r.output  # lists the alternatives
    no_proc = tmp_path / "no_processor"
    shutil.copytree(tiny_model_dir, no_proc)
    for f in ("preprocessor_config.json", "processor_config.json"):
        (no_proc / f).unlink(missing_ok=True)
    r = runner.invoke(
        app, ["eval", "-m", str(no_proc), "-b", "world/geode", "--data-root", str(world)]
    )
    assert r.exit_code == 2 and "image processor" in r.output
    r = runner.invoke(app, ["report", str(tmp_path / "empty")])
    assert r.exit_code == 2 and "no result JSON" in r.output
    # A ``globelens train`` output folder: its model is evaluated, and said so.
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "model")
    r = runner.invoke(app, ["eval", "-m", str(run), "-b", "world/nope", "--data-root", str(world)])
    assert f"{run} is a training output folder: evaluating {run / 'model'}" in r.output
    from globelens.models.hf import check_model_dir

    with pytest.raises(FileNotFoundError, match=r"did you mean .*run/model\?"):
        check_model_dir(run)
