"""Evaluation: benchmark loaders, zero-shot / retrieval / few-shot tasks, group metrics,
an embedding cache and the suite runner behind ``globelens eval``."""

from globelens.evaluate.benchmarks import available, load_benchmark
from globelens.evaluate.suite import (
    SuiteOptions,
    format_table,
    load_results,
    run_suite,
    write_results,
)

__all__ = [
    "SuiteOptions",
    "available",
    "format_table",
    "load_benchmark",
    "load_results",
    "run_suite",
    "write_results",
]
