"""Summary statistics of a shard set, with every problem found and its reason."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from globelens.data.images import ImageDecodeError
from globelens.data.report import ReadReport
from globelens.data.shards import ShardPattern, read_shards


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    return {
        "min": float(arr.min()),
        "median": float(np.median(arr)),
        "mean": round(float(arr.mean()), 3),
        "max": float(arr.max()),
    }


def shard_stats(pattern: ShardPattern, decode: bool = True) -> dict[str, Any]:
    """Read every sample once; ``decode`` fully decodes images to find corrupt pixels."""
    report = ReadReport()
    widths: list[int] = []
    heights: list[int] = []
    caption_chars: list[int] = []
    caption_words: list[int] = []
    fields: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    for sample in read_shards(pattern, report, check_images=False):
        try:
            if decode:
                width, height = sample.image().size
            else:
                width, height = sample.image_size()
        except ImageDecodeError as e:
            report.samples -= 1
            report.add(sample.source, sample.key, e.reason, e.detail)
            continue
        widths.append(width)
        heights.append(height)
        formats[sample.image_ext] += 1
        caption = sample.caption or ""
        caption_chars.append(len(caption))
        caption_words.append(len(caption.split()))
        fields.update(sample.meta.keys())
    result = report.to_dict()
    result.update(
        {
            "image_formats": dict(sorted(formats.items())),
            "image_width": _summary(widths),
            "image_height": _summary(heights),
            "caption_chars": _summary(caption_chars),
            "caption_words": _summary(caption_words),
            "metadata_fields": dict(sorted(fields.items())),
        }
    )
    return result


def format_stats(result: dict[str, Any]) -> str:
    """A human-readable summary of :func:`shard_stats` output."""
    lines = [
        f"shards:   {result['shards']}",
        f"samples:  {result['samples']}",
        f"bytes:    {result['bytes']:,}",
        f"formats:  {result['image_formats']}",
    ]
    for name in ("image_width", "image_height", "caption_chars", "caption_words"):
        s = result[name]
        if s:
            lines.append(
                f"{name + ':':<15} min {s['min']:g}  median {s['median']:g}  "
                f"mean {s['mean']:g}  max {s['max']:g}"
            )
    lines.append(f"metadata fields: {', '.join(f'{k} ({v})' for k, v in result['metadata_fields'].items())}")
    problems = result["problems"]
    lines.append(f"problems: {len(problems)}")
    for reason, count in result["problem_counts"].items():
        lines.append(f"  {reason}: {count}")
    for p in problems[:50]:
        lines.append(f"    {p['shard']} key={p['key']} {p['reason']}: {p['detail'][:120]}")
    if len(problems) > 50:
        lines.append(f"    ... and {len(problems) - 50} more (use --json for all)")
    return "\n".join(lines)
