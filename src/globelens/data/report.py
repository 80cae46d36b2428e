"""Counting problems in input data: every dropped sample is recorded with a reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it was, a short reason code, and details."""

    shard: str
    key: str | None
    reason: str
    detail: str = ""


@dataclass
class ReadReport:
    """What a read saw: samples delivered and problems found. Reports merge by addition."""

    samples: int = 0
    shards: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, shard: str, key: str | None, reason: str, detail: str = "") -> None:
        self.problems.append(Problem(shard, key, reason, detail))

    def counts(self) -> Counter[str]:
        return Counter(p.reason for p in self.problems)

    def merge(self, other: ReadReport) -> ReadReport:
        self.samples += other.samples
        self.shards += other.shards
        self.bytes += other.bytes
        self.problems.extend(other.problems)
        return self

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "shards": self.shards,
            "bytes": self.bytes,
            "problem_counts": dict(sorted(self.counts().items())),
            "problems": [asdict(p) for p in self.problems],
        }
