"""SigLIP 2 NaFlex (``google/siglip2-base-patch16-naflex``'s format, ``release_factory``):
each picture at its own aspect ratio, as a variable number of patches, through ``classify``,
``eval`` and a real server, cross-checked with transformers' ``Siglip2ImageProcessor``,
``Siglip2Model`` and zero-shot pipeline on pictures of several shapes."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from release_factory import NAFLEX, siglip2_naflex_dir
from typer.testing import CliRunner

from globelens.cli.main import app
from globelens.models.hf import load_dual_encoder, model_fingerprint
from globelens.models.preprocess import Patches, naflex_size

LABELS = ["A Red Bus", "a bowl of rice", "A Dog sleeping at home"]
#: (height, width): mild landscape, 4:1, tall, larger than the budget, tiny, square
SHAPES = [(40, 50), (30, 120), (91, 37), (200, 150), (9, 11), (64, 64)]


@pytest.fixture(scope="module")
def naflex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return siglip2_naflex_dir(tmp_path_factory.mktemp("release") / "siglip2-naflex")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    paths = []
    for h, w in SHAPES:
        paths.append(root / f"photo_{h}x{w}.png")
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def pipe(naflex: Path):
    from transformers import pipeline

    return pipeline("zero-shot-image-classification", model=str(naflex))


def _pipeline_scores(pipe, photo: Path, labels: list[str]) -> list[float]:
    out = {r["label"]: r["score"] for r in pipe(str(photo), candidate_labels=labels,
                                                  hypothesis_template="{}")}  # fmt: skip
    return [out[x] for x in labels]


def _reference_embeddings(naflex: Path, photos: list[Path]) -> np.ndarray:
    """transformers' own processor and model, one picture at a time."""
    from transformers import AutoImageProcessor, Siglip2Model

    processor = AutoImageProcessor.from_pretrained(naflex)
    model = Siglip2Model.from_pretrained(naflex).eval()
    rows = []
    with torch.no_grad():
        for p in photos:
            inputs = processor(images=[Image.open(p).convert("RGB")], return_tensors="pt")
            out = model.get_image_features(**inputs).pooler_output
            rows.append(torch.nn.functional.normalize(out, dim=-1)[0].numpy())
    return np.stack(rows)


def test_patch_sizes_follow_the_released_processor(naflex: Path, photos: list[Path]) -> None:
    """The resize rule equals transformers' on every shape (released 16 px / 256 patches
    and the shrunk grid), and the patches, mask and shapes equal the processor's output."""
    from transformers import AutoImageProcessor
    from transformers.models.siglip2.image_processing_pil_siglip2 import (
        get_image_size_for_max_num_patches as reference,
    )

    for patch, budget in ((16, 256), (8, 64), (14, 729)):
        for h in (1, 7, 16, 33, 100, 224, 257, 1000, 4000):
            for w in (1, 9, 64, 255, 512, 3000):
                assert naflex_size(h, w, patch, budget) == reference(h, w, patch, budget)
    enc = load_dual_encoder(naflex)
    processor = AutoImageProcessor.from_pretrained(naflex)
    pictures = [Image.open(p).convert("RGB") for p in photos]
    got = enc.preprocess(pictures)
    want = processor(images=pictures, return_tensors="pt")
    assert isinstance(got, Patches) and got.values.shape == want["pixel_values"].shape
    assert torch.equal(got.spatial_shapes, want["spatial_shapes"])
    assert torch.equal(got.attention_mask, want["pixel_attention_mask"].to(torch.int32))
    torch.testing.assert_close(got.values, want["pixel_values"], atol=1e-6, rtol=0)
    # the aspect ratio is kept: a 4:1 picture gets 4:1 patches, within the budget
    assert got.spatial_shapes[1].tolist() == [4, 16]
    assert int(got.spatial_shapes.prod(-1).max()) <= NAFLEX["max_num_patches"]
    assert enc.image_size == NAFLEX["patch_size"] * 8  # the square at the full budget


def test_classify_equals_the_pipeline_on_every_shape(
    naflex: Path, photos: list[Path], pipe
) -> None:
    """One ``classify`` call over pictures of six shapes (one batch of different patch
    counts) scores each as the pipeline does; SigLIP 2's labels are lower-cased."""
    res = CliRunner().invoke(
        app, ["classify", str(naflex), *map(str, photos), "--labels", ", ".join(LABELS), "--json"]
    )
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)["results"]
    assert len(results) == len(photos)
    lowered = [x.lower() for x in LABELS]
    for photo, result in zip(photos, results, strict=True):
        got = {s["label"]: s["score"] for s in result["scores"]}
        want = _pipeline_scores(pipe, photo, lowered)
        assert [got[x] for x in LABELS] == pytest.approx(want, abs=1e-6), photo.name


def _shaped_benchmark(root: Path, photos: list[Path]) -> Path:
    """A CLIP_benchmark-format set whose pictures are the photos (PNG, several shapes)."""
    (root / "test").mkdir(parents=True)
    (root / "classnames.txt").write_text("\n".join(x.lower() for x in LABELS) + "\n")
    (root / "zeroshot_classification_templates.txt").write_text("a photo of {c}.\n")
    (root / "dataset_type.txt").write_text("zeroshot_classification\n")
    (root / "test" / "nshards.txt").write_text("1\n")
    with tarfile.open(root / "test" / "0.tar", "w") as tar:
        for i, photo in enumerate(photos):
            for ext, data in (("png", photo.read_bytes()), ("cls", str(i % 3).encode())):
                info = tarfile.TarInfo(f"{i:06d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return root


def test_eval_embeds_and_predicts_as_transformers(
    naflex: Path, photos: list[Path], pipe, tmp_path: Path
) -> None:
    """``eval``'s image path (worker threads, batches of mixed shapes) gives transformers'
    embeddings, and its zero-shot predictions are the pipeline's argmax."""
    from globelens.evaluate.datasets.registry import load_benchmark
    from globelens.evaluate.embed import image_embeddings

    bench_dir = _shaped_benchmark(tmp_path / "bench", photos)
    bench = load_benchmark(str(bench_dir))
    enc = load_dual_encoder(naflex)
    got, cached = image_embeddings(enc, bench, None, batch_size=4, workers=2)
    assert not cached and got.valid.all()
    np.testing.assert_allclose(got.embeddings, _reference_embeddings(naflex, photos), atol=1e-6)

    res = CliRunner().invoke(app, ["eval", "-m", str(naflex), "-b", str(bench_dir), "-o",
                                   str(tmp_path / "out"), "--no-cache", "--bootstrap", "0"])  # fmt: skip
    assert res.exit_code == 0, res.output
    (result,) = (tmp_path / "out").glob("*zeroshot*.json")
    predicted = json.loads(result.read_text())["predictions"]
    prompts = [f"a photo of {x.lower()}." for x in LABELS]
    want = [int(np.argmax(_pipeline_scores(pipe, p, prompts))) for p in photos]
    assert predicted == want


def test_the_cache_key_follows_the_patch_budget(naflex: Path, tmp_path: Path) -> None:
    """A user who raises ``max_num_patches`` gets other embeddings, never cached ones."""
    copy = Path(shutil.copytree(naflex, tmp_path / "m"))
    cfg = json.loads((copy / "preprocessor_config.json").read_text())
    cfg["max_num_patches"] = 144
    (copy / "preprocessor_config.json").write_text(json.dumps(cfg))
    assert model_fingerprint(copy) != model_fingerprint(naflex)
    enc = load_dual_encoder(copy)
    assert enc.transform.max_num_patches == 144 and enc.image_size == 8 * 12
    assert enc.preprocess([Image.new("RGB", (300, 75))]).spatial_shapes.tolist() == [[6, 24]]


def test_serve_classifies_and_embeds_as_transformers(
    naflex: Path, photos: list[Path], pipe
) -> None:
    """A real uvicorn server: ``/v1/classify`` equals the pipeline on every shape, and
    ``/v1/embeddings`` with all the shapes in one request equals transformers' embeddings."""
    import httpx

    sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))
    from serve_factory import data_uri, running

    want_emb = _reference_embeddings(naflex, photos)
    with (
        running([f"naflex={naflex}"]) as (server, _),
        httpx.Client(base_url=server.url, timeout=30) as c,
    ):
        for photo in photos:
            body = {"model": "naflex", "image": base64.b64encode(photo.read_bytes()).decode(),
                    "labels": LABELS, "template": "{c}"}  # fmt: skip
            r = c.post("/v1/classify", json=body)
            assert r.status_code == 200, r.text
            got = {s["label"]: s["score"] for s in r.json()["scores"]}
            want = _pipeline_scores(pipe, photo, [x.lower() for x in LABELS])
            assert [got[x] for x in LABELS] == pytest.approx(want, abs=1e-6), photo.name
        body = {"model": "naflex", "encoding_format": "float",
                "input": [data_uri(p.read_bytes()) for p in photos]}  # fmt: skip
        r = c.post("/v1/embeddings", json=body)
        assert r.status_code == 200, r.text
        got = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
        np.testing.assert_allclose(got, want_emb, atol=1e-6)
        (info,) = (m for m in c.get("/v1/models").json()["data"] if m["id"] == "naflex")
        assert info["kind"] == "dual_encoder" and info["image_size"] == 64


def test_naflex_is_served_but_not_fine_tuned(naflex: Path, tmp_path: Path) -> None:
    """NaFlex is a dual encoder to every loader; fine-tuning it is refused in one line."""
    from globelens.models.kinds import load_model
    from globelens.serve.models import discover
    from globelens.train.synthetic import make_synthetic_shards

    (spec,) = discover([str(naflex)])
    assert spec.kind == "dual_encoder"
    assert load_model(naflex).family.name == "siglip2"
    make_synthetic_shards(tmp_path / "shards", n=8, per_shard=8)
    res = CliRunner().invoke(app, ["train", "--init-from", str(naflex), "--data",
                                   str(tmp_path / "shards"), "--out", str(tmp_path / "run"),
                                   "--steps", "1", "--quiet"])  # fmt: skip
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert "NaFlex" in res.stderr and "not fine-tuned" in res.stderr
