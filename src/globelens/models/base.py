"""The model protocols every task depends on (never on a model class)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
from PIL import Image


@runtime_checkable
class DualEncoder(Protocol):
    """A contrastive image-text model (SigLIP, CLIP): both towers map into one space.

    Embeddings returned by ``encode_*`` are L2-normalised. ``preprocess`` reproduces the
    model's own image processor (resize, crop, rescale, normalise) with fast tensor ops, so
    evaluation, curation and training cannot diverge from what ``transformers`` does.
    """

    #: square input resolution in pixels
    image_size: int
    #: identifies the weights and preprocessing (used to key embedding caches)
    fingerprint: str

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB PIL images -> float tensor (N, 3, H, W) ready for ``encode_images``."""
        ...

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, D) L2-normalised image embeddings."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """N strings -> (N, D) L2-normalised text embeddings."""
        ...

    def logits(self, image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """(N, D), (M, D) -> (N, M) logits as the model's forward computes them
        (cosine similarity times the learned scale, plus the bias for SigLIP)."""
        ...
