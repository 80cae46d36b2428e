"""Released SigLIP 1 and SigLIP 2 formats (``release_factory``) through ``classify``, the
server and fine-tuning, cross-checked with transformers' zero-shot pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from release_factory import clip_openai_dir, siglip1_dir, siglip2_dir
from typer.testing import CliRunner

from globelens.cli.main import app
from globelens.models.hf import load_dual_encoder, model_fingerprint

LABELS = ["A Red Bus", "a bowl of rice", "A Dog sleeping at home"]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("releases")
    return {
        "siglip1": siglip1_dir(root / "siglip1"),
        "siglip2": siglip2_dir(root / "siglip2"),
        "clip_openai": clip_openai_dir(root / "clip_openai"),
    }


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path)
    return path


def _pipeline(model_dir: Path, unmasked: bool = False):
    from transformers import AutoTokenizer, pipeline

    tok = AutoTokenizer.from_pretrained(model_dir)
    if unmasked:  # SiglipTokenizer as transformers 4 had it: ids only, so no padding mask
        tok.model_input_names = ["input_ids"]
    return pipeline("zero-shot-image-classification", model=str(model_dir), tokenizer=tok)


def _pipeline_scores(
    model_dir: Path, photo: Path, labels: list[str], unmasked: bool = False
) -> dict[str, float]:
    out = _pipeline(model_dir, unmasked)(
        str(photo), candidate_labels=labels, hypothesis_template="{}"
    )
    return {r["label"]: r["score"] for r in out}


def _classify(model_dir: Path, photo: Path) -> dict[str, float]:
    res = CliRunner().invoke(
        app, ["classify", str(model_dir), str(photo), "--labels", ", ".join(LABELS), "--json"]
    )
    assert res.exit_code == 0, res.output
    return {s["label"]: s["score"] for s in json.loads(res.stdout)["results"][0]["scores"]}


def test_siglip1_spiece_release_classifies_as_trained(releases: dict, photo: Path) -> None:
    """SigLIP 1 ships only ``spiece.model`` and was trained padded with ``</s>`` to 64 tokens,
    unmasked: globelens scores it so, equal to the pipeline given the ids alone."""
    got = _classify(releases["siglip1"], photo)
    want = _pipeline_scores(releases["siglip1"], photo, LABELS, unmasked=True)
    assert got == pytest.approx(want, abs=1e-6)
    # transformers 5's SiglipTokenizer also returns a mask, which the model never saw
    assert got != pytest.approx(_pipeline_scores(releases["siglip1"], photo, LABELS), abs=1e-3)
    enc = load_dual_encoder(releases["siglip1"])
    assert enc.text.name == "siglip1" and "attention_mask" not in enc.tokenize(["a dog"])
    ids = enc.tokenize(["a dog"])["input_ids"][0]
    assert ids.shape[0] == 64 and int(ids[-1]) == enc.tokenizer.convert_tokens_to_ids("</s>")


def test_siglip2_release_lowercases_its_prompts(releases: dict, photo: Path) -> None:
    """SigLIP 2 was trained on lower-cased text: the labels as typed score like the
    pipeline's on lower-cased labels (and the tokenizer itself keeps case)."""
    got = _classify(releases["siglip2"], photo)
    want = _pipeline_scores(releases["siglip2"], photo, [x.lower() for x in LABELS])
    assert list(got.values()) == pytest.approx(list(want.values()), abs=1e-6)
    cased = _pipeline_scores(releases["siglip2"], photo, LABELS)
    assert cased["A Red Bus"] != pytest.approx(got["A Red Bus"], abs=1e-6)


def test_openai_clip_legacy_config_classifies_as_the_pipeline(releases: dict, photo: Path) -> None:
    """OpenAI's CLIP layout (legacy ``eos_token_id`` 2: pooled at the highest id; BPE
    ``vocab.json`` + ``merges.txt``; 77 positions): softmax scores equal the pipeline's."""
    got = _classify(releases["clip_openai"], photo)
    assert got == pytest.approx(_pipeline_scores(releases["clip_openai"], photo, LABELS), abs=1e-6)
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-6)


def test_fingerprint_covers_spiece_model(releases: dict, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(releases["siglip1"], tmp_path / "m"))
    before = model_fingerprint(copy)
    data = bytearray((copy / "spiece.model").read_bytes())
    data[-1] ^= 1
    (copy / "spiece.model").write_bytes(bytes(data))
    assert model_fingerprint(copy) != before


@pytest.fixture(scope="module")
def caption_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from globelens.train.synthetic import make_synthetic_shards

    out = tmp_path_factory.mktemp("shards")
    make_synthetic_shards(out, n=16, per_shard=16)
    return out


def _fine_tune(init: Path, shards: Path, out: Path) -> tuple[Path, dict]:
    from globelens.train.config import config_from_dict
    from globelens.train.loop import train

    cfg = config_from_dict(
        {
            "out": str(out),
            "steps": 2,
            "batch_size": 8,
            "threads": 1,
            "progress": False,
            "data": {"sources": [{"name": "a", "pattern": str(shards)}], "workers": 0},
            "model": {"init_from": str(init)},
        }
    )
    return train(cfg), cfg.to_dict()


@pytest.mark.parametrize("release", ["siglip1", "clip"])
def test_fine_tuning_follows_the_family(
    release: str, releases: dict, tiny_clip_dir: Path, caption_shards: Path, tmp_path: Path
) -> None:
    """SigLIP 1 fine-tunes on its unmasked ``</s>`` padding and keeps its ``spiece.model``;
    without ``--loss`` each family trains with its own loss (CLIP: softmax)."""
    init = releases["siglip1"] if release == "siglip1" else tiny_clip_dir
    model_dir, cfg = _fine_tune(init, caption_shards, tmp_path / "run")
    assert cfg["loss"] == ("sigmoid" if release == "siglip1" else "softmax")
    if release == "siglip1":
        assert (model_dir / "spiece.model").read_bytes() == (init / "spiece.model").read_bytes()
        assert load_dual_encoder(model_dir).text.name == "siglip1"


def _hub_cache(root: Path, repo_id: str, model_dir: Path) -> Path:
    """The Hugging Face cache layout for one repo: refs/main -> snapshots/<commit>/files."""
    import shutil

    repo = root / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    return root


def test_hub_ids_resolve_from_the_local_cache_offline(
    releases: dict, photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = _hub_cache(tmp_path / "hub", "google/siglip-base-patch16-224", releases["siglip1"])
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    got = _classify("google/siglip-base-patch16-224", photo)  # type: ignore[arg-type]
    assert got == pytest.approx(_classify(releases["siglip1"], photo), abs=1e-7)
    from globelens.serve.models import discover

    (spec,) = discover(["google/siglip-base-patch16-224"])  # served under its id
    assert spec.name == "google/siglip-base-patch16-224" and spec.kind == "dual_encoder"
    res = CliRunner().invoke(
        app, ["classify", "google/siglip-so400m-patch14-384", str(photo), "--labels", "a dog"]
    )
    assert res.exit_code == 2
    (line,) = res.stderr.strip().splitlines()  # one line, no traceback
    assert "not in the Hugging Face cache" in line and "HF_HUB_OFFLINE" in line
    assert "hf download google/siglip-so400m-patch14-384" in line


def test_cli_failures_are_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "siglip"}')
    args = ["classify", str(tmp_path / "m"), "x.png", "--labels", "a"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("error: ") and "missing weights" in res.stderr
    debug = CliRunner().invoke(app, ["--debug", *args])
    assert isinstance(debug.exception, FileNotFoundError)  # raised for the traceback


def test_paligemma2_release_format_asks_and_parses_real_ids(photo: Path, tmp_path: Path) -> None:
    """A PaliGemma 2 in the released layout (257,216-row vocabulary, ``<loc0000>`` = 256,000,
    ``<seg000>`` = 257,024, bf16 shards + index, 224 px, 256 image tokens) runs ``ask``; the
    ids a released model says for a mask decode, through its tokenizer and ``vae-oid.npz``'s
    layout, into the box and the mask big_vision would paste."""
    from test_maskcodec import _fake_vae_oid
    from vlm_factory import LOC0, SEG0, released_paligemma_dir

    from globelens.models import tasklang
    from globelens.models.maskcodec import codes_to_mask, load_codec
    from globelens.models.paligemma import load_generator

    model = released_paligemma_dir(tmp_path / "paligemma2-3b-mix-224")
    assert len(list(model.glob("model-*-of-*.safetensors"))) > 1
    _fake_vae_oid(tmp_path / "vae-oid.npz")
    res = CliRunner().invoke(
        app, ["ask", str(model), str(photo), "segment bed", "--json", "--max-new-tokens", "4",
              "--codec", str(tmp_path / "vae-oid.npz")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (result,) = json.loads(res.stdout)["results"]
    assert result["task"] == "segment" and (result["objects"] or result["invalid_counts"])
    gen = load_generator(model, codec=tmp_path / "vae-oid.npz")
    assert gen.model.config.text_config.vocab_size == 257_216
    codes = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]
    said = [LOC0 + 100, LOC0 + 200, LOC0 + 700, LOC0 + 900] + [SEG0 + c for c in codes]
    said += gen.tokenizer(" bed", add_special_tokens=False)["input_ids"]
    text = gen.tokenizer.decode(said, skip_special_tokens=True)
    (obj,) = tasklang.parse("segment bed", text, 50, 40, codec=gen.codec).objects
    assert obj.label == "bed"
    assert obj.box == pytest.approx(
        (200 / 1023 * 50, 100 / 1023 * 40, 900 / 1023 * 50, 700 / 1023 * 40)
    )
    want = codes_to_mask(load_codec(tmp_path / "vae-oid.npz"), codes, obj.box, 40, 50)
    np.testing.assert_array_equal(obj.mask, want)


def test_an_unknown_model_type_is_named_with_the_known_ones(tmp_path: Path) -> None:
    """A folder of a model type no family drives is refused with what it is and what is
    known (SigLIP 2 NaFlex among them: ``test_naflex.py``), by serve and the loaders alike."""
    from globelens.models.kinds import load_model
    from globelens.serve.models import discover

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "siglip3"}')
    with pytest.raises(ValueError, match=r"'siglip3' is not supported .*siglip2"):
        discover([str(tmp_path / "m")])
    for name in ("model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        (tmp_path / "m" / name).write_text("{}")
    with pytest.raises(ValueError, match="'siglip3' is not supported"):
        load_model(tmp_path / "m")  # what eval and serve load through


def test_serve_scores_every_release_as_classify(releases: dict, photo: Path) -> None:
    """The server (real uvicorn on loopback) loads the releases through the same conventions."""
    import base64
    import sys

    import httpx

    sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))
    from serve_factory import running

    targets = [f"{name}={path}" for name, path in releases.items()]
    with running(targets) as (server, _), httpx.Client(base_url=server.url, timeout=30) as c:
        for name, path in releases.items():
            body = {"model": name, "image": base64.b64encode(photo.read_bytes()).decode(),
                    "labels": LABELS, "template": "{c}"}  # fmt: skip
            scores = c.post("/v1/classify", json=body).json()["scores"]
            got = {s["label"]: s["score"] for s in scores}
            assert got == pytest.approx(_classify(path, photo), abs=1e-6)


def test_eval_predicts_as_the_pipeline_on_every_release(releases: dict, tmp_path: Path) -> None:
    """``eval``'s zero-shot predictions on a CLIP_benchmark-format set equal the argmax of
    transformers' pipeline (SigLIP 2's prompts lower-cased, SigLIP 1's unmasked)."""
    import io
    import tarfile

    from globelens.train.synthetic import make_synthetic_benchmark

    bench = make_synthetic_benchmark(tmp_path / "bench", n=8)
    classes = (bench / "classnames.txt").read_text().split()
    (template,) = (bench / "zeroshot_classification_templates.txt").read_text().splitlines()
    with tarfile.open(bench / "test" / "0.tar") as tar:
        names = sorted(m.name for m in tar.getmembers() if m.name.endswith(".jpg"))
        pictures = [Image.open(io.BytesIO(tar.extractfile(n).read())).convert("RGB")
                    for n in names]  # fmt: skip
    for name, path in releases.items():
        res = CliRunner().invoke(app, ["eval", "-m", str(path), "-b", str(bench), "-o",
                                       str(tmp_path / name), "--no-cache", "--bootstrap", "0"])  # fmt: skip
        assert res.exit_code == 0, res.output
        (result,) = (tmp_path / name).glob("*zeroshot*.json")
        predicted = json.loads(result.read_text())["predictions"]
        prompts = [template.replace("{c}", c) for c in classes]
        prompts = [x.lower() for x in prompts] if name == "siglip2" else prompts
        pipe = _pipeline(path, unmasked=name == "siglip1")
        outs = pipe(pictures, candidate_labels=prompts, hypothesis_template="{}")
        want = [prompts.index(out[0]["label"]) for out in outs]  # best first
        assert predicted == want
