"""What the generative tasks share: group metrics over per-example scores, with bootstrap
intervals and disparity, and example pictures per group with the model's words and drawings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from globelens.data.images import (
    ImageDecodeError,
    blend_masks,
    data_uri,
    decode_image,
    encode_image,
)
from globelens.evaluate import metrics as M
from globelens.evaluate.datasets.base import Benchmark

#: groups every generative metric is broken down by (when the benchmark's records carry them)
GROUP_KEYS = ("income_bucket", "region", "country", "language")
EXAMPLE_SIZE = 160
#: bootstrap resamples for statistics that are not means (COCO AP re-accumulates per resample)
MAX_STAT_BOOTSTRAP = 100


def group_keys(bench: Benchmark) -> list[str]:
    keys = list(dict.fromkeys([*bench.group_keys, *GROUP_KEYS]))
    return [k for k in keys if any(r.meta.get(k) not in (None, "") for r in bench.records[:500])]


def summarize(
    scores: dict[str, np.ndarray],
    primary: str,
    metas: Sequence[dict[str, Any]],
    keys: Sequence[str],
    n_bootstrap: int,
    seed: int,
    stat: Callable[[np.ndarray], float] | None = None,
    overall: dict[str, float] | None = None,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """metrics (means of ``scores``, or ``overall`` where given), ``ci95`` of the primary
    metric, per-group reports of it, ``disparity`` (best minus worst income bucket).

    ``weights``: per-example weights of the overall number (a mean over languages of
    per-language means gives each example 1 / its language's count), used for its interval
    and for every group's mean, so a group that is the whole set reports the overall number."""
    n = len(next(iter(scores.values()))) if scores else 0
    metrics: dict[str, Any] = {k: float(v.mean()) if n else float("nan") for k, v in scores.items()}
    metrics.update(overall or {})
    ci: dict[str, list[float]] = {}
    groups: dict[str, Any] = {}
    if n == 0:
        return {"metrics": metrics, "ci95": ci, "groups": groups}
    n_boot = min(n_bootstrap, MAX_STAT_BOOTSTRAP) if stat is not None else n_bootstrap
    boot = M.bootstrap_indices(n, n_boot, seed) if n_boot > 0 else None
    if boot is not None:
        base = scores[primary]
        if stat is not None:
            samples = np.array([stat(b) for b in boot])
        elif weights is not None:
            wx = base * weights
            samples = np.concatenate(
                [wx[b].sum(axis=1) / weights[b].sum(axis=1) for b in boot.chunks()]
            )
        else:
            samples = boot.means(base)
        ci[primary] = M.percentile_ci(samples)
    for key in keys:
        values = [m.get(key) for m in metas]
        if any(v not in (None, "") for v in values):
            groups[key] = M.score_group_report(
                scores[primary], values, boot, primary, stat, weights
            )
    inc = groups.get("income_bucket", {})
    if len(inc.get("groups", {})) >= 2 and "spread" in inc:
        metrics["disparity"] = inc["spread"]
        if "spread_ci95" in inc:
            ci["disparity"] = inc["spread_ci95"]
    return {"metrics": metrics, "ci95": ci, "groups": groups, "primary_metric": primary}


# -- example pictures --------------------------------------------------------------------------

COLORS = {"pred": (230, 40, 40), "gt": (30, 190, 60)}


@dataclass
class Example:
    """One scored example, to be shown with what the model said."""

    index: int  # record index
    score: float
    prompt: str
    output: str
    reference: str = ""
    #: (x0, y0, x1, y1, label, kind) with kind "pred" or "gt"
    boxes: list[tuple[float, float, float, float, str, str]] = field(default_factory=list)
    #: (H, W) bool masks with their kind
    masks: list[tuple[np.ndarray, str]] = field(default_factory=list)


def _draw(data: bytes, ex: Example, size: int) -> str:
    from PIL import ImageDraw

    im = decode_image(data).convert("RGB")
    if ex.masks:
        im = blend_masks(im, [(m, COLORS.get(kind, (255, 255, 0))) for m, kind in ex.masks], 0.5)
    scale = size / max(im.size)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
    draw = ImageDraw.Draw(im)
    for x0, y0, x1, y1, label, kind in ex.boxes:
        box = [v * scale for v in (x0, y0, x1, y1)]
        if not (box[2] >= box[0] and box[3] >= box[1]):
            continue
        color = COLORS.get(kind, (255, 255, 0))
        draw.rectangle(box, outline=color, width=2)
        if label:
            draw.text((box[0] + 2, box[1] + 1), label[:24], fill=color)
    return data_uri(encode_image(im, quality=80), "image/jpeg")


def pick_examples(
    bench: Benchmark,
    examples: Sequence[Example],
    key: str = "income_bucket",
    per_group: int = 2,
    size: int = EXAMPLE_SIZE,
) -> list[dict[str, Any]]:
    """Per group of ``key`` (income bucket by default), its worst- and best-scored examples
    with thumbnails: boxes and masks drawn, text kept for the report to write underneath."""
    by_group: dict[str, list[Example]] = {}
    for ex in examples:
        g = str(bench.records[ex.index].meta.get(key, "") or "all")
        by_group.setdefault(g, []).append(ex)
    chosen: list[tuple[str, Example]] = []
    for g, exs in sorted(by_group.items()):
        exs = sorted(exs, key=lambda e: (e.score, e.index))
        picks = [exs[0], exs[-1]] if per_group >= 2 and len(exs) > 1 else exs[:1]
        chosen.extend((g, e) for e in picks[:per_group])
    wanted = sorted({e.index for _, e in chosen})
    try:
        images = bench.read_images(wanted) if wanted else {}
    except OSError:
        images = {}
    out = []
    for g, ex in chosen:
        meta = bench.records[ex.index].meta
        item: dict[str, Any] = {
            "group_key": key,
            "group": g,
            "image": bench.image_label(ex.index),
            "country": meta.get("country", ""),
            "region": meta.get("region", ""),
            "income_bucket": meta.get("income_bucket", ""),
            "prompt": ex.prompt,
            "output": ex.output[:300],
            "reference": ex.reference[:300],
            "score": float(ex.score),
        }
        if ex.index in images:
            with contextlib.suppress(ImageDecodeError, OSError, ValueError):
                item["thumbnail"] = _draw(images[ex.index], ex, size)
        out.append(item)
    return out


def language_of(metas: Sequence[dict[str, Any]]) -> str:
    """The one language of the scored examples, or "multi"."""
    langs = {m["language"] for m in metas}
    return next(iter(langs)) if len(langs) == 1 else "multi"


def result_record(
    task: str,
    summary: dict[str, Any],
    bench: Benchmark,
    *,
    language: str,
    n_evaluated: int,
    skipped: dict[str, int],
    settings: Any,
    gen: Any,
    examples: Sequence[Example],
    example_key: str = "income_bucket",
    **fields: Any,
) -> dict[str, Any]:
    """One generative result: the summary (metrics, intervals, groups), the task's own
    ``fields``, and what every generative result records: the examples left out, the decoding
    settings, the generator's timing and the example pictures per group."""
    return {
        **summary,
        "task": task,
        "language": language,
        "n_evaluated": n_evaluated,
        **fields,
        "skipped_extra": skipped,
        "decode": settings.to_json(),
        "timing": gen.info(),
        "examples": pick_examples(bench, examples, key=example_key),
    }
