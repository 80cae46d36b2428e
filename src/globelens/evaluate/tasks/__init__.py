"""Evaluation tasks by name: each maps (model, benchmark, image embeddings) to result dicts.

Adding a task is one module that calls :func:`register_task`; the suite and the CLI refer to
tasks by these names (CLIP_benchmark's where one exists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from globelens.evaluate.benchmarks.base import Benchmark
from globelens.evaluate.cache import EmbeddingCache
from globelens.models.base import DualEncoder


@dataclass
class TaskContext:
    """What a task gets: the model, the benchmark, its image embeddings and options."""

    model: DualEncoder
    bench: Benchmark
    image_emb: np.ndarray  # (N, D), rows of invalid images are zeros
    valid: np.ndarray  # (N,) bool
    cache: EmbeddingCache | None = None
    n_bootstrap: int = 1000
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


TaskFn = Callable[[TaskContext], list[dict[str, Any]]]
TASKS: dict[str, TaskFn] = {}
ALIASES: dict[str, str] = {}


def register_task(name: str, fn: TaskFn, aliases: tuple[str, ...] = ()) -> None:
    TASKS[name] = fn
    for a in aliases:
        ALIASES[a] = name


def task_name(name: str) -> str:
    """Canonical task name for a name or alias; unknown names list the choices."""
    name = ALIASES.get(name, name)
    if name not in TASKS:
        raise ValueError(
            f"unknown task {name!r}. Available tasks: {', '.join(sorted(TASKS))} "
            f"(aliases: {', '.join(sorted(ALIASES))})"
        )
    return name


from globelens.evaluate.tasks import fewshot, retrieval, zeroshot  # noqa: E402

register_task("zeroshot_classification", zeroshot.run, ("zeroshot", "classification"))
register_task("zeroshot_retrieval", retrieval.run, ("retrieval",))
register_task("fewshot_geolocalization", fewshot.run, ("fewshot", "geolocalization"))

__all__ = ["ALIASES", "TASKS", "TaskContext", "register_task", "task_name"]
