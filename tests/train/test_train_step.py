"""The training step's text compaction equals the full padded length (SigLIP pools the last
position), and the optimizer groups the logit scale and bias apart."""

from __future__ import annotations

from pathlib import Path

import torch

from globelens.train.config import OptimConfig
from globelens.train.step import DualTowers, compact_padding, make_optimizer


def test_compacted_text_equals_full_padding(tiny_model_dir: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(tiny_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = ["a red bus", "城市街道上的红色公共汽车 " * 3, "สุนัขนอนหลับ", "x"]
    enc = tok(texts, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
    ids, _, pos = compact_padding(enc["input_ids"], enc["attention_mask"])
    assert pos is not None and ids.shape[1] < 64 and int(pos[0, -1]) == 63
    pixels = torch.randn(4, 3, *(2 * [model.config.vision_config.image_size]))
    with torch.no_grad():
        full = DualTowers(model)(pixels, enc["input_ids"], enc["attention_mask"])
        fast = DualTowers(model, compact_text=True)(pixels, enc["input_ids"], enc["attention_mask"])
    assert torch.allclose(full[1], fast[1], atol=1e-5)
    # Text reaching the last position: nothing to drop.
    long = tok(["word " * 100], padding="max_length", max_length=64, truncation=True)
    ids = torch.tensor(long["input_ids"])
    assert compact_padding(ids, torch.tensor(long["attention_mask"]))[2] is None


def test_logit_parameters_get_their_own_lr(tiny_model_dir: Path) -> None:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_model_dir)
    opt = make_optimizer(model, OptimConfig(logit_lr_mult=10.0))
    groups = {g["lr_mult"]: g for g in opt.param_groups}
    assert {id(p) for p in groups[10.0]["params"]} == {
        id(model.logit_scale),
        id(model.logit_bias),
    }
    assert groups[10.0]["weight_decay"] == 0.0
    assert opt.defaults.get("fused")  # float32 on the CPU: the fused kernel
