"""Duplicate removal: exact (sha256 of the image bytes) and near (perceptual hash)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from globelens.curate.base import GlobalStep, pixels, register_step
from globelens.curate.phash import IMG_SIZE, NearDupIndex, phash
from globelens.data import ImageDecodeError, Sample


@register_step("exact_dedup")
class ExactDedup(GlobalStep):
    """Drop images whose bytes (sha256) equal those of an earlier sample, across all shards;
    the first occurrence in input order is kept."""

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        return [hashlib.sha256(s.image_bytes or b"").hexdigest() for s in batch]

    def select(self, features, uids):  # type: ignore[no-untyped-def]
        seen: set[str] = set()
        drops: dict[int, str] = {}
        for i, digest in enumerate(features):
            if digest in seen:
                drops[i] = "exact_duplicate"
            else:
                seen.add(digest)
        return drops, {}


@register_step("near_dedup")
class NearDedup(GlobalStep):
    """Drop images whose 64-bit pHash is within ``max_distance`` bits of an earlier kept
    image, across all shards (first occurrence in input order wins). Resized and recompressed
    copies are typically 0-4 bits apart, unrelated images around 32."""

    needs_pixels = True
    pixel_size = IMG_SIZE  # pHash resizes to 32x32

    def __init__(self, max_distance: int = 4) -> None:
        NearDupIndex(max_distance)  # validates the distance now, not in the middle of a run
        self.max_distance = max_distance

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        out: list[Any] = []
        for sample in batch:
            try:
                # Stored as a signed int64 so that parquet and Arrow keep it exactly.
                h = phash(pixels(sample))
                out.append(h - (1 << 64) if h >= 1 << 63 else h)
            except ImageDecodeError as e:
                out.append(e)
        return out

    def select(self, features, uids):  # type: ignore[no-untyped-def]
        index = NearDupIndex(self.max_distance)
        drops: dict[int, str] = {}
        for i, h in enumerate(features):
            h = int(h) & ((1 << 64) - 1)
            if index.find(h) is not None:
                drops[i] = "near_duplicate"
            else:
                index.add(h)
        return drops, {}
