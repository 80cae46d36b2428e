"""The generative task record and its registry: one object per task, read by the trainer
(``train-vlm --task``), the evaluator (``globelens eval``), ``globelens ask`` and the server.

A task is defined once, in one module: the verb its prompts start with, how such a prompt is
read back, the training target it builds from a scene's typed annotations, and how it is
evaluated on a benchmark (requests, scoring, metric names). Registering it makes it a
``train-vlm`` task kind, a ``globelens eval`` task and a prompt that ``ask`` and the server
type; unregistering takes it out of all of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from globelens.data.annotations import Annotations
from globelens.evaluate import tasks as evaluator
from globelens.evaluate.datasets.base import Benchmark
from globelens.models import tasklang

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext


@dataclass(frozen=True)
class TargetContext:
    """What a target builder may use besides the annotations: its picture's size, the task's
    language filter, and the mask codec (tasks with ``needs_codec``)."""

    width: int
    height: int
    langs: tuple[str, ...] = ()
    codec: Any = None
    #: detect: the classes a prompt may list although the picture lacks them, and how many
    classes: tuple[str, ...] = ()
    negatives: int = 0


#: (annotations, context, rng) -> (prefix, suffix); raises ``SampleError`` with a reason
TargetFn = Callable[[Annotations, TargetContext, random.Random], tuple[str, str]]
#: the evaluator's run: a prepared generative context -> result dicts
EvalFn = Callable[["GenerativeContext"], list[dict[str, Any]]]


@dataclass(frozen=True)
class GenerativeTask:
    """One generative task, everything about it in one place."""

    #: the task's name: a ``train-vlm --task`` kind and a ``globelens eval --task`` alias
    name: str
    #: training target from a scene's annotations (random choices from ``rng`` only)
    target: TargetFn
    #: the evaluator's run over a benchmark (builds the requests, generates, scores)
    evaluate: EvalFn
    #: the name results carry (``task`` in a result file; CLIP_benchmark-style)
    eval_name: str
    #: the metrics ``evaluate`` reports, the primary one first
    metrics: tuple[str, ...]
    #: whether a benchmark carries what ``evaluate`` needs, and that in words
    requires: Callable[[Benchmark], bool]
    needs: str
    #: how a prompt of ``verb`` is read: (text after the verb, whole prompt) -> Prompt (the
    #: language's own reader for its verbs). A task that speaks another task's verb (refer
    #: speaks ``segment``, as PaliGemma's RefCOCO prompts do) leaves it None.
    read_prompt: tasklang.PromptReader | None = None
    #: the prompt verb (the first word of the task's prompts); the task's name by default
    verb: str = ""
    #: what its answers hold: ``text``, ``boxes`` (labelled loc tokens) or ``masks`` (boxes
    #: and seg tokens); how ``tasklang.parse`` reads them
    answer: str = "text"
    #: whether targets and answers hold ``<seg>`` masks (a mask codec is needed)
    needs_codec: bool = False
    #: more ``globelens eval --task`` names for it
    aliases: tuple[str, ...] = ()
    #: tasks of the dual-encoder protocol this one replaces for generators
    stands_in_for: tuple[str, ...] = ()

    @property
    def prompt_verb(self) -> str:
        return self.verb or self.name


TASKS: dict[str, GenerativeTask] = {}
#: prompt verbs a registered task added to the task language (taken out with the task)
_ADDED_VERBS: set[str] = set()


def register_task(task: GenerativeTask) -> GenerativeTask:
    """Add ``task`` everywhere a generative task is read; a name (or result name) already
    taken, or a verb nothing reads, is an error."""
    if task.name in TASKS:
        raise ValueError(f"generative task {task.name!r} is already registered")
    if task.read_prompt is None and task.prompt_verb not in tasklang.verbs():
        raise ValueError(
            f"task {task.name!r} speaks the verb {task.prompt_verb!r}, which no reader reads: "
            f"give it read_prompt, or a verb of {', '.join(tasklang.verbs())}"
        )
    if task.eval_name in evaluator.TASKS:
        raise ValueError(f"an evaluator task is already called {task.eval_name!r}")
    read = task.read_prompt
    if read is not None and tasklang.register_prompt(task.prompt_verb, read, task.answer):
        _ADDED_VERBS.add(task.prompt_verb)
    TASKS[task.name] = task
    evaluator.register_task(
        task.eval_name,
        task.evaluate,
        (task.name, *task.aliases),
        protocol="generator",
        requires=task.requires,
        stands_in_for=task.stands_in_for,
        needs=task.needs,
    )
    return task


def unregister_task(name: str) -> None:
    """Take the task ``name`` out of every registry it was added to."""
    task = TASKS.pop(name)
    if task.prompt_verb in _ADDED_VERBS:
        _ADDED_VERBS.discard(task.prompt_verb)
        tasklang.unregister_prompt(task.prompt_verb)
    evaluator.unregister_task(task.eval_name)


def get_task(name: str) -> GenerativeTask:
    """The task of this name; an unknown name lists the choices."""
    if name not in TASKS:
        raise ValueError(f"unknown generative task {name!r}; available: {', '.join(TASKS)}")
    return TASKS[name]


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def build_target(
    name: str, annotations: Annotations, ctx: TargetContext, rng: random.Random
) -> tuple[str, str]:
    """The (prefix, suffix) of task ``name`` for one scene."""
    task = get_task(name)
    if task.needs_codec and ctx.codec is None:
        raise ValueError(f"the {name} task needs a mask codec (--codec)")
    return task.target(annotations, ctx, rng)
