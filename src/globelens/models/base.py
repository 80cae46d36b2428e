"""The model protocols every task depends on (never on a model class)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from PIL import Image

from globelens.models.preprocess import Pixels


@runtime_checkable
class DualEncoder(Protocol):
    """A contrastive image-text model (SigLIP, CLIP): both towers map into one space.

    Embeddings returned by ``encode_*`` are L2-normalised. ``preprocess`` reproduces the
    model's own image processor (resize, crop, rescale, normalise) with fast tensor ops, so
    evaluation, curation and training cannot diverge from what ``transformers`` does.
    """

    #: square input resolution in pixels (NaFlex: the side of a square picture at the full
    #: patch budget)
    image_size: int
    #: identifies the weights and preprocessing (used to key embedding caches)
    fingerprint: str

    def preprocess(self, images: Sequence[Image.Image]) -> Pixels:
        """RGB PIL images -> float tensor (N, 3, H, W) ready for ``encode_images``, or, for
        a model that sees each picture at its own size (SigLIP 2 NaFlex), :class:`Patches`."""
        ...

    def encode_images(self, pixel_values: Pixels) -> torch.Tensor:
        """What ``preprocess`` returned (N pictures) -> (N, D) L2-normalised image embeddings."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """N strings -> (N, D) L2-normalised text embeddings."""
        ...

    def logits(self, image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """(N, D), (M, D) -> (N, M) logits as the model's forward computes them
        (cosine similarity times the learned scale, plus the bias for SigLIP)."""
        ...


@dataclass(frozen=True)
class Generation:
    """One generated answer: the text, its tokens and how likely the model found them.

    ``text`` is the decoded suffix with ``<locDDDD>``/``<segDDD>`` tokens kept and
    ``<eos>``/padding stripped; ``logprob`` is the sum of the generated tokens' log-probabilities
    (the sequence log-probability; for beam search, the chosen beam's).
    """

    text: str
    token_ids: tuple[int, ...]
    logprob: float


@runtime_checkable
class Generator(Protocol):
    """A generative image-text model (PaliGemma): (image, prompt) -> text.

    The prompt is a task-language prefix (``globelens.models.tasklang``): ``caption en``,
    ``answer en what is this?``, ``detect stove ; lamp``, ``segment bed`` ...
    """

    #: square input resolution in pixels
    image_size: int
    #: identifies the weights, tokenizer and processor (used to key generation caches)
    fingerprint: str

    def generate(
        self,
        images: Sequence[Image.Image],
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 32,
        num_beams: int = 1,
        batch_size: int = 16,
    ) -> list[Generation]:
        """One :class:`Generation` per (image, prompt) pair, in input order; batched with
        the KV cache, greedy when ``num_beams == 1``."""
        ...
