"""One self-contained HTML report (plots and thumbnails inlined) from a results folder."""

from __future__ import annotations

import datetime as _dt
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from globelens.report import generative, plots
from globelens.report.render import Markup, esc, html_table, pct, render

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.note{color:#555;font-size:.9em}.fig{margin:.6em 0}.fig img{max-width:100%}
.conf{display:flex;flex-wrap:wrap;gap:.8em;margin:.4em 0 1em}
.conf figure{margin:0;text-align:center;font-size:.75em;width:110px}
.conf img{width:96px;height:96px;object-fit:cover;border:1px solid #ccc}
"""

TASK_TITLES = {
    "zeroshot_classification": "zero-shot",
    "zeroshot_retrieval": "retrieval",
    "fewshot_geolocalization": "few-shot",
    "captioning": "captioning",
    "vqa": "VQA",
    "detection": "detection",
    "referring_segmentation": "referring seg.",
    "classification_by_generation": "classification by generation",
}
#: tasks whose groups carry acc1 per group (the accuracy-by-income and by-region plots)
CLASSIFICATION_TASKS = ("zeroshot_classification", "classification_by_generation")


def _summary(results: list[dict]) -> str:
    keys = [
        ("acc1", "top-1"),
        ("acc5", "top-5"),
        ("mean_per_class_recall", "mean per-class recall"),
        ("disparity", "disparity"),
        ("acc_wg", "worst-group top-1"),
        ("acc_top5_wg", "worst-group top-5"),
        ("text_retrieval_recall@1", "I→T R@1"),
        ("image_retrieval_recall@1", "T→I R@1"),
        ("country_10shot", "country 10-shot"),
        ("region_10shot", "region 10-shot"),
        ("CIDEr", "CIDEr"),
        ("Bleu_4", "BLEU-4"),
        ("vqa_acc", "VQA acc."),
        ("mAP", "mAP"),
        ("AP50", "AP50"),
        ("miou", "mIoU"),
        ("boxacc@0.5", "box acc@0.5"),
    ]
    keys = [(k, t) for k, t in keys if any(k in r["metrics"] for r in results)]
    rows = []
    for r in results:
        m, ci = r["metrics"], r.get("ci95", {})
        rows.append(
            [esc(r["model"]), esc(_benchmark_label(r)), esc(TASK_TITLES.get(r["task"], r["task"]))]
            + [pct(m.get(k), ci.get(k)) for k, _ in keys]
        )
    return html_table(["model", "benchmark", "task", *[t for _, t in keys]], rows, left=3)


def _benchmark_label(r: dict) -> str:
    """The benchmark with the protocol its number was scored under, when it names one."""
    return f"{r['dataset']} [{r['protocol']}]" if r.get("protocol") else r["dataset"]


def _by_benchmark(results: list[dict], task: str | Sequence[str]) -> dict[str, list[dict]]:
    tasks = (task,) if isinstance(task, str) else tuple(task)
    out: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        if r["task"] in tasks:
            out[r["dataset"]].append(r)
    return out


def _group_section(results: list[dict], key: str, kind: str, title: str) -> str:
    blocks = []
    for bench, rs in _by_benchmark(results, CLASSIFICATION_TASKS).items():
        series = {r["model"]: r["groups"][key]["groups"] for r in rs if key in r.get("groups", {})}
        if not series:
            continue
        draw = plots.group_lines if kind == "lines" else plots.group_bars
        uri = draw(series, key, f"{bench}: top-1 by {key.replace('_', ' ')}")
        names = sorted({g for s in series.values() for g in s})
        if key == "income_bucket":
            names = [b for b in plots.INCOME_BUCKET_NAMES if b in names]
        rows = [
            [esc(m)]
            + [pct(g[n]["acc1"], g[n].get("acc1_ci95")) if n in g else "" for n in names]
            + [str(sum(g[n]["n"] for n in g))]
            for m, g in series.items()
        ]
        table = Markup(html_table(["model", *names, "n"], rows))
        blocks.append({"bench": bench, "key": key, "uri": uri, "table": table})
    return str(render("results/groups.html", title=title, blocks=blocks))


def _disparity_section(results: list[dict]) -> str:
    values: dict[str, dict[str, tuple[float, Any]]] = defaultdict(dict)
    for r in results:
        # top-1 disparities only; generative tasks show theirs in their own sections
        if "disparity" in r["metrics"] and r["task"] in CLASSIFICATION_TASKS:
            values[r["dataset"]][r["model"]] = (
                r["metrics"]["disparity"],
                r.get("ci95", {}).get("disparity"),
            )
    if not values:
        return ""
    uri = plots.value_bars(
        values, "disparity (points)", "Income disparity: best minus worst bucket"
    )
    return str(render("results/disparity.html", uri=uri))


def _fewshot_section(results: list[dict]) -> str:
    rs = [r for r in results if r["task"] == "fewshot_geolocalization"]
    if not rs:
        return ""
    keys = sorted(
        {k for r in rs for k in r["metrics"]},
        key=lambda k: (k.split("_")[0], int(k.split("_")[1].removesuffix("shot"))),
    )
    rows = [
        [esc(r["model"]), esc(r["dataset"])] + [pct(r["metrics"].get(k)) for k in keys] for r in rs
    ]
    table = Markup(html_table(["model", "benchmark", *keys], rows, left=2))
    return str(render("results/fewshot.html", table=table))


#: the retrieval table's columns: (metric, title)
RETRIEVAL_COLUMNS = (
    ("text_retrieval_recall@1", "I→T R@1"),
    ("text_retrieval_recall@5", "I→T R@5"),
    ("image_retrieval_recall@1", "T→I R@1"),
    ("image_retrieval_recall@5", "T→I R@5"),
)


def _retrieval_section(results: list[dict]) -> str:
    rs = [r for r in results if r["task"] == "zeroshot_retrieval"]
    if not rs:
        return ""
    tables = []
    for r in rs:
        langs = r.get("languages") or {r.get("language", ""): r["metrics"]}
        rows = [
            [esc(lang)] + [pct(m.get(k)) for k, _ in RETRIEVAL_COLUMNS]
            for lang, m in sorted(langs.items())
        ]
        columns = ["language", *(t for _, t in RETRIEVAL_COLUMNS)]
        table = Markup(html_table(columns, rows))
        tables.append({"model": r["model"], "dataset": r["dataset"], "table": table})
    return str(render("results/retrieval.html", results=tables))


def _confusion_section(results: list[dict], top: int = 5) -> str:
    shown = [
        {"model": r["model"], "dataset": r["dataset"],
         "confusions": [_confusion(c) for c in r["confusions"][:top]]}
        for r in results
        if r.get("confusions")
    ]  # fmt: skip
    return str(render("results/confusions.html", results=shown)) if shown else ""


def _confusion(c: dict) -> dict:
    """One (true -> predicted) error: how often, where, and its example pictures."""
    where = c.get("countries") or c.get("regions") or {}
    examples = [
        {"image": ex.get("image", ""),
         # only inline pictures: a report never makes the browser fetch anything
         "thumbnail": thumb if (thumb := str(ex.get("thumbnail", ""))).startswith("data:image/")
         else "",
         "caption": ", ".join(str(x) for x in (ex.get("country"), ex.get("income_bucket")) if x)}
        for ex in c.get("examples", [])
        if isinstance(ex, dict)
    ]  # fmt: skip
    return {"truth": c["true"], "predicted": c["predicted"], "count": int(c["count"]),
            "where": [f"{k} ({v})" for k, v in where.items()], "examples": examples}  # fmt: skip


def render_report(
    results: list[dict],
    title: str = "globelens evaluation report",
    extra_sections: Sequence[tuple[str, str]] = (),
    intro_html: str = "",
) -> str:
    """The report as an HTML string. ``extra_sections`` are (title, HTML body) pairs placed
    after the summary (trusted HTML: the caller escapes its own text)."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    details = [
        _group_section(results, "income_bucket", "lines", "Accuracy by income"),
        _disparity_section(results),
        _group_section(results, "region", "bars", "Accuracy by region"),
        _fewshot_section(results),
        _retrieval_section(results),
        _confusion_section(results),
        generative.generative_sections(results),
    ]
    page = render(
        "page.html",
        title=title,
        now=now,
        css=Markup(CSS + generative.CSS),
        intro=Markup(intro_html),
        summary=Markup(_summary(results)) if results else "",
        sections=[(name, Markup(body)) for name, body in extra_sections],
        details=[Markup(d) for d in details],
    )
    return str(page)


def write_report(
    results_dir: str | os.PathLike,
    out_html: str | os.PathLike | None = None,
    *,
    title: str = "globelens evaluation report",
    extra_sections: Sequence[tuple[str, str]] = (),
    intro_html: str = "",
    results: list[dict] | None = None,
) -> Path:
    """Write the report for the result JSONs in ``results_dir`` (default
    ``results_dir/report.html``); returns its path."""
    # evaluate imports torch: the report stays quick to import
    from globelens.evaluate.suite import load_results

    results = results if results is not None else load_results(results_dir)
    if not results:
        raise FileNotFoundError(
            f"no result JSON files in {results_dir} (run `globelens eval` first)"
        )
    out = Path(out_html) if out_html else Path(results_dir) / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(results, title, extra_sections, intro_html), encoding="utf-8")
    return out
