"""Model families, one registry: a ``config.json`` ``model_type`` -> how that family is built,
loaded and driven.

A family record says which kind of model it is (``kind``: a key of
:data:`globelens.models.kinds.KINDS`, which says how a kind is loaded, evaluated and served),
its transformers class, and what its kind needs of it: a dual encoder's text conventions,
logit head, loss and the builder of fresh models from a preset; a generator's class alone.
Adding a family is one :func:`register_family` call; evaluation, training, ``classify``,
``ask`` and the server then find it by its ``model_type``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from globelens.models.preprocess import ImageTransform, PatchTransform


@dataclass(frozen=True)
class TextConvention:
    """How a family's text was prepared when it was trained: padding, attention mask, case.

    Inference and fine-tuning both tokenize through :meth:`encode`, so what a model reads
    cannot differ between ``classify``, ``eval``, ``serve`` and ``train``.
    """

    name: str
    #: tokenizer padding ("max_length": the full context, as SigLIP was trained)
    padding: str
    #: the padding is masked (False: the model attends to its padding, as SigLIP 1 was
    #: trained, padded with ``</s>`` to 64 tokens and no mask)
    mask_padding: bool = True
    #: lower-case the text first (SigLIP 2 was trained on lower-cased text; SigLIP 1's own
    #: tokenizer lower-cases, CLIP's BPE too)
    lowercase: bool = False

    def encode(self, tokenizer: Any, texts: Sequence[str], length: int) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` (all ones when the padding is not masked)."""
        items = [t.lower() for t in texts] if self.lowercase else list(texts)
        enc = tokenizer(
            items, padding=self.padding, max_length=length, truncation=True, return_tensors="pt"
        )
        ids = enc["input_ids"]
        mask = enc.get("attention_mask") if self.mask_padding else None
        return {
            "input_ids": ids,
            "attention_mask": mask if mask is not None else torch.ones_like(ids),
        }

    def model_inputs(self, enc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What the text tower is given: without the mask when the padding is not masked
        (all ones, so the same numbers, on the path transformers takes for such a model)."""
        return enc if self.mask_padding else {"input_ids": enc["input_ids"]}


@dataclass(frozen=True)
class Builder:
    """Makes (model, image processor) for one family from a preset and special token ids
    (``globelens.models.presets.build_model``)."""

    make_model: Callable[[dict[str, Any], int, dict[str, int]], Any]
    make_image_processor: Callable[[dict[str, Any]], Any]
    processor_class: Callable[[], type]


@dataclass(frozen=True)
class DualEncoderFamily:
    """A dual encoder family (pictures against phrases): its class, text conventions, loss,
    logit head and builder."""

    kind: ClassVar[str] = "dual_encoder"

    name: str
    #: returns the transformers model class (imported lazily)
    model_class: Callable[[], type]
    #: the text conventions of the family's own (globelens-trained) models
    text: TextConvention
    #: (model, image_embeds, text_embeds) -> (N_images, M_texts) logits
    logits: Callable[[Any, torch.Tensor, torch.Tensor], torch.Tensor]
    #: tokenizer class (without "Fast") -> the text conventions of a released checkpoint whose
    #: tokenizer differs from the family's own
    released_text: Mapping[str, TextConvention] = field(default_factory=dict)
    #: the text tower pools the last position (SigLIP), so masked padding before it can be
    #: dropped in training (``globelens.train.step.compact_padding``)
    pools_last: bool = False
    #: the text length transformers' zero-shot pipeline pads this family to (SigLIP: always
    #: 64; CLIP pads to the longest text): saved models get that many positions
    #: (``globelens.models.textpositions``)
    pipeline_text_length: int | None = None
    #: how logits become probabilities, as the family was trained and as transformers'
    #: zero-shot pipeline scores it: "sigmoid" per text (SigLIP) or "softmax" over the texts
    #: (CLIP); a key of :data:`ACTIVATIONS`
    activation: str = "softmax"
    #: the contrastive loss it is fine-tuned with unless told otherwise (``train.losses``)
    loss: str = "softmax"
    #: (transformers image processor) -> the transform that reproduces it: a fixed size
    #: (:class:`ImageTransform`) or patches at each picture's own size (:class:`PatchTransform`)
    image_transform: Callable[[Any], ImageTransform | PatchTransform] = (
        ImageTransform.from_processor
    )
    #: how ``build_model`` makes a fresh one from a preset; None: load only
    builder: Builder | None = None
    #: why ``globelens train`` cannot fine-tune it, or None when it can
    not_trainable: str | None = None

    @property
    def padding(self) -> str:
        return self.text.padding

    def text_for(self, tokenizer: Any) -> TextConvention:
        """The conventions a model of this family with ``tokenizer`` was trained with."""
        found = self.released_text.get(type(tokenizer).__name__.removesuffix("Fast"))
        return found if found is not None else self.text


@dataclass(frozen=True)
class GeneratorFamily:
    """A generative family (text from a picture and a prompt): its model class."""

    kind: ClassVar[str] = "generator"

    name: str
    #: returns the transformers model class (imported lazily)
    model_class: Callable[[], type]


Family = DualEncoderFamily | GeneratorFamily

#: ``config.json`` ``model_type`` -> its family
FAMILIES: dict[str, Family] = {}


def register_family(model_type: str, family: Family) -> None:
    FAMILIES[model_type] = family


def families_of(kind: str) -> list[str]:
    """The ``model_type`` values of one kind, in registration order."""
    return [t for t, f in FAMILIES.items() if f.kind == kind]


def dual_encoder_family(model_type: str | None) -> DualEncoderFamily:
    """The dual encoder family of ``model_type``; an error naming the known ones otherwise."""
    family = FAMILIES.get(model_type or "")
    if not isinstance(family, DualEncoderFamily):
        raise ValueError(
            f"model_type {model_type!r} is not a supported dual encoder; "
            f"supported: {sorted(families_of(DualEncoderFamily.kind))}"
        )
    return family


def generator_family(model_type: str | None) -> GeneratorFamily:
    """The generative family of ``model_type``; an error naming the known ones otherwise."""
    family = FAMILIES.get(model_type or "")
    if not isinstance(family, GeneratorFamily):
        raise ValueError(
            f"model_type {model_type!r} is not a supported generator; "
            f"supported: {sorted(families_of(GeneratorFamily.kind))}"
        )
    return family


#: ``DualEncoderFamily.activation`` -> logits -> probabilities (over the texts, the last dimension)
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "softmax": lambda logits: logits.softmax(dim=-1),
}


def _cls(module: str, name: str) -> Callable[[], type]:
    def get() -> type:
        return getattr(importlib.import_module(module), name)

    return get


def _siglip_logits(model: Any, img: torch.Tensor, txt: torch.Tensor) -> torch.Tensor:
    return img @ txt.T * model.logit_scale.exp() + model.logit_bias


def _clip_logits(model: Any, img: torch.Tensor, txt: torch.Tensor) -> torch.Tensor:
    return img @ txt.T * model.logit_scale.exp()


# -- builders of fresh models from a preset (``globelens.models.presets``) -------------------

#: the SigLIP paper's initial temperature t = exp(t') and bias b
SIGLIP_INIT = {"logit_scale": 10.0, "logit_bias": -10.0}


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


# -- the families ----------------------------------------------------------------------------

#: SigLIP 2's text, at a fixed resolution and NaFlex alike: Gemma's tokenizer, padded to 64,
#: trained on lower-cased text
SIGLIP2_TEXT = TextConvention("siglip2", "max_length", lowercase=True)

# SigLIP 1 releases ship a SentencePiece ``spiece.model`` (``SiglipTokenizer``, pads with
# ``</s>``, trained without a mask); SigLIP 2 at a fixed resolution is a ``siglip`` model with
# Gemma's tokenizer, trained on lower-cased text.
register_family(
    "siglip",
    DualEncoderFamily(
        "siglip",
        _cls("transformers", "SiglipModel"),
        TextConvention("siglip", "max_length"),
        _siglip_logits,
        released_text={
            "SiglipTokenizer": TextConvention("siglip1", "max_length", mask_padding=False),
            "GemmaTokenizer": SIGLIP2_TEXT,
        },
        pools_last=True,
        pipeline_text_length=64,
        activation="sigmoid",
        loss="sigmoid",
        builder=Builder(
            _siglip_model, _siglip_image_processor, _cls("transformers", "SiglipProcessor")
        ),
    ),
)
# SigLIP 2 NaFlex: SigLIP's towers and head, the text of the fixed-resolution SigLIP 2 (Gemma's
# tokenizer, lower-cased, padded to 64), pictures as a variable number of patches.
register_family(
    "siglip2",
    DualEncoderFamily(
        "siglip2",
        _cls("transformers", "Siglip2Model"),
        SIGLIP2_TEXT,
        _siglip_logits,
        pools_last=True,
        pipeline_text_length=64,
        activation="sigmoid",
        loss="sigmoid",
        image_transform=PatchTransform.from_processor,
        not_trainable="SigLIP 2 NaFlex (variable patches per picture) can be evaluated and "
        "served but not fine-tuned by globelens; fine-tune a fixed-resolution SigLIP 2 "
        "(google/siglip2-*-patch16-224 ... -512)",
    ),
)
# CLIP pools the text at the first EOS token, so padding only needs to reach the longest text.
register_family(
    "clip",
    DualEncoderFamily(
        "clip",
        _cls("transformers", "CLIPModel"),
        TextConvention("clip", "longest"),
        _clip_logits,
        builder=Builder(_clip_model, _clip_image_processor, _cls("transformers", "CLIPProcessor")),
    ),
)
# PaliGemma 1 (Gemma decoder) and 2 (Gemma 2 decoder) share the model_type "paligemma"; fresh
# ones are built by ``globelens.models.vlm.build_paligemma`` from a decoder preset.
register_family(
    "paligemma",
    GeneratorFamily("paligemma", _cls("transformers", "AutoModelForImageTextToText")),
)

__all__ = [
    "ACTIVATIONS",
    "FAMILIES",
    "SIGLIP2_TEXT",
    "SIGLIP_INIT",
    "Builder",
    "DualEncoderFamily",
    "Family",
    "GeneratorFamily",
    "TextConvention",
    "dual_encoder_family",
    "families_of",
    "generator_family",
    "register_family",
]
