"""Cultural visual grounding (GlobalRG): ``detect <concept>`` for every concept to box; a hit
is IoU >= 0.5 between the model's first box and any reference box. Answers without a box
(garbage, a truncated ``<loc>`` run) are invalid, counted by reason, and scored as misses.
Broken down by country, region and language with intervals and the worst group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.models import tasklang

if TYPE_CHECKING:
    from globelens.evaluate.datasets.base import Grounding
    from globelens.evaluate.tasks import GenerativeContext

IOU_THRESHOLD = 0.5


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes; 0 when either has no area."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 and inter > 0 else 0.0


def best_iou(box: tuple[float, ...] | None, target: Grounding) -> float:
    if box is None:
        return 0.0
    return max(box_iou(box, (x, y, x + w, y + h)) for x, y, w, h in target.boxes)


def _concept(text: str) -> str:
    # ";" separates objects in the task language: inside one concept it would split it.
    return " ".join(text.replace(";", ",").split())


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    items = [
        (i, g) for i, r in enumerate(bench.records) for g in r.annotations.get("grounding", ())
    ]
    if not items:
        raise ValueError(f"benchmark {bench.name!r} has no concepts to box")
    requests = [Request(i, tasklang.detect([_concept(g.concept)])) for i, g in items]
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=16)
    gen = ctx.generate(requests, settings, desc="ground")
    ious, kept, invalid, skipped, examples = [], [], {}, {}, []
    for req, ans, (i, g) in zip(requests, gen.answers, items, strict=True):
        if ans.text is None:
            skipped[ans.error] = skipped.get(ans.error, 0) + 1
            continue
        w, h = ans.size or (1, 1)
        parsed = tasklang.parse(req.prompt, ans.text, w, h, labels=[])  # any label is accepted
        box = parsed.objects[0].box if parsed.objects else None
        if box is None:
            why = parsed.invalid[0].reason if parsed.invalid else "no_box"
            invalid[why] = invalid.get(why, 0) + 1
        ious.append(best_iou(box, g))
        kept.append(i)
        gt = [(x, y, x + bw, y + bh, "", "gt") for x, y, bw, bh in g.boxes]
        pred = [(*box, "", "pred")] if box is not None else []
        examples.append(G.Example(i, ious[-1], req.prompt, ans.text, g.concept, boxes=gt + pred))
    if not kept:
        raise ValueError(f"benchmark {bench.name!r}: no answer could be evaluated ({skipped})")
    iou = np.asarray(ious, float)
    metas = [{**bench.records[i].meta} for i in kept]
    summary = G.summarize(
        {"grounding_acc": (iou >= IOU_THRESHOLD).astype(float), "mean_iou": iou},
        "grounding_acc", metas, G.group_keys(bench), ctx.n_bootstrap, ctx.seed,
    )  # fmt: skip
    n_invalid = sum(invalid.values())
    summary["metrics"]["invalid_rate"] = n_invalid / len(kept)
    for key in ("country", "region"):
        rep = summary["groups"].get(key, {})
        if "min" in rep:
            summary["metrics"][f"worst_{key}_grounding_acc"] = rep["min"]
    return [
        G.result_record(
            "grounding", summary, bench, language="en", n_evaluated=len(kept),
            skipped=skipped, settings=settings, gen=gen, examples=examples,
            example_key="country", iou_threshold=IOU_THRESHOLD,
            invalid={"count": n_invalid, "total": len(kept), "reasons": invalid},
        )
    ]  # fmt: skip
