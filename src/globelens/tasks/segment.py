"""segment: ``segment {label}`` -> every instance of that class: four loc tokens, 16 seg tokens
and its label, objects separated by `` ; ``.

Training: one label present in the scene -> all its instances. Evaluation (``segmentation``):
every class of every picture with masks; the IoU of the union of the masks said with the union
of the class's masks (big_vision's semantic-segmentation reading of instance answers), its
mean (``miou``) per group. An answer with no usable mask scores 0 and is counted under its
parse reason. Needs the model's mask codec.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.data.annotations import AnnotatedObject, Annotations
from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.embed import torch_threads
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.genmetrics.refseg import mask_iou
from globelens.models import tasklang
from globelens.tasks.base import GenerativeTask, TargetContext
from globelens.tasks.scene import box, labelled, mask, ordered, shuffled_labels, text

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext


def target(ann: Annotations, ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``segment a`` (one label present) -> every instance: loc tokens, 16 seg tokens, label."""
    objects = labelled(ann)
    label = shuffled_labels(objects, rng)[0]
    chosen = [o for o in objects if text(o.label) == label]
    segs = [
        tasklang.Segmentation(label, box(o, ctx), mask(o, ctx)) for o in ordered(chosen, [label])
    ]
    suffix = tasklang.encode_segmentations(segs, ctx.width, ctx.height, ctx.codec)
    return tasklang.segment([label]), suffix


def _masked(objects: Any) -> list[AnnotatedObject]:
    return [o for o in objects or () if o.segmentation is not None and text(o.label)]


def has_masks(bench: Benchmark) -> bool:
    return any(_masked(r.annotations.get("objects")) for r in bench.records[:200])


def _requests(bench: Benchmark) -> list[tuple[Request, list[AnnotatedObject]]]:
    """One ``segment {label}`` per class of each picture, with that class's objects."""
    out = []
    for i, r in enumerate(bench.records):
        by_label: dict[str, list[AnnotatedObject]] = {}
        for o in _masked(r.annotations.get("objects")):
            by_label.setdefault(text(o.label) or "", []).append(o)
        out.extend((Request(i, tasklang.segment([k])), v) for k, v in sorted(by_label.items()))
    return out


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    codec = getattr(ctx.model, "codec", None)
    if codec is None:
        raise ValueError("the segmentation task needs a model with a mask codec")
    asked = _requests(bench)
    if not asked:
        raise ValueError(f"benchmark {bench.name!r} has no objects with masks")
    requests = [req for req, _ in asked]
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=64)
    gen = ctx.generate(requests, settings, desc="segment")
    ious: list[float] = []
    rows: list[int] = []
    skipped: dict[str, int] = {}
    invalid: dict[str, int] = {}
    examples = []
    # One mask at a time is a tiny forward: torch's intra-op threads only add barrier waits.
    with torch_threads(1):
        for pos, ((req, objects), ans) in enumerate(zip(asked, gen.answers, strict=True)):
            if ans.text is None:
                skipped[ans.error] = skipped.get(ans.error, 0) + 1
                continue
            w, h = ans.size or (1, 1)
            gt = np.zeros((h, w), bool)
            for o in objects:
                if _fits(o, h, w):
                    gt |= tasklang.rle_to_mask(o.segmentation or {})
            parsed = tasklang.parse(req.prompt, ans.text, w, h, codec=codec)
            for reason, n in parsed.invalid_counts().items():
                invalid[reason] = invalid.get(reason, 0) + n
            pred = np.zeros((h, w), bool)
            for obj in parsed.objects:
                if isinstance(obj, tasklang.Segmentation):
                    pred |= obj.mask
            ious.append(mask_iou(pred, gt))
            rows.append(pos)
            examples.append(
                G.Example(req.index, ious[-1], req.prompt, ans.text, req.prompt[len("segment "):],
                          masks=[(gt, "gt"), (pred, "pred")])
            )  # fmt: skip
    if not rows:
        raise ValueError(f"benchmark {bench.name!r}: no answer could be evaluated ({skipped})")
    metas = [bench.records[requests[p].index].meta for p in rows]
    summary = G.summarize(
        {"miou": np.asarray(ious, float)},
        "miou",
        metas,
        G.group_keys(bench),
        ctx.n_bootstrap,
        ctx.seed,
    )
    return [
        G.result_record(
            "segmentation", summary, bench, language="en", n_evaluated=len(rows),
            skipped=skipped, settings=settings, gen=gen, examples=examples, invalid=invalid,
        )
    ]  # fmt: skip


def _fits(o: AnnotatedObject, h: int, w: int) -> bool:
    size = (o.segmentation or {}).get("size")
    return isinstance(size, list | tuple) and tuple(size) == (h, w)


TASK = GenerativeTask(
    name="segment",
    target=target,
    evaluate=run,
    eval_name="segmentation",
    metrics=("miou",),
    requires=has_masks,
    needs="object masks",
    read_prompt=tasklang.read_segment,
    answer="masks",
    needs_codec=True,
)
