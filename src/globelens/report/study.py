"""The study's report sections (``globelens demo``), rendered from ``report/templates/study/``:
Table 1, the findings beside the paper's, the figures, the filter audit, the look-alike
landmarks, and act two's tables and gallery. Each function takes plain data (the summary,
tables, results); gathering it from a study's folder is the study's business."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globelens.report import plots
from globelens.report.render import Markup, pct, render

__all__ = [
    "Spotlight",
    "act_two_html",
    "audit_html",
    "figures_html",
    "finding_match",
    "finding_ours",
    "finding_paper",
    "finding_status",
    "findings_html",
    "gallery_html",
    "intro_html",
    "lookalike_html",
    "seed_note_html",
    "share",
    "signed",
    "table1_html",
    "value_cell",
]


def signed(x: Any) -> str:
    """A margin in points with its sign (``+3.1``), "–" without one."""
    return pct(x, missing="–", signed=True)


def share(x: Any) -> str:
    """A share as a whole percentage (``62%``), "n/a" without one."""
    s = pct(x, digits=0)
    return f"{s}%" if s else "n/a"


def value_cell(vals: dict[str, Any]) -> dict[str, Any]:
    """A metric with its interval (±, half the 95% interval) and worst group, as parts."""
    if not vals:
        return {"value": "–", "half": None, "group": None}
    ci = vals.get("ci95")
    half = f"{100 * (ci[1] - ci[0]) / 2:.1f}" if ci and all(c == c for c in ci) else None
    group = vals.get("group")
    return {"value": pct(vals.get("value"), missing="–"), "half": half,
            "group": group["name"] if group else None}  # fmt: skip


def table1_html(summary: dict[str, Any], keys: Sequence[str], labels: Sequence[str]) -> str:
    """Table 1: every model's ``keys`` metrics (columns ``labels``) with intervals."""
    n = len(summary["seeds"])
    how = (
        f"mean over {n} training seeds ± half the 95% t interval over seeds"
        if n >= 2
        else "one training seed ± half the 95% bootstrap interval over images"
    )
    models = [
        {"name": m, "description": summary["models"][m]["description"],
         "cells": [value_cell(summary["table"][m].get(k, {})) for k in keys]}
        for m in summary["models"]
    ]  # fmt: skip
    return render("study/table1.html", how=how, columns=list(labels), models=models)


def finding_status(f: dict[str, Any]) -> str:
    """ "holds", "does not hold", or "n/a: <why>" (a claim whose premise is absent)."""
    status = f.get("status") or ("holds" if f["holds"] else "does not hold")
    return f"{status}: {f['reason']}" if f.get("reason") else status


def finding_ours(f: dict[str, Any]) -> str:
    """Our number for a finding, in points (or a share of a gap, with the gap in points)."""
    if "share" in f["unit"]:
        whole_name = "gap" if "gap" in f else "gain"
        whole = f.get(whole_name)
        if f.get("holds") is None:
            return f"{signed(whole)}-point {whole_name}"
        return (
            f"{share(f['margin'])} ({signed(f.get('part'))} of a {pct(whole, missing='–')}-point "
            f"{whole_name})"
        )
    out = f"{signed(f['margin'])} points"
    if f.get("ci95"):
        lo, hi = (pct(x, missing="–") for x in f["ci95"])
        out += f" (95% interval over seeds {lo} to {hi})"
    if len(f.get("per_seed", [])) > 1:
        out += "; per seed " + ", ".join(signed(x) for x in f["per_seed"])
    return out


def finding_paper(f: dict[str, Any]) -> str:
    """The paper's number for the same comparison (points), or what it states, or that it
    does not report one."""
    p = f.get("paper") or {}
    if not p.get("reported"):
        return p.get("note", "not reported")
    if p.get("margin") is not None:
        m = p["margin"]
        return (
            f"{'+' if m >= 0 else ''}{m:.1f} points ({p['a']} {p['a_value']:g} vs "
            f"{p['b']} {p['b_value']:g}, {p['benchmark']})"
        )
    return f"holds, stated: {p['stated']}" if p.get("stated_holds") else str(p.get("stated"))


def finding_match(f: dict[str, Any]) -> str:
    m = f.get("direction_matches")
    return "–" if m is None else ("same direction" if m else "opposite direction")


def findings_html(summary: dict[str, Any], min_gap: float) -> str:
    """Every finding: whether it holds here, our number, the paper's, and whether the
    direction matches (a share of a gap is computed over a gap of ``min_gap`` or more)."""
    rows = [
        {"statement": f["statement"], "color": plots.VERDICT_COLORS[f["holds"]],
         "mark": {True: "✔ ", False: "✘ ", None: ""}[f["holds"]] + finding_status(f),
         "ours": finding_ours(f), "paper": finding_paper(f), "match": finding_match(f)}
        for f in summary["findings"].values()
    ]  # fmt: skip
    return render("study/findings.html", findings=rows, min_gap=pct(min_gap))


def intro_html(summary: dict[str, Any], findings: str) -> str:
    """What the world is and is not, what was run, and the findings (``findings``: HTML)."""
    c = summary["config"]
    return render(
        "study/intro.html",
        c=c,
        p=c["preset"],
        seed=summary["seed"],
        seeds=", ".join(str(s) for s in summary["seeds"]),
        kept=summary.get("filter_audit", {}).get("counts", {}),
        finetune=f"{c['finetune_frac']:.0%}",
        findings=Markup(findings),
    )


@dataclass(frozen=True)
class SavedFigure:
    """A figure saved as files (PNG first), shown inline with links to each file."""

    stem: str
    caption: str
    uri: str
    paths: Sequence[Path]


def figures_html(note: str, figures: Sequence[SavedFigure]) -> str:
    """The study's figures under ``note`` (empty without figures)."""
    if not figures:
        return ""
    figs = [
        {"stem": f.stem, "caption": f.caption, "uri": f.uri,
         "files": [{"name": p.name, "kind": p.suffix[1:]} for p in f.paths]}
        for f in figures
    ]  # fmt: skip
    return render("study/figures.html", note=note, figures=figs)


def audit_html(
    headline: str | None, figures: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> str:
    """The filter audit: its headline, what each curation keeps (figures: field, data URI)
    and the en curation's kept shares (rows: field, group, in, kept, share)."""
    return render("study/audit.html", headline=headline, figures=figures, rows=rows)


@dataclass(frozen=True)
class Spotlight:
    """The paper's Figure 1 landmark: its pictures and every model's answer for each."""

    name: str
    #: [{"uri": data URI, "answers": [{"model", "guess", "right"}]}]
    figures: list[dict[str, Any]]


def lookalike_html(
    families: dict[str, list[str]] | None,
    seed: int,
    models: Sequence[str],
    rows: Sequence[dict[str, Any]],
    spotlight: Spotlight | None,
) -> str:
    """Per look-alike landmark: each model's share named right and its most frequent
    mistake (rows: landmark, country, family, cells of share / wrong / count)."""
    return render(
        "study/lookalikes.html",
        families=families,
        seed=seed,
        models=list(models),
        rows=rows,
        spotlight=spotlight.figures if spotlight else None,
        spotlight_name=spotlight.name if spotlight else "",
    )


def act_two_html(gen: dict[str, Any], pictures: str, columns: list[str], rows: list[Any]) -> str:
    """Act two's table: each tower's generative model on each benchmark."""
    return render(
        "study/act_two.html",
        seeds=[str(s) for s in gen["seeds"]],
        steps=gen["config"]["steps"],
        batch_size=gen["config"]["batch_size"],
        pictures=pictures,
        columns=columns,
        rows=rows,
        blank=gen["config"].get("blank_baseline", False),
    )


def gallery_html(gallery: dict[str, Any], named: dict[str, list[int]] | None = None) -> str:
    """Every model's caption, answer, boxes and masks on the gallery's pictures, and per
    model how many of its English captions name an object of the picture."""
    return render("study/gallery.html", cells=gallery.get("cells", []), named=named or {})


def seed_note_html(seed: int) -> str:
    """The note above the per-group sections: whose models they show."""
    return render("study/seed_note.html", seed=seed)
