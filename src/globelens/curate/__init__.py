"""Curation: filter, deduplicate, mix and rebalance image-text shards, and audit whom each
step removes (by language, script, country, region and income).

Python API::

    from globelens.curate import run_recipe, audit_data, audit_figures
    manifest = run_recipe("configs/english_only.toml", "world/crawl/*.tar", "out/en", workers=2, audit=True)
    audit = audit_data("out/en")          # dict, also out/en/audit.json
    figures = audit_figures(audit)        # {name: matplotlib Figure}
"""

from typing import Any

from globelens.curate.base import STEPS, GlobalStep, Step, StepResult, register_step
from globelens.curate.pipeline import load_kept_uids, process_batch, run_recipe, sample_uid
from globelens.curate.recipe import Recipe, load_recipe
from globelens.curate.steps import build_step

# The audit needs pandas (~0.4 s to import); it is loaded on first use, so that curation
# workers, which never audit, start fast.
_AUDIT_NAMES = (
    "audit_data",
    "audit_figures",
    "audit_html",
    "compare_figure",
    "figure_to_data_uri",
    "write_audit",
)


def __getattr__(name: str) -> Any:
    if name in _AUDIT_NAMES:
        from globelens.curate import audit

        return getattr(audit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STEPS",
    "GlobalStep",
    "Recipe",
    "Step",
    "StepResult",
    "audit_data",
    "audit_figures",
    "audit_html",
    "build_step",
    "compare_figure",
    "figure_to_data_uri",
    "load_kept_uids",
    "load_recipe",
    "process_batch",
    "register_step",
    "run_recipe",
    "sample_uid",
    "write_audit",
]
