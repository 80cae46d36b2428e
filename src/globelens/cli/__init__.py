"""The ``globelens`` command line: one module per command group, each with ``register(app)``."""

from __future__ import annotations

import os

import click


def debugging(ctx: click.Context | None = None) -> bool:
    """Whether ``globelens --debug`` (or ``GLOBELENS_DEBUG=1``) asked for tracebacks; ``ctx``
    defaults to the context of the command that is running."""
    if os.environ.get("GLOBELENS_DEBUG", "") not in ("", "0"):
        return True
    ctx = ctx or click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.find_root().params.get("debug"))
