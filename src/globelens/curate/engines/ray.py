"""The Ray engine: Ray Data maps the same shard tasks as the local engine, on a local Ray
instance or on an existing cluster (``address``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any


class RayEngine:
    def __init__(self, workers: int = 2, address: str | None = None) -> None:
        # Ray's usage statistics would phone home; curation must run offline.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError as e:  # pragma: no cover
            raise ImportError("the ray engine needs Ray: pip install 'ray[data]'") from e
        self.workers = max(1, workers)
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            self._started = True

    def map(self, fn: Callable[[Any], dict], tasks: list[Any]) -> Iterator[dict]:
        if not tasks:
            return
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the pipeline shows its own progress bar

        def call(row: dict[str, Any]) -> dict[str, Any]:
            return {"result": json.dumps(fn(tasks[int(row["i"])]))}

        ds = ray.data.from_items(
            [{"i": i} for i in range(len(tasks))], override_num_blocks=len(tasks)
        )
        for row in ds.map(call, num_cpus=1, concurrency=self.workers).iter_rows():
            yield json.loads(row["result"])

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
