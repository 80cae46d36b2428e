"""The filter audit: whom each step, and the whole recipe, keeps and removes.

Everything is computed from a curation's ``decisions.parquet`` (one row per input sample:
where it ended and why, with its language, script, country, region and income bucket) and its
``manifest.json``, so ``globelens audit DIR`` rebuilds the page from existing outputs.

Python API (used by the demo's report):
- :func:`audit_data` -> dict (also ``audit.json``);
- :func:`audit_figures` -> {name: matplotlib Figure};
- :func:`compare_figure` -> one Figure comparing several recipes' audits;
- :func:`write_audit` -> writes ``audit.json`` and the self-contained ``audit.html``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from globelens.data import images
from globelens.data.atomic import atomic_write_json, atomic_write_text
from globelens.groups import INCOME_BUCKET_NAMES
from globelens.report.render import pct, render

GROUP_FIELDS = ("region", "income_bucket", "country", "language", "script", "lang")
FIELD_TITLES = {
    "region": "region",
    "income_bucket": "income bucket (monthly, USD PPP)",
    "country": "country",
    "language": "caption language (metadata)",
    "script": "script",
    "lang": "detected language",
}


def _fractions(df: pd.DataFrame, kept: pd.Series, field: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    values = df[field]
    mask = values.notna()
    if not mask.any():
        return out
    grouped = (
        pd.DataFrame({"g": values[mask], "k": kept[mask]}).groupby("g")["k"].agg(["size", "sum"])
    )
    for value, row in grouped.iterrows():
        n, k = int(row["size"]), int(row["sum"])
        out[str(value)] = {"in": n, "kept": k, "fraction": round(k / n, 4) if n else None}
    if field == "income_bucket":
        out = {b: out[b] for b in INCOME_BUCKET_NAMES if b in out} | {
            b: v for b, v in out.items() if b not in INCOME_BUCKET_NAMES
        }
    return out


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _the(region: str) -> str:
    return f"the {region}" if region == "Anglosphere" else region


def headline(recipe: str, overall: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One sentence with the skew: the best- and worst-kept region and income bucket."""
    parts = []
    regions = {k: v for k, v in overall.get("region", {}).items() if v["in"]}
    if len(regions) >= 2:
        hi = max(regions, key=lambda r: (regions[r]["fraction"], r))
        lo = min(regions, key=lambda r: (regions[r]["fraction"], r))
        if f"{regions[hi]['fraction']:.0%}" == f"{regions[lo]['fraction']:.0%}":
            parts.append(f"keeps {regions[hi]['fraction']:.0%} of every region's samples")
        else:
            parts.append(
                f"keeps {regions[hi]['fraction']:.0%} of {_possessive(_the(hi))} samples and "
                f"{regions[lo]['fraction']:.0%} of {_possessive(_the(lo))}"
            )
    incomes = {k: v for k, v in overall.get("income_bucket", {}).items() if v["in"]}
    ordered = [b for b in INCOME_BUCKET_NAMES if b in incomes]
    if len(ordered) >= 2:
        poor, rich = ordered[0], ordered[-1]
        parts.append(
            f"{incomes[rich]['fraction']:.0%} of the richest households ({rich}) and "
            f"{incomes[poor]['fraction']:.0%} of the poorest ({poor})"
        )
    if not parts:
        return f"{recipe}: no region or income metadata to audit."
    return f"{recipe} " + "; ".join(parts) + "."


def audit_from_tables(decisions: pd.DataFrame, manifest: dict[str, Any]) -> dict[str, Any]:
    """The audit of one curation from its decision table and manifest."""
    n_steps = len(manifest["steps"])
    df = decisions
    kept = df["drop_step"] == n_steps
    fields = [f for f in GROUP_FIELDS if f in df.columns and df[f].notna().any()]
    overall = {f: _fractions(df, kept, f) for f in fields}
    steps = []
    for step in manifest["steps"]:
        si = step["index"]
        reached = df["drop_step"] >= si
        sub = df[reached]
        step_kept = sub["drop_step"] > si
        steps.append(
            {
                "index": si,
                "name": step["name"],
                "type": step["type"],
                "reached": int(reached.sum()),
                "kept": int(step_kept.sum()),
                "by": {f: _fractions(sub, step_kept, f) for f in fields},
            }
        )
    return {
        "recipe": manifest["recipe"],
        "headline": headline(manifest["recipe"], overall),
        "counts": manifest["counts"],
        "fields": fields,
        "overall": overall,
        "steps": steps,
        # what global steps decided (e.g. metadata_balance: t_l, matched and kept shares)
        "reports": [
            {"index": s["index"], "name": s["name"], "type": s["type"], **s["report"]}
            for s in manifest["steps"]
            if s.get("report")
        ],
    }


def audit_data(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The audit of the curation in ``out_dir`` (reads decisions.parquet and manifest.json)."""
    out = Path(out_dir)
    for name in ("decisions.parquet", "manifest.json"):
        if not (out / name).exists():
            raise FileNotFoundError(
                f"{out / name} not found: is {out} the output of `globelens curate`?"
            )
    manifest = json.loads((out / "manifest.json").read_text())
    decisions = pd.read_parquet(out / "decisions.parquet")
    return audit_from_tables(decisions, manifest)


def _bar(ax: Any, data: dict[str, dict[str, Any]], title: str, max_bars: int = 25) -> None:
    items = list(data.items())
    if len(items) > max_bars:
        items = sorted(items, key=lambda kv: -kv[1]["in"])[:max_bars]
    labels = [k for k, _ in items]
    values = [v["fraction"] or 0.0 for _, v in items]
    bars = ax.bar(range(len(items)), values, color="#4c72b0")
    for bar, (_, v) in zip(bars, items, strict=True):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height() + 0.01,
            f"{v['fraction']:.0%}\nn={v['in']}",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_xticks(
        range(len(items)),
        labels,
        rotation=45 if len(items) > 6 else 0,
        ha="right" if len(items) > 6 else "center",
        fontsize=8,
    )
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("fraction kept")
    ax.set_title(title, fontsize=10)


def audit_figures(audit: dict[str, Any]) -> dict[str, Any]:
    """Matplotlib figures of an audit: the whole recipe by each field, and a steps x region
    heat map. Keys: ``overall_<field>`` and ``steps_region`` (when regions are known)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: dict[str, Any] = {}
    for field in audit["fields"]:
        data = audit["overall"][field]
        if not data:
            continue
        width = min(12, 2.5 + 0.45 * min(len(data), 25))
        fig, ax = plt.subplots(figsize=(width, 3.4))
        _bar(ax, data, f"{audit['recipe']}: fraction kept by {FIELD_TITLES.get(field, field)}")
        fig.tight_layout()
        figs[f"overall_{field}"] = fig
    if "region" in audit["fields"] and audit["steps"]:
        regions = list(audit["overall"]["region"])
        grid = [
            [step["by"]["region"].get(r, {}).get("fraction") for r in regions]
            for step in audit["steps"]
        ]
        fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(regions), 0.8 + 0.45 * len(grid)))
        values = [[float("nan") if v is None else v for v in row] for row in grid]
        im = ax.imshow(values, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                if v is not None:
                    ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(regions)), regions, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(grid)), [s["name"] for s in audit["steps"]], fontsize=8)
        ax.set_title(f"{audit['recipe']}: fraction each step keeps of what reaches it", fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.03)
        fig.tight_layout()
        figs["steps_region"] = fig
    return figs


def compare_figure(audits: dict[str, dict[str, Any]], field: str = "region") -> Any:
    """Grouped bars: the fraction each recipe keeps per value of ``field`` (e.g. region)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values: list[str] = []
    for a in audits.values():
        for v in a["overall"].get(field, {}):
            if v not in values:
                values.append(v)
    if field == "income_bucket":
        values = [b for b in INCOME_BUCKET_NAMES if b in values]
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(values) + 2), 3.4))
    width = 0.8 / max(1, len(audits))
    x = np.arange(len(values))
    for k, (name, a) in enumerate(audits.items()):
        data = a["overall"].get(field, {})
        ax.bar(
            x + k * width, [data.get(v, {}).get("fraction") or 0 for v in values], width, label=name
        )
    ax.set_xticks(x + width * (len(audits) - 1) / 2, values, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction kept")
    ax.set_title(f"fraction of samples kept by {FIELD_TITLES.get(field, field)}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure_to_data_uri(fig: Any) -> str:
    """A PNG data URI of a figure (closes it), at the audit's resolution."""
    return images.figure_to_data_uri(fig, dpi=100, tight=False)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return pct(value, digits=1) + "%" if 0 <= value <= 1 else f"{value:g}"
    return "" if value is None else str(value)


def _step_tables(audit: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step report's ``table`` ({columns, rows}) with its cells as text (shares as
    percents)."""
    return [
        {"name": report["name"], "columns": [str(c) for c in table["columns"]],
         "rows": [[_cell(v) for v in row] for row in table["rows"]]}
        for report in audit.get("reports", [])
        if (table := report.get("table") or {}).get("rows")
    ]  # fmt: skip


def audit_html(audit: dict[str, Any], figures: dict[str, Any] | None = None) -> str:
    """A self-contained HTML page (plots inlined as PNG data URIs)."""
    figures = audit_figures(audit) if figures is None else figures
    c = audit["counts"]
    order = ["overall_region", "overall_income_bucket", "steps_region"]
    order += [k for k in figures if k not in order]
    steps = [
        {**s, "share": pct(s["kept"] / s["reached"] if s["reached"] else 0) + "%"}
        for s in audit["steps"]
    ]
    page = render(
        "audit.html",
        audit=audit,
        c=c,
        kept_share=pct(c["kept"] / max(c["in"], 1)) + "%",
        corrupt=", ".join(f"{r} {n}" for r, n in c["corrupt"].items()) or "none",
        steps=steps,
        drops=[
            (step, ", ".join(f"{r} {n}" for r, n in reasons.items()))
            for step, reasons in c["dropped"].items()
        ],
        tables=_step_tables(audit),
        figures=[(k, figure_to_data_uri(figures[k])) for k in order if k in figures],
    )
    return str(page)


def write_audit(out_dir: str | os.PathLike) -> dict[str, str]:
    """Write ``audit.json`` and ``audit.html`` into a curation's output folder."""
    out = Path(out_dir)
    audit = audit_data(out)
    atomic_write_json(out / "audit.json", audit)
    atomic_write_text(out / "audit.html", audit_html(audit))
    return {"json": str(out / "audit.json"), "html": str(out / "audit.html")}
