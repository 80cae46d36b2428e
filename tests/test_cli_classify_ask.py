"""``globelens classify`` and ``globelens ask`` end to end on tiny models built here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner
from vlm_factory import fit_answers, tiny_paligemma_dir

from globelens.cli.main import app
from globelens.models import tasklang
from globelens.report.overlay import label_colour

RED = Image.new("RGB", (64, 48), (200, 30, 30))
BLUE = Image.new("RGB", (80, 60), (30, 30, 200))
STOVE_BOX = (8.0, 6.0, 40.0, 30.0)
SEG_BOX = (10.0, 12.0, 50.0, 44.0)


def _run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pics")
    rng = np.random.default_rng(0)
    out = {"red": root / "red.png", "blue": root / "blue.jpg", "bad": root / "bad.jpg"}
    RED.save(out["red"])
    BLUE.save(out["blue"])
    out["bad"].write_bytes(b"\xff\xd8 not really a jpeg")
    for i in range(2):
        p = root / f"noise{i}.png"
        Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(p)
        out[f"noise{i}"] = p
    return out


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny PaliGemma with a mask codec, taught one detection, one segmentation, a caption."""
    import torch

    from globelens.models.maskcodec import MaskCodec

    torch.manual_seed(0)
    codec = MaskCodec()
    path = tiny_paligemma_dir(tmp_path_factory.mktemp("fitted"), codec=codec)
    mask = np.zeros((60, 80), bool)
    mask[20:40, 15:45] = True
    seg = tasklang.Segmentation("bed", SEG_BOX, mask)
    det = tasklang.encode_detections([tasklang.Detection("stove", STOVE_BOX)], 64, 48)
    seg_text = tasklang.encode_segmentations([seg], 80, 60, codec)
    fit_answers(
        path,
        [
            (RED, "detect stove ; lamp", det),
            (BLUE, "segment bed", seg_text),
            (BLUE, "caption en", "a blue room"),
        ],
    )
    return path, seg_text


def test_classify_matches_the_hf_pipeline(
    tiny_model_dir: Path, tiny_clip_dir: Path, pictures: dict[str, Path]
) -> None:
    from transformers import pipeline

    labels = ["a red bus", "a bowl of rice", "a dog"]
    for model_dir in (tiny_model_dir, tiny_clip_dir):
        res = _run(
            "classify", model_dir, pictures["red"], pictures["noise0"],
            "--labels", ", ".join(labels), "--json",
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        pipe = pipeline("zero-shot-image-classification", model=str(model_dir))
        ref = pipe(
            [str(pictures["red"]), str(pictures["noise0"])],
            candidate_labels=labels,
            hypothesis_template="{}",
        )
        for ours, theirs in zip(doc["results"], ref, strict=True):
            got = {s["label"]: s["score"] for s in ours["scores"]}
            want = {r["label"]: r["score"] for r in theirs}
            assert got == pytest.approx(want, abs=1e-5)
        total = sum(s["score"] for s in doc["results"][0]["scores"])
        if doc["family"] == "clip":
            assert total == pytest.approx(1.0, abs=1e-5)  # softmax over the phrases


def test_classify_templates_text_output_and_bad_images(
    tiny_model_dir: Path, pictures: dict[str, Path], tmp_path: Path
) -> None:
    tpl = tmp_path / "templates.txt"
    tpl.write_text("a photo of {c}.\na drawing of {c}.\n")
    res = _run(
        "classify", tiny_model_dir, pictures["red"], pictures["bad"], tmp_path / "missing.png",
        "--labels", "a red bus, a dog", "--templates", tpl, "--top-k", "1",
    )  # fmt: skip
    assert res.exit_code == 1  # some pictures were skipped ...
    assert str(pictures["red"]) in res.stdout  # ... but the good one was classified
    assert len([ln for ln in res.stdout.splitlines() if ln.startswith("  ")]) == 1
    assert "corrupt_image" in res.stderr and "missing" in res.stderr
    res = _run(
        "classify", tiny_model_dir, pictures["red"], "--labels", "a red bus, a dog",
        "--templates", "a photo of {c}.|a drawing of {c}.", "--json",
    )  # fmt: skip
    assert json.loads(res.stdout)["templates"] == ["a photo of {c}.", "a drawing of {c}."]
    assert _run("classify", tiny_model_dir, pictures["red"], "--labels", " , ").exit_code == 2


def test_ask_detect_prints_parses_and_draws(fitted, pictures, tmp_path: Path) -> None:
    path, _ = fitted
    out = tmp_path / "drawn.png"
    res = _run(
        "ask", path, pictures["red"], "detect stove ; lamp", "--json", "--draw", out,
        "--max-new-tokens", "12",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (r,) = doc["results"]
    assert doc["task"] == "detect" and r["invalid"] == []
    (obj,) = r["objects"]
    assert obj["label"] == "stove"
    # loc tokens are 1024 bins: the box comes back within one bin of the target
    bins = np.array([64, 48, 64, 48]) / 1023
    assert np.all(np.abs(np.array(obj["box"]) - np.array(STOVE_BOX)) <= bins)
    assert obj["score"] == pytest.approx(r["logprob"]) and obj["score"] < 0
    drawn = np.asarray(Image.open(out).convert("RGB"))
    assert drawn.shape == (48, 64, 3)
    x0, y0, x1, y1 = (round(v) for v in obj["box"])
    edge = drawn[(y0 + y1) // 2, x1 - 1 : x1 + 2]  # the box's right edge, within a pixel
    assert any(tuple(px) == label_colour("stove") for px in edge)
    assert tuple(drawn[(y0 + y1) // 2, (x0 + x1) // 2]) == (200, 30, 30)  # inside untouched
    text = _run("ask", path, pictures["red"], "detect stove ; lamp", "--max-new-tokens", "12")
    assert "stove: box [" in text.stdout and "invalid" not in text.stdout


def test_ask_segment_decodes_the_mask_and_draws_it(fitted, pictures, tmp_path: Path) -> None:
    path, seg_text = fitted
    out = tmp_path / "seg.png"
    res = _run(
        "ask", path, pictures["blue"], pictures["bad"], "segment bed", "--json", "--draw", out,
        "--max-new-tokens", "24",
    )  # fmt: skip
    assert res.exit_code == 1  # the bad picture is reported, the good one answered
    doc = json.loads(res.stdout)
    assert [e["reason"] for e in doc["errors"]] == ["corrupt_image"]
    (r,) = doc["results"]
    assert r["text"] == seg_text
    (obj,) = r["objects"]
    mask = tasklang.rle_to_mask(obj["mask"])
    assert mask.shape == (60, 80)
    # the same mask the task language decodes from the same text, with the model's own codec
    from globelens.models.paligemma import load_generator

    expected = tasklang.parse("segment bed", seg_text, 80, 60, codec=load_generator(path).codec)
    np.testing.assert_array_equal(mask, expected.objects[0].mask)
    drawn = np.asarray(Image.open(r["drawn"]).convert("RGB")).astype(int)
    assert r["drawn"] == str(tmp_path / "seg-0.png")
    inside = drawn[mask]
    if len(inside):  # masked pixels are tinted with the label's colour
        assert np.abs(inside - np.array([30, 30, 200])).sum(axis=1).min() > 10


def test_ask_caption_on_several_pictures_with_beams(fitted, pictures) -> None:
    path, _ = fitted
    res = _run(
        "ask", path, pictures["blue"], pictures["noise0"], pictures["noise1"], "caption en",
        "--json", "--num-beams", "2", "--max-new-tokens", "8",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [r["image"] for r in doc["results"]] == [
        str(pictures[k]) for k in ("blue", "noise0", "noise1")
    ]
    assert doc["results"][0]["answer"] == "a blue room"
    assert _run("ask", path, "caption en").exit_code == 2  # no picture
    assert _run("ask", pictures["red"].parent, pictures["red"], "ocr").exit_code == 2


def test_ask_takes_the_official_npz_and_keeps_boxes_without_a_codec(
    fitted, pictures, tmp_path: Path
) -> None:
    """Releases ship no codec: without one the box is kept (and ``no_codec`` counted);
    ``--codec vae-oid.npz`` (big_vision's file, as downloaded) decodes the mask."""
    import shutil

    from globelens.models.maskcodec import load_codec
    from globelens.models.vlm import CODEC_FILE

    path, seg_text = fitted
    bare = Path(shutil.copytree(path, tmp_path / "release"))
    (bare / CODEC_FILE).unlink()
    state = load_codec(path / CODEC_FILE).state_dict()
    np.savez(tmp_path / "vae-oid.npz", **{k: v.numpy() for k, v in state.items()})
    args = ["ask", bare, pictures["blue"], "segment bed", "--json", "--max-new-tokens", "24"]
    (boxed,) = json.loads(_run(*args).stdout)["results"]
    assert boxed["invalid_counts"] == {"no_codec": 1}
    (obj,) = boxed["objects"]
    assert obj["label"] == "bed" and "mask" not in obj
    (masked,) = json.loads(_run(*args, "--codec", tmp_path / "vae-oid.npz").stdout)["results"]
    want = tasklang.parse("segment bed", seg_text, 80, 60, codec=load_codec(path / CODEC_FILE))
    np.testing.assert_array_equal(
        tasklang.rle_to_mask(masked["objects"][0]["mask"]), want.objects[0].mask
    )
    assert masked["objects"][0]["box"] == obj["box"] and not masked["invalid_counts"]
    # eval and serve load through the same door (``serve --codec``, ``eval --codec``)
    from globelens.models.kinds import load_model
    from globelens.serve.config import BatchConfig
    from globelens.serve.models import ModelSpec, load_served

    assert load_model(bare).codec is None
    assert load_model(bare, codec=tmp_path / "vae-oid.npz").codec is not None
    spec = ModelSpec("release", str(bare), "generator", codec=str(tmp_path / "vae-oid.npz"))
    served = load_served(spec, BatchConfig(), warmup=False)
    try:
        assert served.model.codec is not None
    finally:
        served.batcher.stop()
