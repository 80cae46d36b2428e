"""The trainer end to end on synthetic shards: resume after SIGKILL, HF pipeline, recipes."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from globelens.train.config import PhaseConfig, SourceConfig, TrainConfig, load_config
from globelens.train.data import Plan, SourceStream
from globelens.train.synthetic import make_synthetic_benchmark, make_synthetic_shards

SCRIPT = """
import json, sys
from globelens.train.config import config_from_dict
from globelens.train.loop import train
cfg = config_from_dict(json.loads(sys.argv[1]))
train(cfg, resume=sys.argv[2] == "1")
"""


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    make_synthetic_shards(out, n=96, per_shard=32, corrupt=2)
    return out


def _config(out: Path, shards: Path, tokenizer: Path, **kw) -> dict:
    cfg = {
        "out": str(out),
        "steps": 6,
        "batch_size": 16,
        "seed": 3,
        "threads": 1,
        "log_every": 1,
        "progress": False,
        "data": {"sources": [{"name": "a", "pattern": str(shards)}], "workers": 1},
        "model": {"tokenizer": str(tokenizer)},
        "optim": {"lr": 1e-3, "accum_steps": 2},
        "checkpoint": {"every": 1, "keep": 2},
    }
    cfg.update(kw)
    return cfg


def _run(cfg: dict, resume: bool = False) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, json.dumps(cfg), "1" if resume else "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_and_resume_is_bit_identical(
    tmp_path: Path, shards: Path, tiny_tokenizer_dir: Path
) -> None:
    full = _run(_config(tmp_path / "full", shards, tiny_tokenizer_dir))
    killed_cfg = _config(tmp_path / "killed", shards, tiny_tokenizer_dir)
    proc = _run(killed_cfg)
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while not (ckpts.is_dir() and any(p.name.startswith("step_") for p in ckpts.iterdir())):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.8))  # a random moment, possibly mid-save
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL  # it really was killed before finishing
    resumed = _run(killed_cfg, resume=True)
    assert resumed.wait(timeout=180) == 0, resumed.stderr.read().decode()
    assert full.wait(timeout=180) == 0, full.stderr.read().decode()
    a = (tmp_path / "full" / "model" / "model.safetensors").read_bytes()
    b = (tmp_path / "killed" / "model" / "model.safetensors").read_bytes()
    assert a == b
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "metrics.jsonl").open()]
    assert steps == sorted(steps) and steps[-1] == 6 and len(steps) == len(set(steps))
    summary = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert summary["bad_samples"].get("corrupt_image", 0) >= 1  # counted, not fatal
    assert len(list((tmp_path / "killed" / "checkpoints").glob("step_*"))) == 2  # keep=2


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, shards: Path, tiny_tokenizer_dir: Path):
    from globelens.train.config import config_from_dict
    from globelens.train.loop import train

    out = tmp_path_factory.mktemp("trained")
    bench = make_synthetic_benchmark(out / "bench", n=16)
    cfg = config_from_dict(
        _config(out / "run", shards, tiny_tokenizer_dir, steps=3, eval={"benchmark": str(bench)})
    )
    cfg.threads = 0
    cfg.data.workers = 0
    return train(cfg), bench


def test_output_runs_in_transformers_pipeline(trained) -> None:
    from transformers import pipeline

    from globelens.models import load_dual_encoder
    from globelens.train.evaluation import ZeroShotBenchmark

    model_dir, bench = trained
    labels = ["a photo of a red thing", "a photo of a blue thing", "一张绿东西的照片"]
    images = ZeroShotBenchmark(bench, max_images=4).images
    clf = pipeline("zero-shot-image-classification", model=str(model_dir))
    enc = load_dual_encoder(model_dir)
    probs = enc.logits(
        enc.encode_images(enc.preprocess(images)), enc.encode_texts(labels)
    ).sigmoid()
    for image, p in zip(images, probs, strict=True):
        got = {
            r["label"]: r["score"]
            for r in clf(image, candidate_labels=labels, hypothesis_template="{}")
        }
        assert torch.allclose(torch.tensor([got[lab] for lab in labels]), p, atol=1e-4)
    summary = json.loads((model_dir.parent / "summary.json").read_text())
    assert "eval/bench/top1" in summary


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_pipeline_snippet() -> str:
    """The README's ``pipeline(...)`` block, as written."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (snippet,) = [b for b in blocks if 'pipeline("zero-shot-image-classification"' in b]
    return snippet


def test_demo_model_runs_in_the_readme_pipeline_and_resumes_exactly(
    tmp_path: Path, shards: Path, tiny_tokenizer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's 16-token model, as ``train`` writes it, loads in the pipeline (which pads
    SigLIP text to 64) and scores as globelens does; continuing its checkpoint (as the
    study's globe→en runs do) gives the model an uninterrupted run gives."""
    import shutil

    from globelens.experiments.nofilter import DEMO_PRESET
    from globelens.models import load_dual_encoder
    from globelens.train.config import config_from_dict
    from globelens.train.loop import train

    def cfg(out: Path):
        c = config_from_dict(_config(out, shards, tiny_tokenizer_dir, steps=4,
                                     checkpoint={"every": 2, "keep": 3}))  # fmt: skip
        c.model.preset = dict(DEMO_PRESET)
        c.threads, c.data.workers, c.optim.accum_steps = 0, 0, 1
        return c

    model_dir = train(cfg(tmp_path / "full"))
    saved = json.loads((model_dir / "config.json").read_text())["text_config"]
    assert saved["max_position_embeddings"] == 64  # the pipeline's length, for SigLIP
    assert json.loads((model_dir / "tokenizer_config.json").read_text())["model_max_length"] == 16
    enc = load_dual_encoder(model_dir)
    assert enc.max_text_len == 16  # globelens still reads the trained context

    ckpt = tmp_path / "full" / "checkpoints" / "step_000002"
    shutil.copytree(ckpt, tmp_path / "cont" / "checkpoints" / ckpt.name)
    cont = train(cfg(tmp_path / "cont"), resume=True)
    assert (cont / "model.safetensors").read_bytes() == (
        model_dir / "model.safetensors"
    ).read_bytes()

    (tmp_path / "runs" / "globe").mkdir(parents=True)
    (tmp_path / "runs" / "globe" / "model").symlink_to(model_dir)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(_readme_pipeline_snippet(), namespace)
    classify = namespace["classify"]
    # Texts within the trained context (this test tokenizer spends many tokens per word):
    # the pipeline pads them to 64, globelens to 16, and both score them alike.
    labels = ["a red bus", "a blue thing", "一张绿东西的照片"]
    image = Image.new("RGB", (64, 64), (200, 40, 40))
    got = classify(image, candidate_labels=labels, hypothesis_template="{}")
    got = {r["label"]: r["score"] for r in got}
    assert max(len(enc.tokenizer(lab)["input_ids"]) for lab in labels) < 16
    want = enc.logits(enc.encode_images(enc.preprocess([image])), enc.encode_texts(labels))
    assert len(set(want[0].tolist())) == 3  # distinct texts, distinct scores
    assert torch.allclose(torch.tensor([got[lab] for lab in labels]), want[0].sigmoid(), atol=1e-5)


def test_stream_is_a_function_of_seed_and_step(shards: Path) -> None:
    src = SourceConfig("a", str(shards))
    s1, s2 = SourceStream(src, 7, 16), SourceStream(src, 7, 16)
    assert s1.take(90, 20) == s2.take(90, 20)  # across the epoch boundary, no replay
    epoch = s1.take(0, s1.size)
    assert len({r.key for r in epoch}) == s1.size  # every sample once per epoch
    assert [r.key for r in epoch] != [r.key for r in SourceStream(src, 8, 16).take(0, s1.size)]


def test_recipe_phases_and_ratios() -> None:
    plan = Plan(
        ["globe", "en"], [PhaseConfig(0.8, {"globe": 1}), PhaseConfig(1.0, {"en": 1})], 10, 8
    )
    assert [plan.counts[plan.phase_of(s)] for s in (0, 7, 8, 9)] == [
        {"globe": 8},
        {"globe": 8},
        {"en": 8},
        {"en": 8},
    ]
    assert plan.starts[9] == {"globe": 64, "en": 8}
    mixed = Plan(["a", "b"], [PhaseConfig(1.0, {"a": 3, "b": 1})], 4, 16)
    assert mixed.counts[0] == {"a": 12, "b": 4}
    with pytest.raises(ValueError, match="unknown source"):
        Plan(["a"], [PhaseConfig(1.0, {"zz": 1})], 4, 16)


def test_toml_config_and_typos(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        """
steps = 50
[optim]
beta2 = 0.95
[[data.sources]]
name = "globe"
pattern = "out/globe/{00000..00003}.tar"
caption_field = "caption_en"
[[data.phases]]
until = 0.8
mix = {globe = 1}
"""
    )
    cfg = load_config(path)
    assert isinstance(cfg, TrainConfig) and cfg.steps == 50
    assert cfg.data.sources[0].caption_field == "caption_en" and cfg.data.phases[0].until == 0.8
    path.write_text("[optim]\nbeta_2 = 0.9\n")
    with pytest.raises(ValueError, match="valid keys"):
        load_config(path)
    # Values are checked against the field types, in files and in Python alike.
    path.write_text('steps = "100"\n')
    with pytest.raises(TypeError, match=r"config key steps = '100' \(str\): expected int"):
        load_config(path)
    path.write_text('[[data.phases]]\nuntil = 1\nmix = {globe = "1"}\n')
    with pytest.raises(TypeError, match=r"config key data.phases\[0\].mix"):
        load_config(path)
    from globelens.train.loop import Trainer

    with pytest.raises(TypeError, match=r"config key batch_size = 12\.5"):
        Trainer(TrainConfig(out=str(tmp_path / "t"), batch_size=12.5))  # type: ignore[arg-type]
    from globelens.train.losses import loss_class

    assert loss_class("sigmoid").uses_bias and not loss_class("softmax").uses_bias
    assert (
        loss_class("softmax").caps_scale and loss_class("softmax").distributed_strategy == "gather"
    )


def test_decoded_cache_gives_the_same_batches(
    tmp_path: Path, shards: Path, tiny_tokenizer_dir: Path
) -> None:
    from globelens.train.config import config_from_dict
    from globelens.train.loop import Trainer

    datasets = []
    for mb in (0, 64):
        cfg = config_from_dict(_config(tmp_path / f"run{mb}", shards, tiny_tokenizer_dir, steps=12))
        cfg.data.decoded_cache_mb = mb
        cfg.data.workers = 0
        datasets.append(Trainer(cfg).make_loader().dataset)
    plain, cached = datasets
    for step in range(12):  # two epochs: the second is served from the cache
        a, b = plain.load(step, 0), cached.load(step, 0)
        assert torch.equal(a["pixel_values"], b["pixel_values"])
        assert torch.equal(a["input_ids"], b["input_ids"])
        assert a["bad"] == b["bad"]  # corrupt pictures are reported every time, never cached
    assert plain._decoded.bytes == 0
    assert 0 < cached._decoded.bytes <= 64 * 2**20
    # the caption is kept with its picture: the second epoch reads neither again
    assert all(isinstance(raw, str) for raw, _ in cached._decoded._items.values())


def test_truncated_shards_are_counted_not_lost(
    tmp_path: Path, shards: Path, tiny_tokenizer_dir: Path
) -> None:
    import shutil
    import tarfile

    from globelens.train.config import config_from_dict
    from globelens.train.loop import Trainer

    data = tmp_path / "data"
    shutil.copytree(shards, data)
    intact = SourceStream(SourceConfig("a", str(data)), 0, 16)
    assert not intact.problems
    victim = sorted(data.glob("*.tar"))[0]
    with tarfile.open(victim) as tar:
        member = [m for m in tar.getmembers() if m.name.endswith(".jpg")][10]
    cut_at = member.offset_data + member.size // 2  # through the 11th sample's picture
    victim.write_bytes(victim.read_bytes()[:cut_at])
    cut = SourceStream(SourceConfig("a", str(data)), 0, 16)
    assert cut.problems["truncated_tar"] == 1
    assert cut.problems["truncated_member"] == 1  # the half-written sample is dropped...
    assert 0 < cut.size < intact.size  # ...the samples before the cut are kept
    cfg = config_from_dict(_config(tmp_path / "run", data, tiny_tokenizer_dir, steps=2))
    assert Trainer(cfg).bad == {"a:truncated_member": 1, "a:truncated_tar": 1}


def test_an_unchanged_shard_is_indexed_once_per_process(tmp_path: Path, shards: Path) -> None:
    """Every task of a multitask run streams the same shards: their index is reused while
    the file is unchanged, and read again once it changes."""
    import shutil

    from globelens.data import index

    data = tmp_path / "data"
    shutil.copytree(shards, data)
    first = SourceStream(SourceConfig("a", str(data)), 0, 16)
    misses = index._index_cached.cache_info().misses
    second = SourceStream(SourceConfig("b", str(data)), 0, 16)
    assert index._index_cached.cache_info().misses == misses  # served from the cache
    assert second.size == first.size and not second.problems
    victim = sorted(data.glob("*.tar"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    third = SourceStream(SourceConfig("c", str(data)), 0, 16)
    assert index._index_cached.cache_info().misses == misses + 1
    assert third.problems["truncated_tar"] == 1 and third.size < first.size


def test_trainer_reads_samples_as_the_data_layer_does(tmp_path: Path) -> None:
    """One reader: the trainer's indexed reads give the streaming reader's reasons, and a
    non-object .json with a caption field is counted, not an AttributeError that stops
    training."""
    import io
    import tarfile

    from globelens.data import ReadReport, encode_image, read_shards
    from globelens.data.index import ShardFiles
    from globelens.data.shards import SampleProblem
    from globelens.train.data import BatchDataset, SampleError

    jpeg = encode_image(Image.new("RGB", (16, 16), "red"))
    members = {
        "a.jpg": jpeg, "a.txt": b"a caption", "a.json": b"[1, 2]",
        "b.jpg": jpeg, "b.txt": b"b caption", "b.json": b'{"caption_en": "in english"}',
        "c.jpg": jpeg, "c.txt": b"\xff\xfe", "c.json": b"{}",
    }  # fmt: skip
    shard = tmp_path / "00000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    report = ReadReport()
    assert [s.key for s in read_shards(str(shard), report)] == ["b"]
    streaming = {p.key: p.reason for p in report.problems}
    assert streaming == {"a": "malformed_json", "c": "invalid_utf8"}

    def reasons(caption_field: str | None) -> dict[str, str]:
        src = SourceConfig("s", str(shard), caption_field=caption_field)
        stream = SourceStream(src, 0, 16)
        ds = BatchDataset.__new__(BatchDataset)
        ds.streams, ds._files = {"s": stream}, ShardFiles()
        out = {}
        for ref in stream.take(0, stream.size):
            try:
                out[ref.key] = ds._caption("s", ref)
            except SampleProblem as e:
                out[ref.key] = e.reason
            except SampleError as e:
                out[ref.key] = str(e)
        return out

    assert reasons(None) == {**streaming, "b": "b caption"}
    assert reasons("caption_en") == {**streaming, "b": "in english"}
