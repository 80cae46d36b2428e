"""What every page of globelens is rendered with: the Jinja2 templates under
``report/templates/`` and the one formatter of fractions as percentages.

A template receives data and escapes it itself (autoescape is on); HTML made elsewhere (a
section, a table) is passed as :class:`markupsafe.Markup`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["Markup", "esc", "html_table", "pct", "render"]


def esc(x: Any) -> str:
    return html.escape(str(x))


def pct(
    v: Any,
    ci: Sequence[float] | None = None,
    *,
    missing: str = "",
    digits: int = 1,
    signed: bool = False,
) -> str:
    """A fraction as a percentage (``0.123`` -> ``12.3``; ``signed``: ``+12.3``), ``missing``
    for no number, and with ``ci`` its 95% interval in brackets (HTML, as a note)."""
    if not isinstance(v, int | float) or v != v:
        return missing
    s = f"{100 * v:{'+' if signed else ''}.{digits}f}"
    if ci and all(isinstance(c, int | float) and c == c for c in ci):
        s += f' <span class="note">[{100 * ci[0]:.{digits}f}, {100 * ci[1]:.{digits}f}]</span>'
    return s


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("globelens.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    return env


def render(template: str, **context: Any) -> Markup:
    """``report/templates/<template>`` rendered with ``context``."""
    return Markup(_environment().get_template(template).render(**context))


def html_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """A plain HTML table; the first ``left`` columns are left-aligned text. Cells are
    inserted as given (escape text yourself with :func:`esc`)."""
    cells = [[Markup(c) for c in r] for r in rows]
    return str(render("table.html", columns=columns, rows=cells, left=left))
