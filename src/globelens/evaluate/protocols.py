"""How the suite prepares the shared work of each model kind's tasks on one benchmark: image
embeddings for dual encoders; batched, cached generation for generators. Each kind of
:data:`globelens.models.kinds.KINDS` names its ``prepare`` here; tasks name the kind they need
(``globelens.evaluate.tasks.Task.protocol``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.embed import image_embeddings
from globelens.evaluate.tasks import GenerativeContext, TaskContext
from globelens.models.base import DualEncoder, Generator

if TYPE_CHECKING:
    from globelens.evaluate.suite import Caches, SuiteOptions


@dataclass
class Prepared:
    """A task context plus what preparing it cost and skipped."""

    ctx: Any
    timing: dict[str, Any]
    skipped: dict[str, int]


def prepare_dual_encoder(
    model: DualEncoder, bench: Benchmark, opts: SuiteOptions, caches: Caches
) -> Prepared:
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


def prepare_generator(
    model: Generator, bench: Benchmark, opts: SuiteOptions, caches: Caches
) -> Prepared:
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
