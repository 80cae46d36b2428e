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


# The reasons the reader and the decoder give, with what each means (for docs and output).
PROBLEM_REASONS: dict[str, str] = {
    "unreadable_tar": "the file is not a readable tar archive (nothing in it was read)",
    "truncated_tar": "the archive ends early; the group being read is lost, earlier ones are kept",
    "corrupt_tar": "an invalid header in the middle of the archive; the rest is unreadable",
    "missing_image": "a group with no .jpg/.jpeg/.png/.webp member",
    "malformed_json": "the .json member is not valid UTF-8 JSON holding an object",
    "invalid_utf8": "the .txt caption is not valid UTF-8",
    "missing_caption": "no .txt member (when a caption is required)",
    "empty_caption": "the caption is empty or only whitespace (when a caption is required)",
    "corrupt_image": "the image bytes cannot be decoded",
    "too_many_pixels": "the image is larger than the pixel limit (decompression bomb guard)",
}


@dataclass
class ReadReport:
    """What a read saw: samples delivered and problems found. Reports merge by addition.

    ``max_problems`` bounds how many problems are kept in detail (memory stays constant on
    huge, badly broken inputs); :meth:`counts` always counts every problem.
    """

    samples: int = 0
    shards: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    max_problems: int | None = None
    _counts: Counter[str] = field(default_factory=Counter, repr=False)
    _by_shard: Counter[str] = field(default_factory=Counter, repr=False)

    def add(self, shard: str, key: str | None, reason: str, detail: str = "") -> None:
        """Record one problem."""
        self._counts[reason] += 1
        self._by_shard[shard] += 1
        if self.max_problems is None or len(self.problems) < self.max_problems:
            self.problems.append(Problem(shard, key, reason, detail))

    @property
    def problem_total(self) -> int:
        return sum(self._counts.values())

    def counts(self) -> Counter[str]:
        """Problems by reason, including those not kept in detail."""
        return Counter(self._counts)

    def counts_by_shard(self) -> Counter[str]:
        """Problems per shard path, including those not kept in detail."""
        return Counter(self._by_shard)

    def merge(self, other: ReadReport) -> ReadReport:
        self.samples += other.samples
        self.shards += other.shards
        self.bytes += other.bytes
        self._counts.update(other._counts)
        self._by_shard.update(other._by_shard)
        room = None if self.max_problems is None else self.max_problems - len(self.problems)
        self.problems.extend(other.problems if room is None else other.problems[: max(room, 0)])
        return self

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "shards": self.shards,
            "bytes": self.bytes,
            "problem_total": self.problem_total,
            "problem_counts": dict(sorted(self._counts.items())),
            "problems": [asdict(p) for p in self.problems],
            "problems_omitted": self.problem_total - len(self.problems),
        }
