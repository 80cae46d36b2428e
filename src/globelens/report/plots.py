"""Matplotlib figures for the report, returned as inline ``data:`` PNG URIs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; never opens a window
import matplotlib.pyplot as plt
import numpy as np

from globelens.data import images
from globelens.groups import INCOME_BUCKET_NAMES

COLORS = plt.get_cmap("tab10").colors


def figure_to_data_uri(fig: Any, dpi: int = 110) -> str:
    """Render a figure to a base64 PNG ``data:`` URI and close it."""
    return images.figure_to_data_uri(fig, dpi=dpi)


def _err(value: float, ci: Sequence[float] | None) -> tuple[float, float]:
    if not ci or any(c != c for c in ci):  # missing or NaN
        return 0.0, 0.0
    return max(0.0, value - ci[0]), max(0.0, ci[1] - value)


def _group_order(key: str, names: set[str]) -> list[str]:
    if key == "income_bucket":
        return [b for b in INCOME_BUCKET_NAMES if b in names]
    return sorted(names)


#: formats a figure is saved in beside the data it draws: PNG to look at, SVG to print
SAVE_FORMATS = ("png", "svg")


def save_figure(fig: Any, stem: str | Path, dpi: int = 110) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg`` and close it; returns the paths."""
    paths = []
    for fmt in SAVE_FORMATS:
        path = Path(f"{stem}.{fmt}")
        # No date and fixed element ids: the SVG's bytes are a function of the data.
        meta = {"Date": None} if fmt == "svg" else {}
        with matplotlib.rc_context({"svg.hashsalt": "globelens"}):
            fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
        paths.append(path)
    plt.close(fig)
    return paths


def group_lines(series: dict[str, dict[str, dict[str, Any]]], key: str, title: str) -> str:
    """Accuracy per group as one line per model (income buckets read left to right), as a
    ``data:`` URI."""
    return figure_to_data_uri(group_lines_figure(series, key, title))


def group_lines_figure(series: dict[str, dict[str, dict[str, Any]]], key: str, title: str) -> Any:
    """Accuracy per group as one line per model: ``{model: {group: {"acc1", "acc1_ci95"}}}``;
    error bars are the 95% intervals."""
    names = _group_order(key, {g for s in series.values() for g in s})
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(len(names))
    for k, (model, groups) in enumerate(series.items()):
        ys = [100 * groups[n]["acc1"] if n in groups else np.nan for n in names]
        errs = np.array(
            [
                _err(groups[n]["acc1"], groups[n].get("acc1_ci95")) if n in groups else (0, 0)
                for n in names
            ]
        ).T
        ax.errorbar(
            x, ys, yerr=100 * errs, marker="o", capsize=3, label=model, color=COLORS[k % 10]
        )
    ax.set_xticks(x, names)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_xlabel("monthly income (USD PPP)" if key == "income_bucket" else key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def group_bars(series: dict[str, dict[str, dict[str, Any]]], key: str, title: str) -> str:
    """Grouped bars: accuracy per group (region, country), one bar colour per model, as a
    ``data:`` URI."""
    return figure_to_data_uri(group_bars_figure(series, key, title))


def group_bars_figure(series: dict[str, dict[str, dict[str, Any]]], key: str, title: str) -> Any:
    """Grouped bars of accuracy per group (same input as :func:`group_lines_figure`)."""
    names = _group_order(key, {g for s in series.values() for g in s})
    n_models = max(1, len(series))
    width = 0.8 / n_models
    fig, ax = plt.subplots(figsize=(max(6.4, 0.5 * len(names) * n_models + 2), 3.6))
    x = np.arange(len(names))
    for k, (model, groups) in enumerate(series.items()):
        ys = [100 * groups[n]["acc1"] if n in groups else 0 for n in names]
        errs = np.array(
            [
                _err(groups[n]["acc1"], groups[n].get("acc1_ci95")) if n in groups else (0, 0)
                for n in names
            ]
        ).T
        ax.bar(
            x + (k - (n_models - 1) / 2) * width,
            ys,
            width,
            yerr=100 * errs,
            capsize=2,
            label=model,
            color=COLORS[k % 10],
        )
    ax.set_xticks(
        x, names, rotation=30 if len(names) > 5 else 0, ha="right" if len(names) > 5 else "center"
    )
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def value_bars(
    values: dict[str, dict[str, tuple[float, Sequence[float] | None]]], ylabel: str, title: str
) -> str:
    """Bars of one metric: {benchmark: {model: (value, ci)}} (e.g. disparity)."""
    benches = list(values)
    models = sorted({m for v in values.values() for m in v})
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(
        figsize=(max(5.0, 1.6 * len(benches) * max(1, len(models)) / 2 + 2), 3.4)
    )
    x = np.arange(len(benches))
    for k, model in enumerate(models):
        ys, errs = [], []
        for b in benches:
            v, ci = values[b].get(model, (np.nan, None))
            ys.append(100 * v)
            errs.append(_err(v, ci))
        ax.bar(
            x + (k - (len(models) - 1) / 2) * width,
            ys,
            width,
            yerr=100 * np.array(errs).T,
            capsize=3,
            label=model,
            color=COLORS[k % 10],
        )
    ax.set_xticks(x, benches)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return figure_to_data_uri(fig)


@dataclass(frozen=True)
class Margin:
    """One paired comparison: its per-seed differences, their mean and 95% interval
    (fractions), and whether the claim holds (None: not decided)."""

    label: str
    per_seed: Sequence[float]
    mean: float
    ci95: Sequence[float] | None = None
    holds: bool | None = None


#: colour by verdict (holds, does not hold, undecided), in figures and the findings table
VERDICT_COLORS = {True: "#1a7f37", False: "#b42318", None: "#6e7781"}


def margins_figure(margins: Sequence[Margin], xlabel: str, title: str) -> Any:
    """One row per comparison: each seed's difference as a dot, the mean as a diamond with
    its interval; the zero line separates "holds" from "does not hold"."""
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * len(margins) + 1.3))
    ys = np.arange(len(margins))[::-1]
    for y, m in zip(ys, margins, strict=True):
        color = VERDICT_COLORS[m.holds]
        lo, hi = _err(m.mean, m.ci95)
        ax.errorbar(
            [100 * m.mean], [y], xerr=[[100 * lo], [100 * hi]], fmt="D", color=color, capsize=4
        )
        seeds = [100 * v for v in m.per_seed]
        ax.scatter(seeds, [y] * len(seeds), s=14, color=color, alpha=0.5, zorder=3)
    ax.axvline(0, color="#222", lw=0.8)
    ax.set_yticks(ys, [m.label for m in margins], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return fig
