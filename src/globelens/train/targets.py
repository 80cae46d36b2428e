"""Training targets: (prefix, suffix) pairs of a task from a sample's ``.json``.

Each task's target builder is defined with the task (``globelens.tasks``); this module reads a
sample's ``.json`` into its typed annotations (``globelens.data.annotations``) and asks the
task. A malformed annotation is a :class:`~globelens.train.data.SampleError`
(``bad_annotation``), so the sample is counted and left out, never fatal.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from globelens.data.annotations import AnnotationError, Annotations
from globelens.tasks import TargetContext, task_names
from globelens.tasks import build_target as build_task_target
from globelens.train.data import SampleError

__all__ = ["TargetContext", "annotations_of", "build_target", "task_names"]


def annotations_of(sample: Mapping[str, Any], source: str = "<sample>") -> Annotations:
    """A sample's typed annotations; a malformed one is a ``bad_annotation`` SampleError (its
    message names ``source`` and the key; the log shows it)."""
    try:
        return Annotations.from_json(sample, source)
    except AnnotationError as e:
        raise SampleError("bad_annotation") from e


def build_target(
    kind: str,
    sample: Mapping[str, Any] | Annotations,
    ctx: TargetContext,
    rng: random.Random,
) -> tuple[str, str]:
    """The (prefix, suffix) of task ``kind`` for one sample (its ``.json`` or annotations)."""
    ann = sample if isinstance(sample, Annotations) else annotations_of(sample)
    return build_task_target(kind, ann, ctx, rng)
