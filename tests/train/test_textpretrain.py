"""The pretrained decoder (``globelens textpretrain``) and the options that start a PaliGemma
from it or partly unfreeze its tower, on the embedded world's real scene shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from globelens.cli.main import app
from globelens.train.config import vlm_config_from_dict
from globelens.train.textpretrain import INFO_FILE, TextPretrainConfig, task_texts


@pytest.fixture(scope="module")
def decoder(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny decoder pretrained through the CLI (30 steps; JSON lines on stdout)."""
    out = tmp_path_factory.mktemp("decoder") / "dec"
    args = ["textpretrain", "--data", str(tiny_world / "scenes" / "*.tar"), "--out", str(out),
            "--steps", "30", "--batch-size", "8", "--vocab", "400"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # JSON lines on stdout (a library's progress bar may share the captured output)
    lines = [line[line.index('{"event"') :] for line in result.output.splitlines()
             if '{"event"' in line]  # fmt: skip
    events = [json.loads(line) for line in lines]
    assert events[0]["event"] == "textpretrain_start"
    assert events[-1]["event"] == "textpretrain_end"
    return out


def test_texts_are_the_generative_tasks_sequences(tiny_world: Path) -> None:
    cfg = TextPretrainConfig(out="unused", data=[str(tiny_world / "scenes" / "*.tar")],
                             kinds=("caption", "answer", "detect"), draws=1)  # fmt: skip
    corpus = task_texts(cfg)
    assert corpus.samples > 0 and len(corpus.texts) == 3 * corpus.samples - sum(
        corpus.skipped.values()
    )
    assert all(t.startswith("<bos>") and t.endswith("<eos>") and "\n" in t for t in corpus.texts)
    prefixes = {t.removeprefix("<bos>").split(" ")[0] for t in corpus.texts}
    assert prefixes == {"caption", "answer", "detect"}
    assert any("<loc" in t for t in corpus.texts)  # detection lists carry their boxes
    with pytest.raises(ValueError, match="not text-only"):
        task_texts(TextPretrainConfig(out="unused", data=cfg.data, kinds=("segment",)))


def test_pretraining_lowers_the_loss_and_records_its_cost(decoder: Path) -> None:
    info = json.loads((decoder / INFO_FILE).read_text())
    assert info["texts"] > 100 and info["cpu_s"] > 0
    assert info["final_loss"] < 5.0  # from ~ln(vocab) = 7.5 at the start
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(decoder)
    assert {"<image>", "<loc0000>", "<seg127>"} <= set(tok.get_vocab())
    assert AutoModelForCausalLM.from_pretrained(decoder).config.vocab_size == len(tok)


def _vlm_config(out: Path, tiny_world: Path, model: dict) -> dict:
    return {
        "out": str(out), "steps": 2, "batch_size": 4, "seed": 1, "threads": 1,
        "progress": False, "log_every": 1,
        "data": {"sources": [{"name": "world", "pattern": str(tiny_world / "scenes")}],
                 "workers": 0},
        "tasks": [{"name": "caption"}, {"name": "detect"}],
        "model": {"tokenizer_vocab": 400, **model},
        "checkpoint": {"every": 0, "keep": 1},
    }  # fmt: skip


def test_decoder_init_starts_the_paligemma_decoder(
    decoder: Path, tiny_world: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from globelens.train.generative import GenerativeObjective
    from globelens.train.loop import Trainer

    model = {"vision": str(tiny_model_dir), "decoder_init": str(decoder), "freeze_vision": True}
    cfg = vlm_config_from_dict(_vlm_config(tmp_path / "run", tiny_world, model))
    trainer = Trainer(cfg, objective=GenerativeObjective)
    lm = load_file(decoder / "model.safetensors")
    start = trainer.hf_model.model.language_model.state_dict()
    assert lm and all(torch.equal(start[k.removeprefix("model.")], v)
                      for k, v in lm.items() if k.startswith("model."))  # fmt: skip
    ours = AutoTokenizer.from_pretrained(tmp_path / "run" / "init")
    theirs = AutoTokenizer.from_pretrained(decoder)
    assert ours.get_vocab() == theirs.get_vocab()
    model_dir = trainer.run()
    assert (model_dir / "model.safetensors").is_file()


def test_unfreeze_last_n_trains_only_the_towers_last_layers(
    tiny_world: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from globelens.train.generative import GenerativeObjective
    from globelens.train.loop import Trainer

    model = {"vision": str(tiny_model_dir), "freeze_vision": True, "unfreeze_last_n": 1}
    cfg = vlm_config_from_dict(_vlm_config(tmp_path / "u", tiny_world, model))
    trainer = Trainer(cfg, objective=GenerativeObjective)
    tower = trainer.hf_model.model.vision_tower
    vm = getattr(tower, "vision_model", tower)
    last = len(vm.encoder.layers) - 1
    for name, p in tower.named_parameters():
        trains = f"encoder.layers.{last}." in name or "post_layernorm" in name
        assert p.requires_grad == trains, name
    with pytest.raises(ValueError, match="frozen tower"):
        bad = {"vision": str(tiny_model_dir), "unfreeze_last_n": 1}
        Trainer(vlm_config_from_dict(_vlm_config(tmp_path / "b", tiny_world, bad)),
                objective=GenerativeObjective)  # fmt: skip
