"""The local engine: a process pool over shards (in-process when ``workers`` is 1)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any


class LocalEngine:
    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[Any], dict], tasks: list[Any]) -> Iterator[dict]:
        if self.workers == 1 or len(tasks) <= 1:
            for task in tasks:
                yield fn(task)
            return
        if self._pool is None:
            # spawn, not fork: the parent may hold threads (tqdm, torch) that fork would copy
            # in a locked state.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
        # At most 2 tasks in flight per worker keeps memory flat on long shard lists.
        pending: set = set()
        queue = list(reversed(tasks))
        while queue or pending:
            while queue and len(pending) < 2 * self.workers:
                pending.add(self._pool.submit(fn, queue.pop()))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
