"""Summary statistics of a shard set, with every problem found and its reason.

Everything is streamed: memory depends on the number of distinct values (image sides,
caption lengths) and shards, never on the number of samples.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import Any

from globelens.data.images import ImageDecodeError
from globelens.data.problems import PROBLEM_REASONS, ReadReport
from globelens.data.shards import ShardPattern, expand_shards, read_shards

# Only this many problems are listed in detail (all are counted by reason).
DEFAULT_MAX_PROBLEMS = 10_000
# The smallest JPEG draft scale (1/8) is enough to find corrupt data, and far faster.
_CHECK_SIZE = 1


class IntSummary:
    """Exact min / percentiles / mean / max of integers in memory O(distinct values)."""

    def __init__(self) -> None:
        self.values: Counter[int] = Counter()
        self.n = 0
        self.total = 0

    def add(self, value: int) -> None:
        self.values[value] += 1
        self.n += 1
        self.total += value

    def quantile(self, q: float) -> int:
        """The lower q-quantile (the value at rank floor(q * (n - 1)))."""
        rank = int(q * (self.n - 1))
        seen = 0
        for value in sorted(self.values):
            seen += self.values[value]
            if seen > rank:
                return value
        raise ValueError("empty summary")

    def to_dict(self) -> dict[str, float] | None:
        if not self.n:
            return None
        return {
            "min": min(self.values),
            "p05": self.quantile(0.05),
            "median": self.quantile(0.5),
            "p95": self.quantile(0.95),
            "max": max(self.values),
            "mean": round(self.total / self.n, 3),
        }


def _progress(total_bytes: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    # enabled=None: only on a terminal; delay keeps short reads quiet.
    return tqdm(
        total=total_bytes,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="reading shards",
        file=sys.stderr,
        disable=(not sys.stderr.isatty()) if enabled is None else not enabled,
        delay=1.0,
        dynamic_ncols=True,
    )


def shard_stats(
    pattern: ShardPattern,
    decode: bool = True,
    *,
    max_problems: int | None = DEFAULT_MAX_PROBLEMS,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Read every sample once and summarise the shard set.

    ``decode`` decodes every image (at reduced scale for JPEG) to find corrupt data; without
    it only headers are read. Image sizes are the stored sizes from the header.
    ``progress``: a progress bar on stderr (None: only when stderr is a terminal).
    """
    paths = expand_shards(pattern)
    file_bytes = sum(os.path.getsize(p) for p in paths)
    report = ReadReport(max_problems=max_problems)
    summaries = {
        name: IntSummary()
        for name in ("image_width", "image_height", "image_bytes", "caption_chars", "caption_words")
    }
    fields: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    extras: Counter[str] = Counter()
    per_shard: dict[str, dict[str, Any]] = {
        p: {"path": p, "samples": 0, "problems": 0, "bytes": os.path.getsize(p)} for p in paths
    }
    delivered = 0
    with _progress(file_bytes, progress) as bar:
        done_bytes = 0
        for sample in read_shards(paths, report, check_images=False):
            try:
                width, height = sample.image_size()
                if decode:
                    sample.image(target_size=_CHECK_SIZE)
            except ImageDecodeError as e:
                report.add(sample.source, sample.key, e.reason, e.detail)
                continue
            delivered += 1
            per_shard[sample.source]["samples"] += 1
            summaries["image_width"].add(width)
            summaries["image_height"].add(height)
            summaries["image_bytes"].add(len(sample.image_bytes or b""))
            caption = sample.caption or ""
            summaries["caption_chars"].add(len(caption))
            summaries["caption_words"].add(len(caption.split()))
            formats[sample.image_ext] += 1
            extras.update(sample.extras)
            fields.update(sample.meta.keys())
            bar.update(report.bytes - done_bytes)
            done_bytes = report.bytes
            if delivered % 256 == 0:
                bar.set_postfix_str(f"{delivered:,} samples", refresh=False)
        bar.update(max(file_bytes - bar.n, 0))
    # Decode failures are found after the reader counted the sample as delivered.
    report.samples = delivered
    for shard, count in report.counts_by_shard().items():
        if shard in per_shard:
            per_shard[shard]["problems"] = count
    counts = report.counts()
    result = report.to_dict()
    result.update(
        {
            "file_bytes": file_bytes,
            "decoded": decode,
            "image_formats": dict(sorted(formats.items())),
            **{name: s.to_dict() for name, s in summaries.items()},
            "metadata_fields": dict(sorted(fields.items())),
            "extra_members": dict(sorted(extras.items())),
            "problem_reasons": {r: PROBLEM_REASONS.get(r, "") for r in sorted(counts)},
            "per_shard": list(per_shard.values()),
        }
    )
    return result


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_stats(result: dict[str, Any], max_listed: int = 50) -> str:
    """A human-readable summary of :func:`shard_stats` output."""
    n = result["samples"]
    formats = ", ".join(f"{k} {v:,}" for k, v in result["image_formats"].items()) or "-"
    lines = [
        f"shards      {result['shards']:,}  ({_human_bytes(result['file_bytes'])} on disk)",
        f"samples     {n:,} readable  ({_human_bytes(result['bytes'])} of members)",
        f"formats     {formats}",
        "",
        f"{'':14}{'min':>8}{'p05':>8}{'median':>8}{'mean':>10}{'p95':>8}{'max':>8}",
    ]
    labels = {
        "image_width": "image width",
        "image_height": "image height",
        "image_bytes": "image bytes",
        "caption_chars": "caption chars",
        "caption_words": "caption words",
    }
    for name, label in labels.items():
        s = result[name]
        if s:
            lines.append(
                f"{label:<14}{s['min']:>8}{s['p05']:>8}{s['median']:>8}"
                f"{s['mean']:>10.1f}{s['p95']:>8}{s['max']:>8}"
            )
        else:
            lines.append(f"{label:<14}{'-':>8}")
    lines.append("")
    fields = result["metadata_fields"]
    if fields:
        lines.append("metadata fields (samples with the field):")
        width = max(len(k) for k in fields)
        lines.extend(f"  {k:<{width}}  {v:,}" for k, v in fields.items())
    else:
        lines.append("metadata fields: none")
    if result["extra_members"]:
        lines.append(
            "other members: " + ", ".join(f".{k} {v:,}" for k, v in result["extra_members"].items())
        )
    lines.append("")
    total = result["problem_total"]
    if not total:
        lines.append("problems: none")
        return "\n".join(lines)
    lines.append(f"problems: {total:,}")
    for reason, count in result["problem_counts"].items():
        lines.append(f"  {reason:<16} {count:>6,}  {result['problem_reasons'].get(reason, '')}")
    lines.append("")
    problems = result["problems"]
    for p in problems[:max_listed]:
        where = os.path.basename(p["shard"]) + (f" {p['key']}" if p["key"] else "")
        lines.append(f"  {where}: {p['reason']}: {p['detail'][:160]}")
    hidden = total - min(len(problems), max_listed)
    if hidden > 0:
        lines.append(f"  ... and {hidden:,} more (use --json for the full list)")
    return "\n".join(lines)
