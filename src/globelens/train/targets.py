"""Training targets for the generative tasks: (prefix, suffix) pairs from a sample's ``.json``.

The shard layout is the world's generative one (and any img2dataset shard whose ``.json``
carries the same keys): ``captions`` {lang: [str]}, ``objects`` [{label, bbox [x, y, w, h]
pixels, segmentation (COCO RLE)}], ``qa`` [{question, lang, multiple_choice_answer}],
``refs`` [{sent, lang, bbox, segmentation}]. Prompts and suffixes are written by the task
language (``globelens.models.tasklang``), the one module the evaluator and the server parse
with, so what the model is trained to say is exactly what they read.

Each task kind is a function registered in ``TARGETS``; a sample that has nothing for a task
raises :class:`~globelens.train.data.SampleError` with a reason (``no_captions``, ``no_qa``,
``no_objects``, ``no_refs``, ``bad_box``, ...), so it is counted and left out, never fatal.
Random choices (which caption, which question, the order of labels) come from the ``rng`` the
data stream derives from (seed, step, position): the batch of a step stays a pure function
of the seed and the step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from globelens.models import tasklang
from globelens.train.data import SampleError


@dataclass(frozen=True)
class TargetContext:
    """What a target builder may use besides the sample: its picture's size, the task's
    language filter, and the mask codec (segment and refer)."""

    width: int
    height: int
    langs: tuple[str, ...] = ()
    codec: Any = None
    #: detect: the classes a prompt may list although the picture lacks them, and how many
    classes: tuple[str, ...] = ()
    negatives: int = 0


TargetFn = Callable[[dict[str, Any], TargetContext, random.Random], tuple[str, str]]
TARGETS: dict[str, TargetFn] = {}


def register_target(kind: str) -> Callable[[TargetFn], TargetFn]:
    def add(fn: TargetFn) -> TargetFn:
        TARGETS[kind] = fn
        return fn

    return add


def _text(value: Any) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def _wanted(lang: Any, ctx: TargetContext) -> bool:
    return isinstance(lang, str) and (not ctx.langs or lang in ctx.langs)


def _box(item: dict[str, Any], ctx: TargetContext) -> tasklang.Box:
    """The [x, y, w, h] pixel box of an object or ref, as (x0, y0, x1, y1) inside the image."""
    bbox = item.get("bbox")
    if not (isinstance(bbox, list | tuple) and len(bbox) == 4):
        raise SampleError("bad_box")
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError) as e:
        raise SampleError("bad_box") from e
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise SampleError("bad_box")
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, float(ctx.width)), min(y + h, float(ctx.height))
    if x1 <= x0 or y1 <= y0:
        raise SampleError("bad_box")
    return (x0, y0, x1, y1)


def _mask(item: dict[str, Any], ctx: TargetContext) -> Any:
    rle = item.get("segmentation")
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise SampleError("missing_mask")
    try:
        mask = tasklang.rle_to_mask(rle)
    except Exception as e:  # pycocotools raises bare exceptions on malformed counts
        raise SampleError("bad_mask") from e
    if mask.shape != (ctx.height, ctx.width):
        raise SampleError("mask_size_mismatch")
    return mask


def _objects(sample: dict[str, Any]) -> list[dict[str, Any]]:
    objects = [
        o for o in sample.get("objects") or [] if isinstance(o, dict) and _text(o.get("label"))
    ]
    if not objects:
        raise SampleError("no_objects")
    return objects


@register_target("caption")
def caption_target(
    sample: dict[str, Any], ctx: TargetContext, rng: random.Random
) -> tuple[str, str]:
    """``caption {lang}`` -> one of the sample's captions in that language."""
    captions = sample.get("captions")
    pool = []
    if isinstance(captions, dict):
        for lang in sorted(captions):
            texts = captions[lang] if isinstance(captions[lang], list) else [captions[lang]]
            if _wanted(lang, ctx):
                pool.extend((lang, t) for t in (_text(x) for x in texts) if t)
    if not pool:
        raise SampleError("no_captions")
    lang, text = pool[rng.randrange(len(pool))]
    return tasklang.caption(lang), text


def _qa_pool(sample: dict[str, Any], ctx: TargetContext) -> list[tuple[str, str, str]]:
    pool = []
    for qa in sample.get("qa") or []:
        if not isinstance(qa, dict) or not _wanted(qa.get("lang", "en"), ctx):
            continue
        q, a = _text(qa.get("question")), _text(qa.get("multiple_choice_answer"))
        if q and a:
            pool.append((qa.get("lang", "en"), q, a))
    if not pool:
        raise SampleError("no_qa")
    return pool


@register_target("answer")
def answer_target(
    sample: dict[str, Any], ctx: TargetContext, rng: random.Random
) -> tuple[str, str]:
    """``answer {lang} {question}`` -> the most common human answer."""
    pool = _qa_pool(sample, ctx)
    lang, q, a = pool[rng.randrange(len(pool))]
    return tasklang.answer(q, lang), a


@register_target("question")
def question_target(
    sample: dict[str, Any], ctx: TargetContext, rng: random.Random
) -> tuple[str, str]:
    """``question {lang} {answer}`` -> the question (PaliGemma's question generation)."""
    pool = _qa_pool(sample, ctx)
    lang, q, a = pool[rng.randrange(len(pool))]
    return tasklang.question(a, lang), q


def _by_label(objects: Sequence[dict[str, Any]], rng: random.Random) -> list[str]:
    labels = sorted({_text(o["label"]) for o in objects})  # type: ignore[type-var]
    rng.shuffle(labels)  # the prompt's order varies, so the model reads the labels it is given
    return labels


def _ordered(objects: Sequence[dict[str, Any]], labels: Sequence[str]) -> list[dict[str, Any]]:
    """Objects in the prompt's label order, then left to right, then top to bottom."""
    rank = {label: i for i, label in enumerate(labels)}
    return sorted(objects, key=lambda o: (rank[_text(o["label"])], *(o.get("bbox") or [0, 0])[:2]))


@register_target("detect")
def detect_target(
    sample: dict[str, Any], ctx: TargetContext, rng: random.Random
) -> tuple[str, str]:
    """``detect a ; b`` (the labels present, and with ``negatives`` some absent ones) -> every
    instance of the present labels: four loc tokens and its label."""
    objects = _objects(sample)
    labels = _by_label(objects, rng)
    dets = [
        tasklang.Detection(_text(o["label"]) or "", _box(o, ctx)) for o in _ordered(objects, labels)
    ]
    negatives = _negatives(labels, ctx, rng)
    if negatives:
        labels = labels + negatives
        rng.shuffle(labels)
        dets.sort(key=lambda d: labels.index(d.label))  # stable: the prompt's order, then place
    return tasklang.detect(labels), tasklang.encode_detections(dets, ctx.width, ctx.height)


def _negatives(present: Sequence[str], ctx: TargetContext, rng: random.Random) -> list[str]:
    """0 to ``ctx.negatives`` classes the picture lacks (as many of each count)."""
    if ctx.negatives <= 0:
        return []
    absent = [c for c in ctx.classes if c not in set(present)]
    return rng.sample(absent, min(rng.randint(0, ctx.negatives), len(absent)))


def _need_codec(ctx: TargetContext) -> None:
    if ctx.codec is None:
        raise ValueError("the segment and refer tasks need a mask codec (--codec)")


@register_target("segment")
def segment_target(
    sample: dict[str, Any], ctx: TargetContext, rng: random.Random
) -> tuple[str, str]:
    """``segment a`` (one label present) -> every instance: loc tokens, 16 seg tokens, label."""
    _need_codec(ctx)
    objects = _objects(sample)
    label = _by_label(objects, rng)[0]
    chosen = [o for o in objects if _text(o["label"]) == label]
    segs = [
        tasklang.Segmentation(label, _box(o, ctx), _mask(o, ctx)) for o in _ordered(chosen, [label])
    ]
    suffix = tasklang.encode_segmentations(segs, ctx.width, ctx.height, ctx.codec)
    return tasklang.segment([label]), suffix


@register_target("refer")
def refer_target(sample: dict[str, Any], ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``segment {referring expression}`` -> the one object it names (RefCOCO's task)."""
    _need_codec(ctx)
    refs = [
        r
        for r in sample.get("refs") or []
        if isinstance(r, dict) and _text(r.get("sent")) and _wanted(r.get("lang", "en"), ctx)
    ]
    if not refs:
        raise SampleError("no_refs")
    ref = refs[rng.randrange(len(refs))]
    sent = _text(ref["sent"]) or ""
    seg = tasklang.Segmentation(sent, _box(ref, ctx), _mask(ref, ctx))
    return (
        tasklang.segment([sent]),
        tasklang.encode_segmentations([seg], ctx.width, ctx.height, ctx.codec),
    )


def build_target(
    kind: str, sample: dict[str, Any], ctx: TargetContext, rng: random.Random
) -> tuple[str, str]:
    """The (prefix, suffix) of task ``kind`` for one sample."""
    if kind not in TARGETS:
        raise KeyError(f"unknown task kind {kind!r}; available: {sorted(TARGETS)}")
    return TARGETS[kind](sample, ctx, rng)
