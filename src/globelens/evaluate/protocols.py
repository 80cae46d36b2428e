"""Model protocols the suite knows, by name: how to recognise a model and prepare the shared
work its tasks use (image embeddings for dual encoders; batched, cached generation for
generators). Tasks name the protocol they need (``globelens.evaluate.tasks.Task.protocol``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from globelens.evaluate.benchmarks.base import Benchmark
from globelens.models.base import DualEncoder, Generator

if TYPE_CHECKING:
    from globelens.evaluate.suite import Caches, SuiteOptions


@dataclass
class Prepared:
    """A task context plus what preparing it cost and skipped."""

    ctx: Any
    timing: dict[str, Any]
    skipped: dict[str, int]


@dataclass(frozen=True)
class ModelProtocol:
    name: str
    #: whether a loaded model speaks this protocol
    matches: Callable[[Any], bool]
    prepare: Callable[[Any, Benchmark, SuiteOptions, Caches], Prepared]


def _prepare_dual_encoder(
    model: DualEncoder, bench: Benchmark, opts: SuiteOptions, caches: Caches
) -> Prepared:
    from globelens.evaluate.embed import image_embeddings
    from globelens.evaluate.tasks import TaskContext

    t0 = time.perf_counter()
    images, cached = image_embeddings(
        model,
        bench,
        caches.embeddings,
        batch_size=opts.batch_size,
        workers=opts.workers,
        draft=opts.draft,
        progress=opts.progress,
    )
    skipped: dict[str, int] = dict(bench.report.counts())
    for p in images.problems:
        skipped[p["reason"]] = skipped.get(p["reason"], 0) + 1
    ctx = TaskContext(
        model=model,
        bench=bench,
        image_emb=images.embeddings,
        valid=images.valid,
        cache=caches.embeddings,
        n_bootstrap=opts.n_bootstrap,
        seed=opts.seed,
        options={"templates": list(opts.templates)} if opts.templates else {},
    )
    timing = {
        "image_embeddings_s": round(time.perf_counter() - t0, 3),
        "image_embeddings_cached": cached,
    }
    return Prepared(ctx, timing, skipped)


def _prepare_generator(
    model: Generator, bench: Benchmark, opts: SuiteOptions, caches: Caches
) -> Prepared:
    from globelens.evaluate.tasks import GenerativeContext

    ctx = GenerativeContext(
        model=model,
        bench=bench,
        cache=caches.generations,
        batch_size=opts.gen_batch_size,
        workers=opts.workers,
        progress=opts.progress,
        n_bootstrap=opts.n_bootstrap,
        seed=opts.seed,
        options=dict(opts.task_options),
    )
    return Prepared(ctx, {}, dict(bench.report.counts()))


PROTOCOLS: dict[str, ModelProtocol] = {}


def register_protocol(p: ModelProtocol) -> None:
    PROTOCOLS[p.name] = p


# Generator first: a model could in principle expose both; generation is the richer protocol.
register_protocol(
    ModelProtocol("generator", lambda m: isinstance(m, Generator), _prepare_generator)
)
register_protocol(
    ModelProtocol("dual_encoder", lambda m: isinstance(m, DualEncoder), _prepare_dual_encoder)
)


def protocol_of(model: Any) -> ModelProtocol:
    for p in PROTOCOLS.values():
        if p.matches(model):
            return p
    raise TypeError(
        f"{type(model).__name__} speaks none of the model protocols: {', '.join(PROTOCOLS)}"
    )
