"""Engines run curation tasks: ``local`` (a process pool) or ``ray`` (Ray Data).

An engine only maps a picklable top-level function over task objects and yields the JSON-able
results in any order; the pipeline makes the output independent of that order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from globelens.curate.engines.local import LocalEngine
from globelens.curate.engines.ray import RayEngine


class Engine(Protocol):
    def map(self, fn: Callable[[Any], dict], tasks: list[Any]) -> Iterator[dict]: ...

    def close(self) -> None: ...


def _local(workers: int, address: str | None = None) -> Engine:
    if address:
        raise ValueError("--address applies to the ray engine only")
    return LocalEngine(workers)


def _ray(workers: int, address: str | None = None) -> Engine:
    return RayEngine(workers, address)


ENGINES: dict[str, Callable[..., Engine]] = {"local": _local, "ray": _ray}


def make_engine(name: str, workers: int, address: str | None = None) -> Engine:
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}. Available engines are: {', '.join(ENGINES)}")
    return ENGINES[name](workers, address)
