"""CLIP score filtering with any DualEncoder: keep a top fraction or everything above a
threshold of image-caption cosine similarity (DataComp's ``clip_score`` baselines)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from globelens.curate.base import GlobalStep, pixels, register_step
from globelens.data import ImageDecodeError, Sample


@lru_cache(maxsize=2)
def _load_model(path: str):  # type: ignore[no-untyped-def]
    # Loaded once per worker process; torch and transformers are imported only here.
    from globelens.models import load_dual_encoder

    return load_dual_encoder(path)


@register_step("clip_score")
class ClipScore(GlobalStep):
    """Score each pair by the cosine similarity of the model's normalised image and caption
    embeddings, written to ``clip_score`` in the metadata. Exactly one of ``fraction`` (keep
    the top fraction of all candidates, e.g. 0.3) or ``threshold`` (e.g. 0.28) is required.
    Ties at the fraction's boundary go to the earlier sample in input order."""

    needs_pixels = True

    def __init__(
        self,
        model: str,
        fraction: float | None = None,
        threshold: float | None = None,
        batch_size: int = 64,
    ) -> None:
        if (fraction is None) == (threshold is None):
            raise ValueError("clip_score needs exactly one of 'fraction' or 'threshold'")
        if fraction is not None and not 0.0 < fraction <= 1.0:
            raise ValueError(f"clip_score: fraction must be in (0, 1], got {fraction}")
        if batch_size < 1:
            raise ValueError(f"clip_score: batch_size must be positive, got {batch_size}")
        self.model_path = model
        self.fraction = fraction
        self.threshold = threshold
        self.batch_size = batch_size

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        import torch

        model = _load_model(self.model_path)
        out: list[Any] = [None] * len(batch)
        good: list[int] = []
        for i, sample in enumerate(batch):
            try:
                pixels(sample)
                good.append(i)
            except ImageDecodeError as e:
                out[i] = e
        with torch.inference_mode():
            for start in range(0, len(good), self.batch_size):
                idx = good[start : start + self.batch_size]
                images = [pixels(batch[i]) for i in idx]
                img = model.encode_images(model.preprocess(images))
                txt = model.encode_texts([batch[i].caption or "" for i in idx])
                scores = (img * txt).sum(dim=-1).float().tolist()
                for i, score in zip(idx, scores, strict=True):
                    out[i] = round(float(score), 6)
        return out

    def select(self, features, uids):  # type: ignore[no-untyped-def]
        patches = {i: {"clip_score": float(s)} for i, s in enumerate(features)}
        if self.threshold is not None:
            drops = {
                i: "clip_score_below_threshold"
                for i, s in enumerate(features)
                if s < self.threshold
            }
            return drops, patches
        n_keep = int(len(features) * self.fraction)
        # Stable sort: equal scores keep input order, so the result never depends on timing.
        order = sorted(range(len(features)), key=lambda i: -features[i])
        drops = {i: "clip_score_not_in_top_fraction" for i in order[n_keep:]}
        return drops, patches
