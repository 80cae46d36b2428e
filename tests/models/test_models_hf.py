"""Model adapters, presets and the multilingual tokenizer, on real tiny HF model directories."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from globelens.models import (
    PRESETS,
    DualEncoder,
    build_model,
    bytes_per_token,
    load_dual_encoder,
    load_tokenizer,
    train_tokenizer,
)


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(50, 63), (100, 80), (300, 311), (64, 64), (17, 200)]
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]


@pytest.mark.parametrize("fixture", ["tiny_model_dir", "tiny_clip_dir"])
def test_preprocess_matches_autoprocessor(fixture: str, request: pytest.FixtureRequest) -> None:
    from transformers import AutoProcessor

    path = request.getfixturevalue(fixture)
    model = load_dual_encoder(path)
    assert isinstance(model, DualEncoder)
    images = _images()
    ref = AutoProcessor.from_pretrained(path)(images=images, return_tensors="pt")["pixel_values"]
    ours = model.preprocess(images)
    assert ours.shape == ref.shape == (5, 3, model.image_size, model.image_size)
    assert torch.allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("fixture", ["tiny_model_dir", "tiny_clip_dir"])
def test_encoders_match_model_forward(fixture: str, request: pytest.FixtureRequest) -> None:
    from transformers import AutoModel, AutoProcessor

    path = request.getfixturevalue(fixture)
    enc = load_dual_encoder(path)
    texts = ["a red bus", "城市街道上的红色公共汽车", "สุนัขนอนหลับ"]
    images = _images()[:2]
    img = enc.encode_images(enc.preprocess(images))
    txt = enc.encode_texts(texts)
    assert img.shape[0] == 2 and txt.shape[0] == 3
    assert torch.allclose(img.norm(dim=-1), torch.ones(2), atol=1e-5)
    proc = AutoProcessor.from_pretrained(path)
    padding = "max_length" if "siglip" in enc.family.name else True
    inputs = proc(text=texts, images=images, padding=padding, return_tensors="pt")
    with torch.no_grad():
        out = AutoModel.from_pretrained(path)(**inputs)
    assert torch.allclose(enc.logits(img, txt), out.logits_per_image, atol=1e-4)


def test_fingerprint_changes_with_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    a = load_dual_encoder(tiny_model_dir).fingerprint
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert load_dual_encoder(copy).fingerprint == a  # content, not location
    other = build_model("tiny", tiny_model_dir, tmp_path / "other", seed=1)
    assert load_dual_encoder(other).fingerprint != a


def test_fingerprint_ignores_a_resave(tiny_model_dir: Path, tmp_path: Path) -> None:
    import json

    from transformers import AutoModel, AutoProcessor

    from globelens.models import model_fingerprint

    resaved = tmp_path / "resaved"
    AutoModel.from_pretrained(tiny_model_dir).save_pretrained(resaved)
    AutoProcessor.from_pretrained(tiny_model_dir).save_pretrained(resaved)
    before = json.loads((tiny_model_dir / "config.json").read_text())
    after = json.loads((resaved / "config.json").read_text())
    assert after != before  # transformers rewrote the config (dtype in each sub-config)
    assert model_fingerprint(resaved) == model_fingerprint(tiny_model_dir)
    after["text_config"]["hidden_act"] = "relu"  # real content still counts
    (resaved / "config.json").write_text(json.dumps(after))
    assert model_fingerprint(resaved) != model_fingerprint(tiny_model_dir)


def test_missing_files_and_pickles_are_named(tiny_model_dir: Path, tmp_path: Path) -> None:
    for missing, words in [
        ("tokenizer", "tokenizer"),
        ("processor", "image processor"),
        ("weights", "weights"),
    ]:
        d = tmp_path / missing
        shutil.copytree(tiny_model_dir, d)
        drop = {
            "tokenizer": ["tokenizer.json", "tokenizer_config.json"],
            "processor": ["preprocessor_config.json", "processor_config.json"],
            "weights": ["model.safetensors"],
        }[missing]
        for f in drop:
            (d / f).unlink()
        with pytest.raises(FileNotFoundError, match=words):
            load_dual_encoder(d)
    d = tmp_path / "pickle"
    shutil.copytree(tiny_model_dir, d)
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(ValueError, match="safetensors only"):
        load_dual_encoder(d)


def test_unknown_model_type_names_alternatives(tiny_model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    cfg = (d / "config.json").read_text().replace('"model_type": "siglip"', '"model_type": "bert"')
    (d / "config.json").write_text(cfg)
    with pytest.raises(ValueError, match="supported"):
        load_dual_encoder(d)


def test_presets() -> None:
    b16 = PRESETS["B/16"]
    assert (b16["image_size"], b16["patch_size"], b16["vision"]["width"]) == (224, 16, 768)
    assert (b16["vision"]["layers"], b16["vision"]["heads"], b16["vision"]["mlp"]) == (12, 12, 3072)
    assert (b16["text"]["context"], b16["vocab_size"]) == (64, 32000)
    assert {"tiny", "small", "B/16"} <= set(PRESETS)
    with pytest.raises(KeyError, match="available presets"):
        build_model("huge", "x", "y")


def test_b16_parameter_count(tiny_tokenizer_dir: Path) -> None:
    # SigLIP B/16 with a 32k vocabulary has about 203M parameters; build it on the meta device.
    from transformers import SiglipConfig, SiglipModel

    from globelens.models.families import _siglip_model

    with torch.device("meta"):
        model = _siglip_model(PRESETS["B/16"], 32000, {"pad": 0, "eos": 1})
    assert isinstance(model, SiglipModel) and isinstance(model.config, SiglipConfig)
    n = sum(p.numel() for p in model.parameters())
    assert 195e6 < n < 210e6


def test_tokenizer_multilingual(tiny_tokenizer_dir: Path, tiny_captions: dict) -> None:
    tok = load_tokenizer(tiny_tokenizer_dir)
    captions = [c for caps in tiny_captions.values() for c in caps]
    langs = [lang for lang, caps in tiny_captions.items() for _ in caps]
    report = bytes_per_token(tok, captions, langs)
    assert set(report) == set(tiny_captions)
    for lang, r in report.items():
        assert r["unk_rate"] == 0, lang  # every script's characters are in the vocabulary
        # 400 tokens for 30 captions: Japanese stays near one character per token; at the
        # demo's size (4096, 40k captions) every language is within 0.8-1.2 of English.
        assert r["chars_per_token_vs_en"] > 0.4, (lang, r)
    # NFKC: full-width Latin and Arabic presentation forms tokenise like their plain forms.
    assert tok("ＢＵＳ")["input_ids"] == tok("bus")["input_ids"]
    assert tok("ﻛﻠﺐ")["input_ids"] == tok("كلب")["input_ids"]
    ids = tok("a red bus", padding="max_length", max_length=16)["input_ids"]
    assert ids[len(tok("a red bus")["input_ids"]) - 1] == tok.eos_token_id
    assert len(ids) == 16 and ids[-1] == tok.pad_token_id


def test_train_tokenizer_saves_for_autoprocessor(tmp_path: Path, tiny_captions: dict) -> None:
    from transformers import AutoProcessor

    captions = [c for caps in tiny_captions.values() for c in caps]
    train_tokenizer(captions, 300, tmp_path / "tok")
    out = build_model("tiny", tmp_path / "tok", tmp_path / "model")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        assert (out / name).is_file(), name
    proc = AutoProcessor.from_pretrained(out)
    enc = proc(text=["桌子上的一碗米饭"], padding="max_length", return_tensors="pt")
    assert enc["input_ids"].shape == (1, PRESETS["tiny"]["text"]["context"])


def test_tokenizer_training_is_deterministic_across_processes(tmp_path: Path) -> None:
    """The same captions give the same tokenizer in fresh processes (hash-map order differs
    per process, which made the Unigram trainer pick different vocabularies)."""
    import subprocess
    import sys

    script = (
        "import sys; from conftest import TINY_CAPTIONS as T; "
        "from globelens.models import train_tokenizer; "
        "caps = [c for v in T.values() for c in v] * 3; "
        "langs = [k for k, v in T.items() for _ in v] * 3; "
        "train_tokenizer(caps, 300, sys.argv[1], languages=langs, seed=1)"
    )
    tests_dir = str(Path(__file__).resolve().parents[1])
    outs = []
    for i in range(3):
        out = tmp_path / f"tok{i}"
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, cwd=tests_dir)
        outs.append((out / "tokenizer.json").read_bytes())
    assert outs[0] == outs[1] == outs[2]
