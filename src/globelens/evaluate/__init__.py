"""Evaluation: benchmark loaders, zero-shot / retrieval / few-shot tasks, group metrics,
an embedding cache and the suite runner behind ``globelens eval``.

The suite's names are resolved on first use (PEP 562): the tasks import
``globelens.evaluate.metrics``, which runs this file first, and the suite imports the tasks, so
importing the suite here would close a loop.
"""

from typing import TYPE_CHECKING, Any

from globelens.evaluate.datasets import available, load_benchmark

if TYPE_CHECKING:  # what type checkers and the API reference see
    from globelens.evaluate.suite import (
        SuiteOptions,
        format_table,
        load_results,
        run_suite,
        write_results,
    )

#: names of ``globelens.evaluate.suite`` handed on by this package
_SUITE_NAMES = ("SuiteOptions", "format_table", "load_results", "run_suite", "write_results")


def __getattr__(name: str) -> Any:
    if name in _SUITE_NAMES:
        from globelens.evaluate import suite

        return getattr(suite, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SuiteOptions",
    "available",
    "format_table",
    "load_benchmark",
    "load_results",
    "run_suite",
    "write_results",
]
