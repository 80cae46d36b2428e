"""Evaluation tasks by name: each maps a prepared context (model + benchmark + shared work) to
result dicts.

Adding a task is one module that calls :func:`register_task`; the suite and the CLI refer to
tasks by these names (CLIP_benchmark's where one exists). A task declares the model protocol it
needs (``dual_encoder``: gets image embeddings; ``generator``: gets batched, cached generation,
see ``globelens.evaluate.protocols``), what a benchmark must carry for it, and which other
protocol's task it stands in for (a generator asked for a benchmark's zero-shot classification
runs classification by generation). No if-chain over model kinds anywhere. The generative
tasks of the task language (captioning, vqa, detection, segmentation, referring_segmentation)
are registered here by ``globelens.tasks``, where each is defined once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from globelens.evaluate.cache import EmbeddingCache
from globelens.evaluate.datasets.base import Benchmark
from globelens.models.base import DualEncoder, Generator

if TYPE_CHECKING:
    from globelens.evaluate.generate import DecodeSettings, GenerationCache, GenerationRun, Request


@dataclass
class TaskContext:
    """What a dual-encoder task gets: the model, the benchmark, its image embeddings, options."""

    model: DualEncoder
    bench: Benchmark
    image_emb: np.ndarray  # (N, D), rows of invalid images are zeros
    valid: np.ndarray  # (N,) bool
    cache: EmbeddingCache | None = None
    n_bootstrap: int = 1000
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerativeContext:
    """What a generator task gets: the model, the benchmark and batched, cached generation."""

    model: Generator
    bench: Benchmark
    cache: GenerationCache | None = None
    batch_size: int = 16
    workers: int | None = None
    progress: bool = False
    n_bootstrap: int = 1000
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def generate(
        self, requests: list[Request], settings: DecodeSettings, desc: str = "generate"
    ) -> GenerationRun:
        from globelens.evaluate.generate import run_generation

        return run_generation(
            self.model,
            self.bench,
            requests,
            settings,
            self.cache,
            batch_size=self.batch_size,
            workers=self.workers,
            progress=self.progress,
            desc=desc,
        )


TaskFn = Callable[[Any], list[dict[str, Any]]]


def _always(bench: Benchmark) -> bool:
    return True


@dataclass(frozen=True)
class Task:
    """A registered task: how to run it and what it needs."""

    name: str
    run: TaskFn
    #: the model protocol whose prepared context ``run`` takes (``globelens.evaluate.protocols``)
    protocol: str = "dual_encoder"
    #: whether a benchmark carries what the task needs (checked when tasks are forced)
    requires: Callable[[Benchmark], bool] = _always
    #: tasks of other protocols this one replaces for its protocol's models
    stands_in_for: tuple[str, ...] = ()
    #: what ``requires`` checks, in words (for the error when a forced task cannot run)
    needs: str = ""

    def __call__(self, ctx: Any) -> list[dict[str, Any]]:
        return self.run(ctx)


TASKS: dict[str, Task] = {}
ALIASES: dict[str, str] = {}


def register_task(
    name: str,
    fn: TaskFn,
    aliases: tuple[str, ...] = (),
    *,
    protocol: str = "dual_encoder",
    requires: Callable[[Benchmark], bool] = _always,
    stands_in_for: tuple[str, ...] = (),
    needs: str = "",
) -> None:
    TASKS[name] = Task(name, fn, protocol, requires, stands_in_for, needs)
    for a in aliases:
        ALIASES[a] = name


def unregister_task(name: str) -> None:
    """Take the task ``name`` and its aliases out."""
    del TASKS[name]
    for alias in [a for a, target in ALIASES.items() if target == name]:
        del ALIASES[alias]


def task_name(name: str) -> str:
    """Canonical task name for a name or alias; unknown names list the choices."""
    name = ALIASES.get(name, name)
    if name not in TASKS:
        raise ValueError(
            f"unknown task {name!r}. Available tasks: {', '.join(sorted(TASKS))} "
            f"(aliases: {', '.join(sorted(ALIASES))})"
        )
    return name


def tasks_for(bench: Benchmark, protocol: str, forced: list[str] | None = None) -> list[str]:
    """The tasks to run for a model of ``protocol`` on ``bench``: the forced ones that apply,
    else the benchmark's own, each replaced by its stand-in when it needs another protocol."""
    if forced:
        return [t for t in forced if TASKS[t].protocol == protocol and TASKS[t].requires(bench)]
    out: list[str] = []
    for name in bench.tasks:
        name = ALIASES.get(name, name)
        task = TASKS.get(name)
        if task is None:
            continue
        if task.protocol == protocol:
            picks = [name]
        else:
            picks = [
                t.name
                for t in TASKS.values()
                if t.protocol == protocol and name in t.stands_in_for and t.requires(bench)
            ]
        out.extend(p for p in picks if p not in out)
    return out


def check_forced(forced: list[str], benches: list[Benchmark]) -> None:
    """A task asked for by name must run on at least one of the benchmarks; otherwise the
    run would print an empty table and succeed, so fail saying what the task needs."""
    for name in forced:
        task = TASKS[name]
        if not any(task.requires(b) for b in benches):
            names = ", ".join(b.name for b in benches)
            raise ValueError(
                f"task {name!r} cannot run on {names}: it needs {task.needs or 'other data'}"
            )


def _has_captions(b: Benchmark) -> bool:
    return any(r.captions for r in b.records[:100])


def _has(key: str) -> Callable[[Benchmark], bool]:
    return lambda b: any(r.annotations.get(key) for r in b.records[:200])


from globelens.evaluate.tasks import (  # noqa: E402
    fewshot,
    genclassify,
    grounding,
    multilingual,
    multiple_choice,
    retrieval,
    zeroshot,
)

register_task(
    "zeroshot_classification",
    zeroshot.run,
    ("zeroshot", "classification"),
    requires=lambda b: bool(b.classnames),
    needs="class names",
)
register_task(
    "zeroshot_retrieval", retrieval.run, ("retrieval",), requires=_has_captions, needs="captions"
)
register_task(
    "fewshot_geolocalization",
    fewshot.run,
    ("fewshot", "geolocalization"),
    requires=lambda b: bool(b.fewshot_targets),
    needs="geographic labels (country, region or locale)",
)
register_task(
    "classification_by_generation",
    genclassify.run,
    ("genclassify",),
    protocol="generator",
    requires=lambda b: bool(b.classnames),
    stands_in_for=("zeroshot_classification",),
    needs="class names",
)

register_task(
    "multilingual_zeroshot",
    multilingual.run,
    ("babel", "multilingual"),
    requires=lambda b: bool(b.label_sets),
    needs="per-language label sets (Babel-ImageNet)",
)
register_task(
    "multiple_choice",
    multiple_choice.run,
    ("mcq", "cvqa"),
    requires=_has("mcq"),
    needs="multiple-choice questions",
)
register_task(
    "multiple_choice_by_generation",
    multiple_choice.run_generative,
    ("mcq_generation",),
    protocol="generator",
    requires=_has("mcq"),
    stands_in_for=("multiple_choice",),
    needs="multiple-choice questions",
)
register_task(
    "grounding",
    grounding.run,
    ("ground",),
    protocol="generator",
    requires=_has("grounding"),
    needs="concepts with reference boxes",
)

__all__ = [
    "ALIASES",
    "TASKS",
    "GenerativeContext",
    "Task",
    "TaskContext",
    "check_forced",
    "register_task",
    "task_name",
    "tasks_for",
    "unregister_task",
]
