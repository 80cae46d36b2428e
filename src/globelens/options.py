"""Options from files and command lines, checked against the function that takes them.

A recipe's step keys, a benchmark's loader options: a typo fails where the options are
given, with an error naming the valid keys, instead of being swallowed by ``**kwargs``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def keyword_parameters(fn: Callable[..., Any], skip: Iterable[str] = ("self",)) -> dict[str, Any]:
    """The named parameters of ``fn`` that options can set (``*args``/``**kwargs`` and the
    names in ``skip`` left out), in signature order."""
    skipped = set(skip)
    return {
        name: p
        for name, p in inspect.signature(fn).parameters.items()
        if name not in skipped and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def check_keywords(
    fn: Callable[..., Any], options: Mapping[str, Any], what: str, skip: Iterable[str] = ("self",)
) -> None:
    """Raise ``ValueError`` naming the valid keys when ``options`` has a key ``fn`` does not
    take, or lacks one it requires. ``what`` starts the message (``step 'langid'``)."""
    params = keyword_parameters(fn, skip)
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(
            f"{what} got unknown key(s) {unknown}. Valid keys are: {', '.join(params) or '(none)'}"
        )
    missing = [
        p.name
        for p in params.values()
        if p.default is inspect.Parameter.empty and p.name not in options
    ]
    if missing:
        raise ValueError(f"{what} is missing required key(s) {missing}")


__all__ = ["check_keywords", "keyword_parameters"]
