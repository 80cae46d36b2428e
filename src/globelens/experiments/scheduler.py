"""Run jobs that may wait on one another in a pool of worker processes.

The study trains many small models, one thread each, ``parallel`` at a time; a continued run
("globe→en") starts only when the run it continues has written its checkpoint. This module
knows nothing of training: a :class:`Job` names what it waits for, and the caller supplies the
function that runs in the worker and hooks for starting, finishing and periodic progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any


@dataclass
class Job:
    """One unit of work: ``args`` go to the worker function; ``after`` names the job (by
    ``key``) that must finish first, if any."""

    key: str
    args: tuple[Any, ...]
    after: str | None = None
    payload: Any = None


def run_jobs(
    jobs: Sequence[Job],
    work: Callable[..., Any],
    parallel: int,
    *,
    on_start: Callable[[Job], None] | None = None,
    on_finish: Callable[[Job, Any, float], None] | None = None,
    on_tick: Callable[[Sequence[Job]], None] | None = None,
    tick_s: float = 1.0,
) -> dict[str, Any]:
    """Run every job, at most ``parallel`` at a time, each once its ``after`` job has
    finished; jobs start in the given order. ``on_start`` runs in this process just before a
    job is submitted, ``on_finish(job, result, seconds)`` when it ends, ``on_tick(running)``
    about every ``tick_s`` seconds. A failed job re-raises its error here. Returns each
    job's result by key."""
    keys = [j.key for j in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"job keys must be unique: {keys}")
    unknown = sorted({j.after for j in jobs if j.after and j.after not in keys})
    if unknown:
        raise ValueError(f"jobs wait for unknown job(s) {unknown}; jobs: {keys}")
    parallel = max(1, min(parallel, len(jobs) or 1))
    waiting = list(jobs)
    running: dict[Future[Any], tuple[Job, float]] = {}
    results: dict[str, Any] = {}
    with ProcessPoolExecutor(parallel, mp_context=get_context("spawn")) as pool:
        while waiting or running:
            for job in [j for j in waiting if not j.after or j.after in results]:
                if len(running) >= parallel:
                    break
                waiting.remove(job)
                if on_start is not None:
                    on_start(job)
                running[pool.submit(work, *job.args)] = (job, time.perf_counter())
            if not running:  # nothing can start: the remaining jobs wait on each other
                raise RuntimeError(f"jobs wait in a cycle: {[j.key for j in waiting]}")
            finished, _ = wait(list(running), timeout=tick_s, return_when=FIRST_COMPLETED)
            if on_tick is not None:
                on_tick([j for j, _ in running.values()])
            for fut in finished:
                job, t0 = running.pop(fut)
                result = fut.result()  # re-raise a failed job here
                results[job.key] = result
                if on_finish is not None:
                    on_finish(job, result, time.perf_counter() - t0)
    return results


__all__ = ["Job", "run_jobs"]
