"""Hugging Face model directories: what one must hold, its fingerprint, and the dual encoders
(SigLIP, CLIP) behind the ``DualEncoder`` protocol.

Each family is one entry of :data:`globelens.models.families.FAMILIES`, never a new branch here.
Only safetensors weights are loaded: pickle checkpoints can run code.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

# handed on: the server's classify route reads ACTIVATIONS from here
from globelens.models.families import ACTIVATIONS as ACTIVATIONS
from globelens.models.families import dual_encoder_family
from globelens.models.hub import local_model_path
from globelens.models.preprocess import Pixels, pixel_inputs
from globelens.models.textpositions import text_context

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.ckpt")
#: any one of them makes a tokenizer (``spiece.model``: SigLIP 1's SentencePiece model)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "spiece.model", "tokenizer.model")
#: what a tokenizer is read from, besides its config: all of them are in the fingerprint and
#: travel with a fine-tuned model
TOKENIZER_ASSETS = (
    "tokenizer.json",
    "spiece.model",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
)
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


#: where ``globelens train OUT`` writes its model, inside the output folder
TRAIN_MODEL_SUBDIR = "model"


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """``path``, or ``path/model`` when ``path`` is a training output folder (``globelens
    train --out PATH`` writes its model there) rather than a model directory; a Hub id's
    local snapshot (:mod:`globelens.models.hub`)."""
    p = local_model_path(path)
    inner = p / TRAIN_MODEL_SUBDIR
    if not (p / "config.json").is_file() and (inner / "config.json").is_file():
        return inner
    return p


def config_model_type(path: str | os.PathLike) -> str | None:
    """``model_type`` from a directory's config.json, or None when there is none (no file,
    unreadable JSON, no string there): what model discovery asks of every folder it walks."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return None
    try:
        value = json.loads(cfg.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def check_model_dir(path: str | os.PathLike) -> Path:
    """The model directory ``path`` names (a Hub id resolved, :mod:`globelens.models.hub`);
    raises a clear error naming what is missing from it."""
    p = local_model_path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"model directory {str(p)!r} does not exist")
    if not (p / "config.json").is_file():
        hint = ""
        if (p / TRAIN_MODEL_SUBDIR / "config.json").is_file():
            hint = f"; did you mean {p / TRAIN_MODEL_SUBDIR}?"
        raise FileNotFoundError(
            f"{p}: missing config.json (not a Hugging Face model directory){hint}"
        )
    if not any((p / f).is_file() for f in WEIGHT_FILES):
        pickles = [f for f in PICKLE_FILES if (p / f).is_file()]
        if pickles:
            raise ValueError(
                f"{p}: only pickle weights ({', '.join(pickles)}); globelens loads safetensors "
                "only, because unpickling can run arbitrary code. Convert them with "
                "`model.save_pretrained(dir, safe_serialization=True)` in a trusted environment."
            )
        raise FileNotFoundError(f"{p}: missing weights file (expected one of {WEIGHT_FILES})")
    if not any((p / f).is_file() for f in TOKENIZER_FILES):
        raise FileNotFoundError(f"{p}: missing tokenizer (expected one of {TOKENIZER_FILES})")
    if not any((p / f).is_file() for f in PROCESSOR_FILES):
        raise FileNotFoundError(
            f"{p}: missing image processor config (expected one of {PROCESSOR_FILES})"
        )
    return p


def _file_digest(path: Path, full_below: int = 64 << 20, chunks: int = 64) -> str:
    """Digest of a weights file: all of it when small, else size + header + strided chunks."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(f"{path.name}:{size}".encode())
    with open(path, "rb") as fh:
        if size <= full_below:
            h.update(fh.read())
        else:
            step = size // chunks
            for i in range(chunks):
                fh.seek(i * step)
                h.update(fh.read(1 << 16))
    return h.hexdigest()


#: config keys that say how or where a directory was saved, not what the model is: transformers
#: adds or rewrites them on a mere re-save (``dtype`` in each sub-config, ``is_local``,
#: ``local_files_only``), so they must not change the fingerprint. The weights' dtype is
#: still covered by the weights digest.
VOLATILE_CONFIG_KEYS = frozenset(
    {
        "dtype",
        "torch_dtype",
        "is_local",
        "local_files_only",
        "transformers_version",
        "_name_or_path",
    }
)


def _stable_json(value: Any) -> Any:
    """``value`` without :data:`VOLATILE_CONFIG_KEYS`, at any depth."""
    if isinstance(value, dict):
        return {k: _stable_json(v) for k, v in value.items() if k not in VOLATILE_CONFIG_KEYS}
    if isinstance(value, list):
        return [_stable_json(v) for v in value]
    return value


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _image_processor_config(p: Path) -> dict[str, Any] | None:
    """The image processor as transformers loads it: ``processor_config.json``'s nested
    ``image_processor`` first, else ``preprocessor_config.json`` (a re-save may write only the
    nested one), beside the processor's other keys."""
    legacy, processor = (_read_json(p / name) for name in PROCESSOR_FILES)
    if legacy is None and processor is None:
        return None
    merged = dict(processor or {})
    if "image_processor" not in merged and legacy is not None:
        merged["image_processor"] = legacy
    return merged


def model_fingerprint(path: str | os.PathLike) -> str:
    """Hash of what a model directory holds: config, weights (content digest), image processor
    and tokenizer, without the keys a re-save changes (:data:`VOLATILE_CONFIG_KEYS`)."""
    p = Path(path)
    h = hashlib.sha256()
    configs = {
        "config.json": _read_json(p / "config.json"),
        "image_processor": _image_processor_config(p),
        "tokenizer_config.json": _read_json(p / "tokenizer_config.json"),
    }
    for name, config in configs.items():
        if config is not None:
            h.update(name.encode())
            h.update(json.dumps(_stable_json(config), sort_keys=True).encode())
    for f in sorted(p.glob("*.safetensors")):
        h.update(_file_digest(f).encode())
    for name in TOKENIZER_ASSETS:
        if (p / name).is_file():
            h.update(_file_digest(p / name).encode())
    return h.hexdigest()[:16]


class HFDualEncoder:
    """A transformers SigLIP/CLIP model with its processor, as a :class:`DualEncoder`."""

    def __init__(self, path: str | os.PathLike, device: str | torch.device = "cpu") -> None:
        from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

        p = check_model_dir(path)
        config = AutoConfig.from_pretrained(p, local_files_only=True)
        try:
            family = dual_encoder_family(config.model_type)
        except ValueError as e:
            raise ValueError(f"{p}: {e}") from e
        model = family.model_class().from_pretrained(p, local_files_only=True, use_safetensors=True)
        self._setup(
            model,
            AutoTokenizer.from_pretrained(p, local_files_only=True),
            AutoImageProcessor.from_pretrained(p, local_files_only=True),
            device,
        )
        self.path = str(p)
        self.fingerprint = model_fingerprint(p)
        if self.text is not self.family.text:
            # a released checkpoint's conventions are part of what its text embeddings are:
            # caches keyed before they were applied (e.g. SigLIP 2 not lower-cased) must miss
            digest = hashlib.sha256(f"{self.fingerprint}:{self.text.name}".encode())
            self.fingerprint = digest.hexdigest()[:16]

    def _setup(self, model: Any, tokenizer: Any, image_processor: Any, device: Any) -> None:
        self.family = dual_encoder_family(model.config.model_type)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.text = self.family.text_for(tokenizer)
        self.image_processor = image_processor
        self.transform = self.family.image_transform(image_processor)
        self.image_size = self.transform.image_size
        # the trained context (a saved model may carry more positions, for pipelines)
        self.max_text_len = text_context(model.config, tokenizer)

    @classmethod
    def from_loaded(
        cls, model: Any, tokenizer: Any, image_processor: Any, fingerprint: str = "live"
    ) -> HFDualEncoder:
        """Wrap an in-memory model (e.g. during training); the caller restores train mode."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, image_processor, next(model.parameters()).device)
        self.path, self.fingerprint = "", fingerprint
        return self

    def preprocess(self, images: Sequence[Image.Image]) -> Pixels:
        return self.transform(images)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """The text tower's inputs as the model was trained (:class:`TextConvention`)."""
        return self.text.model_inputs(self.text.encode(self.tokenizer, texts, self.max_text_len))

    @torch.no_grad()
    def encode_images(self, pixel_values: Pixels) -> torch.Tensor:
        out = self.model.get_image_features(**pixel_inputs(pixel_values, self.device))
        return F.normalize(_pooled(out).float(), dim=-1)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        parts = []
        for i in range(0, len(texts), batch_size):
            enc = {
                k: v.to(self.device) for k, v in self.tokenize(texts[i : i + batch_size]).items()
            }
            parts.append(F.normalize(_pooled(self.model.get_text_features(**enc)).float(), dim=-1))
        if not parts:
            cfg = self.model.config
            dim = getattr(cfg.text_config, "projection_size", None) or cfg.projection_dim
            return torch.zeros(0, dim)
        return torch.cat(parts)

    @torch.no_grad()
    def logits(self, image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        return self.family.logits(
            self.model, image_embeds.to(self.device), text_embeds.to(self.device)
        ).float()


def _pooled(out: Any) -> torch.Tensor:
    # transformers 5 returns a ModelOutput whose pooler_output is the projected embedding;
    # older releases return the tensor itself.
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def load_dual_encoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> HFDualEncoder:
    """Load a SigLIP/CLIP model directory (safetensors only) as a ``DualEncoder``."""
    return HFDualEncoder(path, device=device)
