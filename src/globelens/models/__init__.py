"""Model adapters (``DualEncoder``), presets, and the multilingual tokenizer."""

from globelens.models.base import DualEncoder
from globelens.models.families import FAMILIES, register_family
from globelens.models.hf import HFDualEncoder, load_dual_encoder, model_fingerprint
from globelens.models.presets import PRESETS, build_model, get_preset
from globelens.models.tokenizer import bytes_per_token, load_tokenizer, train_tokenizer

__all__ = [
    "FAMILIES",
    "PRESETS",
    "DualEncoder",
    "HFDualEncoder",
    "build_model",
    "bytes_per_token",
    "get_preset",
    "load_dual_encoder",
    "load_tokenizer",
    "model_fingerprint",
    "register_family",
    "train_tokenizer",
]
