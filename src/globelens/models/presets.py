"""Architecture presets as data (``presets.json``) and a factory for fresh model directories.

A preset describes the towers once; a builder per model family (SigLIP, CLIP) turns it into
that family's config and image processor. ``build_model`` writes a complete Hugging Face
directory that ``AutoModel`` / ``AutoProcessor`` / ``pipeline`` load offline.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from globelens.models.textpositions import save_for_pipelines
from globelens.models.tokenizer import EOS, PAD, load_tokenizer


def load_presets() -> dict[str, dict[str, Any]]:
    text = resources.files("globelens.models").joinpath("presets.json").read_text()
    return json.loads(text)


PRESETS: dict[str, dict[str, Any]] = load_presets()
#: the SigLIP paper's initial temperature t = exp(t') and bias b
SIGLIP_INIT = {"logit_scale": 10.0, "logit_bias": -10.0}


def get_preset(name: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(name, dict):
        return name
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; available presets: {sorted(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class Builder:
    """Makes (model, image processor) for one family from a preset and special token ids."""

    make_model: Callable[[dict[str, Any], int, dict[str, int]], Any]
    make_image_processor: Callable[[dict[str, Any]], Any]
    processor_class: Callable[[], type]


def _tower_kwargs(
    p: dict[str, Any], vocab: int, ids: dict[str, int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Text and vision config kwargs common to SigLIP and CLIP, from a preset."""
    v, t = p["vision"], p["text"]
    text = dict(
        vocab_size=vocab,
        hidden_size=t["width"],
        intermediate_size=t["mlp"],
        num_hidden_layers=t["layers"],
        num_attention_heads=t["heads"],
        max_position_embeddings=t["context"],
        pad_token_id=ids["pad"],
        # SigLIP pools the last position, CLIP the first EOS (any id but the legacy 2)
        eos_token_id=ids["eos"],
        bos_token_id=None,
    )
    vision = dict(
        image_size=p["image_size"],
        patch_size=p["patch_size"],
        hidden_size=v["width"],
        intermediate_size=v["mlp"],
        num_hidden_layers=v["layers"],
        num_attention_heads=v["heads"],
    )
    return text, vision


def _siglip_model(p: dict[str, Any], vocab: int, ids: dict[str, int]) -> Any:
    import torch
    from transformers import SiglipConfig, SiglipModel

    text, vision = _tower_kwargs(p, vocab, ids)
    config = SiglipConfig(
        text_config={**text, "projection_size": p["embed_dim"]}, vision_config=vision
    )
    if p["embed_dim"] != p["vision"]["width"]:
        raise ValueError("SigLIP's vision head keeps the width: set embed_dim = vision width")
    model = SiglipModel(config)
    # SigLIP's initialisation (Zhai et al. 2023): t' = log 10, b = -10 (transformers zeroes
    # both); a preset or the caller may choose others (``init.logit_scale`` / ``logit_bias``).
    init = p.get("init", {})
    with torch.no_grad():
        model.logit_scale.fill_(math.log(init.get("logit_scale", SIGLIP_INIT["logit_scale"])))
        model.logit_bias.fill_(init.get("logit_bias", SIGLIP_INIT["logit_bias"]))
    return model


def _siglip_image_processor(p: dict[str, Any]) -> Any:
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    s = p["image_size"]
    return SiglipImageProcessorPil(size={"height": s, "width": s})


def _clip_model(p: dict[str, Any], vocab: int, ids: dict[str, int]) -> Any:
    import torch
    from transformers import CLIPConfig, CLIPModel

    text, vision = _tower_kwargs(p, vocab, ids)
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=p["embed_dim"])
    model = CLIPModel(config)
    if "logit_scale" in p.get("init", {}):  # else CLIP's own 1/0.07
        with torch.no_grad():
            model.logit_scale.fill_(math.log(p["init"]["logit_scale"]))
    return model


def _clip_image_processor(p: dict[str, Any]) -> Any:
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    s = p["image_size"]
    return CLIPImageProcessorPil(size={"shortest_edge": s}, crop_size={"height": s, "width": s})


def _proc(name: str) -> Callable[[], type]:
    def get() -> type:
        import transformers

        return getattr(transformers, name)

    return get


BUILDERS: dict[str, Builder] = {
    "siglip": Builder(_siglip_model, _siglip_image_processor, _proc("SiglipProcessor")),
    "clip": Builder(_clip_model, _clip_image_processor, _proc("CLIPProcessor")),
}


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
    import torch

    p = get_preset(preset)
    if init:
        unknown = sorted(set(init) - set(SIGLIP_INIT))
        if unknown:
            raise KeyError(f"unknown init key(s) {unknown}; valid: {sorted(SIGLIP_INIT)}")
        p = {**p, "init": {**p.get("init", {}), **init}}
    if model_type not in BUILDERS:
        raise KeyError(f"unknown model_type {model_type!r}; available: {sorted(BUILDERS)}")
    builder = BUILDERS[model_type]
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
