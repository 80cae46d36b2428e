"""`globelens eval` on a tiny PaliGemma over the world's generative sets, then `globelens
report` in headless Chromium."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from vlm_factory import tiny_paligemma_dir

from conftest import console_errors
from globelens.cli.main import app

runner = CliRunner()
BENCHES = "world/vqa,world/coco_det,world/refcoco,world/captions,world/dollarstreet"


@pytest.mark.slow
def test_generative_eval_then_report_in_chromium(tiny_world: Path, tmp_path: Path, chrome) -> None:
    import torch

    from globelens.models.maskcodec import MaskCodec, MaskCodecConfig

    torch.manual_seed(0)
    codec = MaskCodec(MaskCodecConfig(dims=(4, 8, 8, 16), embed_dim=8))
    model = tiny_paligemma_dir(tmp_path / "pg", codec=codec)
    out = tmp_path / "results"
    args = ["eval", "-m", str(model), "-b", BENCHES, "--data-root", str(tiny_world)]
    args += ["--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--limit", "3"]
    args += ["--max-new-tokens", "6", "--bootstrap", "20"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    for col in ("vqa_acc", "mAP", "miou", "CIDEr"):
        assert col in r.output  # the printed table
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert {r["task"] for r in rows} == {
        "vqa",
        "detection",
        "referring_segmentation",
        "captioning",
        "classification_by_generation",
    }
    det = json.loads((out / "pg__world_coco_det__detection.json").read_text())
    assert {"dataset", "model", "task", "language", "metrics", "groups", "ci95"} <= set(det)
    assert det["n_evaluated"] == 3 and det["timing"]["generated"] == 3
    seg = json.loads((out / "pg__world_refcoco__referring_segmentation.json").read_text())
    assert seg["invalid"]["total"] == seg["n_evaluated"] > 0  # random model: scored, counted

    # Same generations, another bootstrap: nothing is generated again.
    r2 = runner.invoke(app, [*args[:-1], "50"])
    assert r2.exit_code == 0, r2.output
    det2 = json.loads((out / "pg__world_coco_det__detection.json").read_text())
    assert det2["timing"]["generated"] == 0 and det2["timing"]["cached"] == 3

    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text()
    for title in ("Captioning", "Visual question answering", "Detection", "Referring segmentation",
                  "Classification by generation", "Worst-served groups"):  # fmt: skip
        assert title in html
    assert html.count('class="gex"') == 5 and "data:image/jpeg;base64," in html
    assert "http://" not in html and "https://" not in html  # self-contained
    chrome.get((out / "report.html").as_uri())
    assert console_errors(chrome) == []
