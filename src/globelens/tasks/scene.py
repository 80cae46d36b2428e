"""What the built-in tasks read from a scene's annotations to build their training targets.

A scene that has nothing for a task raises :class:`~globelens.train.data.SampleError` with a
reason (``no_captions``, ``no_qa``, ``no_objects``, ``no_refs``, ``bad_box``, ...), so it is
counted and left out, never fatal. Random choices (which caption, which question, the order
of labels) come from the ``rng`` the data stream derives from (seed, step, position).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from globelens.data.annotations import AnnotatedObject, Annotations, ReferringExpression
from globelens.models import tasklang
from globelens.tasks.base import TargetContext
from globelens.train.data import SampleError


def text(value: Any) -> str | None:
    """The text with its whitespace collapsed; None for no text."""
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def wanted(lang: str, ctx: TargetContext) -> bool:
    """Whether the task's language filter keeps ``lang``."""
    return not ctx.langs or lang in ctx.langs


def box(item: AnnotatedObject | ReferringExpression, ctx: TargetContext) -> tasklang.Box:
    """The [x, y, w, h] pixel box of an object or ref, as (x0, y0, x1, y1) inside the image."""
    if item.bbox is None:
        raise SampleError("bad_box")
    x, y, w, h = item.bbox
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise SampleError("bad_box")
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, float(ctx.width)), min(y + h, float(ctx.height))
    if x1 <= x0 or y1 <= y0:
        raise SampleError("bad_box")
    return (x0, y0, x1, y1)


def mask(item: AnnotatedObject | ReferringExpression, ctx: TargetContext) -> Any:
    """The item's (height, width) bool mask."""
    rle = item.segmentation
    if rle is None or "size" not in rle or "counts" not in rle:
        raise SampleError("missing_mask")
    try:
        out = tasklang.rle_to_mask(rle)
    except Exception as e:  # pycocotools raises bare exceptions on malformed counts
        raise SampleError("bad_mask") from e
    if out.shape != (ctx.height, ctx.width):
        raise SampleError("mask_size_mismatch")
    return out


def labelled(ann: Annotations) -> list[AnnotatedObject]:
    """The scene's objects that have a label (at least one, else ``no_objects``)."""
    objects = [o for o in ann.objects if text(o.label)]
    if not objects:
        raise SampleError("no_objects")
    return objects


def shuffled_labels(objects: Sequence[AnnotatedObject], rng: random.Random) -> list[str]:
    """The objects' labels, each once, in a random order (so the model reads the labels it
    is given rather than a fixed order)."""
    labels = sorted({text(o.label) or "" for o in objects})
    rng.shuffle(labels)
    return labels


def ordered(objects: Sequence[AnnotatedObject], labels: Sequence[str]) -> list[AnnotatedObject]:
    """Objects in the prompt's label order, then left to right, then top to bottom."""
    rank = {label: i for i, label in enumerate(labels)}
    return sorted(objects, key=lambda o: (rank[text(o.label)], *(o.bbox or (0, 0))[:2]))
