"""Mixing and rebalancing by group (language, country, source shard set)."""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from globelens.curate.base import GlobalStep, register_step
from globelens.data import Sample

SOURCE = "source"  # `by = "source"`: the folder of the input shard (merging shard sets)


def group_of(sample: Sample, by: str) -> str:
    if by == SOURCE:
        return os.path.basename(os.path.dirname(os.path.abspath(sample.source))) or "."
    value = sample.meta.get(by)
    return "unknown" if value is None else str(value)


def _rank(uid: str, seed: int) -> str:
    # A deterministic pseudo-random order: which samples a cap keeps never depends on timing
    # or worker count, and is not biased towards early shards.
    return hashlib.sha256(f"{seed}:{uid}".encode()).hexdigest()


def _keep_n_per_group(
    groups: Sequence[str], uids: Sequence[str], quota: dict[str, int], seed: int, reason: str
) -> dict[int, str]:
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    drops: dict[int, str] = {}
    for g, idx in members.items():
        n = quota.get(g, 0)
        for i in sorted(idx, key=lambda i: _rank(uids[i], seed))[n:]:
            drops[i] = reason
    return drops


@register_step("cap")
class Cap(GlobalStep):
    """Keep at most ``max_per_group`` samples (or ``max_fraction`` of all candidates) of each
    value of the metadata field ``by`` (e.g. ``lang``, ``country``); a seeded hash of the uid
    picks which."""

    def __init__(
        self,
        by: str,
        max_per_group: int | None = None,
        max_fraction: float | None = None,
        seed: int = 0,
    ) -> None:
        if (max_per_group is None) == (max_fraction is None):
            raise ValueError("cap needs exactly one of 'max_per_group' or 'max_fraction'")
        self.by, self.max_per_group, self.max_fraction, self.seed = (
            by,
            max_per_group,
            max_fraction,
            seed,
        )

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        return [group_of(s, self.by) for s in batch]

    def select(self, features, uids):  # type: ignore[no-untyped-def]
        limit = (
            self.max_per_group
            if self.max_per_group is not None
            else int(self.max_fraction * len(features))
        )
        quota = {g: limit for g in set(features)}
        return _keep_n_per_group(features, uids, quota, self.seed, f"cap_{self.by}"), {}


@register_step("reweight")
class Reweight(GlobalStep):
    """Drop nothing; write ``sample_weight`` = (mean group size / group size) ** ``power``
    for the metadata field ``by``, so that a weighted loader sees groups evenly (power 1)
    or partly evened (0 < power < 1)."""

    def __init__(self, by: str, power: float = 1.0, field: str = "sample_weight") -> None:
        self.by, self.power, self.field = by, power, field

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        return [group_of(s, self.by) for s in batch]

    def select(self, features, uids):  # type: ignore[no-untyped-def]
        counts = Counter(features)
        if not counts:
            return {}, {}
        mean = len(features) / len(counts)
        weight = {g: round((mean / n) ** self.power, 6) for g, n in counts.items()}
        return {}, {i: {self.field: weight[g]} for i, g in enumerate(features)}


@register_step("mix")
class Mix(GlobalStep):
    """Merge groups (shard sets with ``by = "source"``, or any metadata field) in the given
    ``ratios``: the largest subset whose group sizes are proportional to the ratios.
    Samples of groups not named in ``ratios`` are dropped (``mix_group_not_in_ratios``)."""

    def __init__(self, ratios: dict[str, float], by: str = SOURCE, seed: int = 0) -> None:
        if not ratios or any(r < 0 for r in ratios.values()) or sum(ratios.values()) <= 0:
            raise ValueError(f"mix: ratios must be non-negative with a positive sum, got {ratios}")
        self.ratios, self.by, self.seed = dict(ratios), by, seed

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        return [group_of(s, self.by) for s in batch]

    def select(self, features, uids):  # type: ignore[no-untyped-def]
        counts = Counter(features)
        total = sum(self.ratios.values())
        share = {g: r / total for g, r in self.ratios.items()}
        # Largest N with N * share[g] <= count[g] for every group that has a share.
        n_total = min((counts.get(g, 0) / s for g, s in share.items() if s > 0), default=0.0)
        quota = {g: math.floor(n_total * s + 1e-9) for g, s in share.items()}
        drops = _keep_n_per_group(features, uids, quota, self.seed, "mix_ratio")
        for i, g in enumerate(features):
            if g not in self.ratios:
                drops[i] = "mix_group_not_in_ratios"
        return drops, {}
