"""Architecture presets as data (``presets.json``) and a factory for fresh model directories.

A preset describes the towers once; each dual encoder family's ``builder``
(:data:`globelens.models.families.FAMILIES`) turns it into that family's config and image
processor. ``build_model`` writes a complete Hugging Face directory that ``AutoModel`` /
``AutoProcessor`` / ``pipeline`` load offline.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from globelens.models.families import SIGLIP_INIT, dual_encoder_family
from globelens.models.textpositions import save_for_pipelines
from globelens.models.tokenizer import EOS, PAD, load_tokenizer


def load_presets() -> dict[str, dict[str, Any]]:
    text = resources.files("globelens.models").joinpath("presets.json").read_text()
    return json.loads(text)


PRESETS: dict[str, dict[str, Any]] = load_presets()


def get_preset(name: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(name, dict):
        return name
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; available presets: {sorted(PRESETS)}")
    return PRESETS[name]


def build_model(
    preset: str | dict[str, Any],
    tokenizer: str | os.PathLike | Any,
    out_dir: str | os.PathLike,
    seed: int = 0,
    model_type: str = "siglip",
    init: dict[str, float] | None = None,
) -> Path:
    """Write a randomly initialised model directory for ``preset`` with ``tokenizer``.

    ``tokenizer``: a directory holding one (see ``train_tokenizer``) or a loaded tokenizer.
    The vocabulary size comes from the tokenizer. ``init`` overrides the preset's initial
    ``logit_scale`` (the temperature t, not its log) and ``logit_bias``. Returns ``out_dir``.
    """
    p = get_preset(preset)
    if init:
        unknown = sorted(set(init) - set(SIGLIP_INIT))
        if unknown:
            raise KeyError(f"unknown init key(s) {unknown}; valid: {sorted(SIGLIP_INIT)}")
        p = {**p, "init": {**p.get("init", {}), **init}}
    builder = dual_encoder_family(model_type).builder
    if builder is None:
        raise ValueError(f"model_type {model_type!r} is loaded, not built, by globelens")
    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str | os.PathLike) else tokenizer
    ids = {"pad": tok.convert_tokens_to_ids(PAD), "eos": tok.convert_tokens_to_ids(EOS)}
    tok.model_max_length = p["text"]["context"]
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = builder.make_model(p, len(tok), ids)
    finally:
        torch.random.set_rng_state(state)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_for_pipelines(model, out)
    image_processor = builder.make_image_processor(p)
    image_processor.save_pretrained(out)  # preprocessor_config.json, for tools that want it
    builder.processor_class()(image_processor=image_processor, tokenizer=tok).save_pretrained(out)
    return out
