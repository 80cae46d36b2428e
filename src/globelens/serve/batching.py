"""Dynamic batching: concurrent requests to one model are run as one forward pass.

A :class:`Batcher` owns one worker thread per model. Requests ``submit`` an item and await its
result; the worker takes the first waiting item, then gathers more until ``max_batch`` items or
``max_delay_s`` have passed, and runs the batch function once. The queue is bounded (a full
queue is refused at once, never grows without end), a request that timed out is dropped before
it costs any compute, and an item that breaks its batch is isolated: the batch is re-run item by
item so only the bad one fails, and the worker keeps going whatever happens.

Hand-written because the batching helpers we know (Ray Serve's ``@serve.batch``) tie the
server to one engine; this one runs the same under uvicorn and inside a Ray Serve replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: the batch function: items -> one result (or an Exception) per item, in order
BatchFn = Callable[[Sequence[Any]], Sequence[Any]]


class QueueFullError(RuntimeError):
    """The model's queue is full: the caller should answer 429."""


class BatcherStoppedError(RuntimeError):
    """The batcher is not running (shutting down or its worker died)."""


@dataclass
class _Job:
    item: Any
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)


def run_isolated(fn: BatchFn, items: Sequence[Any]) -> list[Any]:
    """``fn(items)``; if it raises, run each item alone so one bad item fails by itself."""
    try:
        out = list(fn(items))
        if len(out) != len(items):
            raise RuntimeError(f"batch function returned {len(out)} results for {len(items)}")
        return out
    except Exception as e:
        if len(items) == 1:
            return [e]
        log.warning("batch of %d failed (%s); running its items one by one", len(items), e)
    results: list[Any] = []
    for item in items:
        try:
            results.append(next(iter(fn([item]))))
        except Exception as e:
            results.append(e)
    return results


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    failed_items: int = 0
    dropped_expired: int = 0


class Batcher(Generic[T, R]):
    """One model's queue and worker thread."""

    def __init__(
        self,
        name: str,
        fn: BatchFn,
        *,
        max_batch: int = 32,
        max_delay_s: float = 0.005,
        max_queue: int = 512,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be at least 1")
        self.name = name
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self._fn = fn
        self._queue: queue.Queue[_Job] = queue.Queue(maxsize=max_queue)
        self._on_batch = on_batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = BatchStats()
        #: monotonic time of the worker's last loop iteration (readiness checks it)
        self.heartbeat = 0.0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Batcher[T, R]:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name=f"batcher-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._fail_waiting(BatcherStoppedError("the server is shutting down"))

    def alive(self, stale_after_s: float = 30.0) -> bool:
        """The worker thread runs and is not stuck (a batch longer than ``stale_after_s``
        counts as stuck)."""
        return (
            self._thread is not None
            and self._thread.is_alive()
            and not self._stop.is_set()
            and time.monotonic() - self.heartbeat < stale_after_s
        )

    def qsize(self) -> int:
        return self._queue.qsize()

    # -- requests ---------------------------------------------------------------------------

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait for its result (cancel the awaiting task to give up)."""
        if self._stop.is_set() or self._thread is None or not self._thread.is_alive():
            raise BatcherStoppedError(f"model {self.name!r} is not running")
        loop = asyncio.get_running_loop()
        job = _Job(item, loop.create_future(), loop)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFullError(f"model {self.name!r} has {self._queue.maxsize} waiting") from None
        return await job.future

    def run_sync(self, items: Sequence[T]) -> list[R]:
        """Run items through the batch function in the caller's thread (warm-up)."""
        return run_isolated(self._fn, items)

    # -- worker -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                batch = self._gather()
                if batch:
                    self._run(batch)
            except Exception:  # never let the worker die: log and keep serving
                log.exception("batcher %s: unexpected error", self.name)

    def _gather(self) -> list[_Job]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.max_delay_s
        while len(batch) < self.max_batch:
            try:  # whatever is already waiting joins without delay
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        live = [j for j in batch if not j.future.done()]
        self.stats.dropped_expired += len(batch) - len(live)
        return live

    def _run(self, jobs: list[_Job]) -> None:
        t0 = time.perf_counter()
        results = run_isolated(self._fn, [j.item for j in jobs])
        elapsed = time.perf_counter() - t0
        self.stats.batches += 1
        self.stats.items += len(jobs)
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                self.stats.failed_items += 1
            _resolve(job, result)
        if self._on_batch is not None:
            self._on_batch(len(jobs), elapsed)

    def _fail_waiting(self, error: Exception) -> None:
        while True:
            try:
                _resolve(self._queue.get_nowait(), error)
            except queue.Empty:
                return


def _resolve(job: _Job, result: Any) -> None:
    def set_it() -> None:
        if job.future.done():  # the request gave up (timeout, client gone)
            return
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)

    # a closed event loop raises RuntimeError: nobody is waiting any more
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(set_it)
