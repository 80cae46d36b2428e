"""The study's report: one self-contained HTML file (globelens.report plus the study's own
sections) and a Markdown summary for the terminal."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from globelens.curate import audit_data, compare_figure
from globelens.data.images import data_uri, thumbnail_data_uri
from globelens.evaluate import load_benchmark
from globelens.experiments.nofilter_summary import METRIC_BY_KEY
from globelens.experiments.study import Study
from globelens.experiments.verdicts import MIN_MARGIN
from globelens.report import esc, figure_to_data_uri, html_table, plots, write_report
from globelens.report.render import pct

#: Table 1's columns in the report and the terminal (keys of METRICS).
TABLE_KEYS: tuple[str, ...] = (
    "western",
    "dollarstreet",
    "dollarstreet_disparity",
    "dollarstreet_worst",
    "geode",
    "geode_worst",
    "landmarks",
    "xm3600_i2t",
    "xm3600_t2i",
    "geode_country_10shot",
    "geode_region_10shot",
)
MARKDOWN_KEYS: tuple[str, ...] = (
    "western",
    "dollarstreet",
    "dollarstreet_disparity",
    "geode",
    "landmarks",
    "xm3600_i2t",
    "geode_country_10shot",
)

#: The paper's Figure 1 example, always shown whatever the models do with it.
SPOTLIGHT = "Milad Tower"

CAVEAT = (
    "<p><b>This world is synthetic.</b> The pictures are drawn by a procedural renderer in "
    "which the look of a household object depends on income first and region second, and "
    "caption language follows place; the crawl over-represents rich, English-speaking places. "
    "It reproduces the <i>mechanism</i> behind the No Filter findings at toy scale, with tiny "
    "models trained for minutes on a CPU.</p>"
    "<p><b>What it shows:</b> with everything but the training data held fixed (architecture, "
    "tokenizer, steps, batch, seeds), filtering a crawl to English captions changes whom the "
    "model works for, and by how much in this world; the pipeline (curation audit, training, "
    "culturally diverse benchmarks, disparity metrics) runs end to end and can be pointed at "
    "real data.</p>"
    "<p><b>What it does not show:</b> anything about real people, countries or languages, or "
    "the size of the effect in real web data and real models. The numbers are not comparable "
    "with the paper's, and how strongly the effect appears depends on how the world was "
    "built.</p>"
)


def _pct(v: Any) -> str:
    return pct(v, missing="–")


def _cell(vals: dict[str, Any], html: bool = True) -> str:
    if not vals:
        return "–"
    s = _pct(vals.get("value"))
    ci = vals.get("ci95")
    if ci and all(c == c for c in ci):
        half = 100 * (ci[1] - ci[0]) / 2
        s += f' <span class="note">± {half:.1f}</span>' if html else f" ± {half:.1f}"
    group = vals.get("group")
    if group and html:
        s += f'<br><span class="note">{esc(group["name"])}</span>'
    return s


def _model_order(summary: dict[str, Any]) -> list[str]:
    return list(summary["models"])


def table1_html(summary: dict[str, Any]) -> str:
    table = summary["table"]
    cols = [METRIC_BY_KEY[k].label for k in TABLE_KEYS]
    rows = [
        [f"<b>{esc(m)}</b><br><span class=note>{esc(summary['models'][m]['description'])}</span>"]
        + [_cell(table[m].get(k, {})) for k in TABLE_KEYS]
        for m in _model_order(summary)
    ]
    n = len(summary["seeds"])
    how = (
        f"mean over {n} training seeds ± half the 95% t interval over seeds"
        if n >= 2
        else "one training seed ± half the 95% bootstrap interval over images"
    )
    return (
        f"<p class=note>Percentages; {how}. Disparity: best minus worst Dollar Street "
        "income bucket (lower is fairer); worst group: the lowest-scoring income bucket or "
        "region (named under the number). Few-shot: linear probe on frozen image embeddings "
        "predicting the country or region (l2 = 2<sup>10</sup>).</p>"
        + html_table(["model", *cols], rows)
    )


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
            return f"{_signed(whole)}-point {whole_name}"
        return (
            f"{_share(f['margin'])} ({_signed(f.get('part'))} of a {_pct(whole)}-point "
            f"{whole_name})"
        )
    out = f"{_signed(f['margin'])} points"
    if f.get("ci95"):
        out += f" (95% interval over seeds {_pct(f['ci95'][0])} to {_pct(f['ci95'][1])})"
    if len(f.get("per_seed", [])) > 1:
        out += "; per seed " + ", ".join(_signed(x) for x in f["per_seed"])
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


def findings_html(summary: dict[str, Any]) -> str:
    """Every finding: whether it holds here, our number, the paper's, and whether the
    direction matches."""
    rows = []
    for f in summary["findings"].values():
        mark = {True: "✔ ", False: "✘ ", None: ""}[f["holds"]] + finding_status(f)
        rows.append([
            esc(f["statement"]),
            f'<span style="color:{plots.VERDICT_COLORS[f["holds"]]}"><b>{esc(mark)}</b></span>',
            esc(finding_ours(f)),
            esc(finding_paper(f)),
            esc(finding_match(f)),
        ])  # fmt: skip
    note = (
        "<p class=note>Ours: this run, in accuracy points. Paper: the No Filter paper's own "
        "numbers for the same comparison (SigLIP B/16 on 10B WebLI pairs; our Western set "
        "stands for ImageNet, our landmarks for GLDv2). A share of a gap is computed only "
        f"over a gap of at least {_pct(MIN_MARGIN)} points; below that the claim is n/a.</p>"
    )
    return note + html_table(["finding", "here", "ours", "paper", "direction"], rows, left=5)


def _signed(x: Any) -> str:
    return pct(x, missing="–", signed=True)


def _share(x: Any) -> str:
    share = pct(x, digits=0)
    return f"{share}%" if share else "n/a"


def _group_figure(bench: str, title: str, draw: Callable[..., Any]) -> Callable[..., Any]:
    """A drawer of ``summary["by_group"][bench]``: one line or bar colour per model."""

    def figure(summary: dict[str, Any]) -> Any | None:
        entry = summary.get("by_group", {}).get(bench)
        if not entry:
            return None
        series = {
            model: {g: {"acc1": v["value"], "acc1_ci95": v.get("ci95")} for g, v in gs.items()}
            for model, gs in entry["models"].items()
        }
        return draw(series, entry["by"], title)

    return figure


def _margins_figure(summary: dict[str, Any]) -> Any | None:
    # Shares of a gap have no per-seed values (they are ratios of means): the table has them.
    margins = [
        plots.Margin(f["statement"], f["per_seed"], f["margin"], f.get("ci95"), f["holds"])
        for f in summary.get("findings", {}).values()
        if f.get("per_seed")
    ]
    if not margins:
        return None
    return plots.margins_figure(
        margins, "margin (accuracy or disparity points)", "Each finding's margin, per seed"
    )


@dataclass(frozen=True)
class StudyFigure:
    """One figure of the study's result, saved as ``<stem>.png`` and ``<stem>.svg`` beside
    ``summary.json`` and drawn from it alone."""

    stem: str
    caption: str
    #: summary -> matplotlib figure, or None when the summary lacks what it draws
    draw: Callable[[dict[str, Any]], Any | None]


STUDY_FIGURES: tuple[StudyFigure, ...] = (
    StudyFigure(
        "accuracy_by_income",
        "Dollar Street zero-shot top-1 by monthly household income (USD PPP), one line per "
        "model; the No Filter paper's headline figure.",
        _group_figure("dollarstreet", "Dollar Street: top-1 by income", plots.group_lines_figure),
    ),
    StudyFigure(
        "accuracy_by_region",
        "GeoDE zero-shot top-1 by region, one bar per model.",
        _group_figure("geode", "GeoDE: top-1 by region", plots.group_bars_figure),
    ),
    StudyFigure(
        "finding_margins",
        "The margin of each finding measured per seed (a paired difference; right of zero: "
        "it holds). Dots: one training seed each; diamonds: the mean with its interval. "
        "Findings stated as a share of a gap are in the findings table only.",
        _margins_figure,
    ),
)


def _interval_note(summary: dict[str, Any]) -> str:
    n = len(summary.get("seeds", []))
    if n >= 2:
        return f"Error bars: 95% t interval over {n} training seeds."
    return "Error bars: 95% bootstrap interval over images (one training seed)."


def write_figures(summary: dict[str, Any], out_dir: Path) -> list[tuple[StudyFigure, list[Path]]]:
    """Draw every figure the summary has data for into ``out_dir``; returns each figure
    with its saved paths (PNG first)."""
    saved = []
    for spec in STUDY_FIGURES:
        fig = spec.draw(summary)
        if fig is None:
            continue
        saved.append((spec, plots.save_figure(fig, out_dir / spec.stem)))
    return saved


def figures_html(summary: dict[str, Any], out_dir: Path) -> str:
    """The study's figures, written beside ``summary.json`` in ``out_dir`` and inlined
    (the report stays one self-contained file), each with links to its PNG and SVG."""
    parts = [f"<p class=note>{esc(_interval_note(summary))}</p>"]
    for spec, paths in write_figures(summary, out_dir):
        links = " · ".join(f'<a href="{esc(p.name)}">{esc(p.suffix[1:])}</a>' for p in paths)
        uri = data_uri(paths[0].read_bytes(), "image/png")
        parts.append(
            f'<figure class="fig" id="{esc(spec.stem)}"><img alt="{esc(spec.stem)}" '
            f'src="{uri}"><figcaption class="note">{esc(spec.caption)} ({links})'
            "</figcaption></figure>"
        )
    return "".join(parts) if len(parts) > 1 else ""


def audit_html(data_dir: Path) -> str:
    audits = {}
    for name in ("en", "globe"):
        try:
            audits[name] = audit_data(data_dir / name)
        except FileNotFoundError:
            continue
    if "en" not in audits:
        return "<p>No curation audit found.</p>"
    en = audits["en"]
    parts = [f"<p><b>{esc(en['headline'])}</b></p>"]
    parts.append(
        "<p class=note>What each curation keeps of the crawl. en: fastText lid.176 says "
        "English (as CLIP, LAION and DataComp pipelines do); globe: no filter.</p>"
    )
    for field in ("region", "income_bucket", "language"):
        fig = compare_figure(audits, field=field)
        parts.append(
            f'<div class="fig"><img alt="kept by {field}" src="{figure_to_data_uri(fig)}"></div>'
        )
    rows = []
    for field in ("region", "income_bucket"):
        for value, d in en["overall"].get(field, {}).items():
            rows.append([esc(field.replace("_", " ")), esc(value), str(d["in"]), str(d["kept"]),
                         _share(d["fraction"])])  # fmt: skip
    parts.append(html_table(["by", "group", "in crawl", "kept by en", "share kept"], rows, left=2))
    return "".join(parts)


def landmark_predictions(study: Study, seed: int) -> tuple[Any, dict[str, Any]]:
    """(benchmark, {model: predicted class per record}) on the landmark set, read from what
    the evaluation wrote (no model is loaded, nothing is embedded again)."""
    bench = load_benchmark("world/landmarks", str(study.world))
    preds: dict[str, Any] = {}
    for r in study.load_results()[seed]:
        if (r["dataset"], r["task"]) == ("world/landmarks", "zeroshot_classification"):
            if len(r.get("predictions", [])) != len(bench.records):
                raise ValueError(
                    f"{r['model']}: the landmark results hold no predictions for this world's "
                    "landmark set; run the evaluate stage again"
                )
            preds[r["model"]] = r["predictions"]
    return bench, {m: preds[m] for m in study.variants if m in preds}


def lookalike_html(study: Study, seed: int) -> str:
    """Per look-alike family: each landmark's accuracy per model and what it is mistaken for;
    thumbnails of the spotlight landmark with every model's answer."""
    families_path = study.world / "benchmarks" / "landmarks" / "look_alikes.json"
    if not families_path.is_file():
        return "<p>No look-alike families in this world.</p>"
    families: dict[str, list[str]] = json.loads(families_path.read_text(encoding="utf-8"))
    bench, preds = landmark_predictions(study, seed)
    names = bench.classnames
    models = list(preds)
    by_true: dict[str, list[int]] = {}
    for i, rec in enumerate(bench.records):
        by_true.setdefault(names[rec.labels[0]], []).append(i)
    country = {rec.meta.get("landmark"): rec.meta.get("country", "") for rec in bench.records}
    rows = []
    for family, members in families.items():
        for lm in members:
            idx = by_true.get(lm, [])
            if not idx:
                continue
            cells = [
                f"{esc(lm)} <span class=note>({esc(country.get(lm, ''))}; {esc(family)})</span>"
            ]
            for m in models:
                p = [int(preds[m][i]) for i in idx if preds[m][i] >= 0]
                acc = sum(1 for x in p if names[x] == lm) / max(1, len(p))
                wrong = Counter(names[x] for x in p if names[x] != lm).most_common(1)
                cell = _share(acc)
                if wrong:
                    cell += f'<br><span class="note">→ {esc(wrong[0][0])} ×{wrong[0][1]}</span>'
                cells.append(cell)
            rows.append(cells)
    parts = [
        "<p class=note>Landmarks drawn as deliberate look-alikes across regions (a pod tower in "
        "Iran and one in Canada) that differ in details a model must learn from pictures of "
        "that place. Share of each landmark's test images named correctly (zero-shot over the "
        "English names of all landmarks), and the most frequent wrong answer. Models of "
        f"training seed {seed}.</p>",
        html_table(["landmark", *models], rows),
    ]
    spot = by_true.get(SPOTLIGHT, [])[:6]
    if spot:
        images = bench.read_images(spot)
        figs = []
        for i in spot:
            if i not in images:
                continue
            answers = []
            for m in models:
                p = int(preds[m][i])
                guess = names[p] if p >= 0 else "?"
                ok = "✔" if guess == SPOTLIGHT else "✘"
                answers.append(f"{esc(m)}: {esc(guess)} {ok}")
            figs.append(
                f'<figure><img alt="{esc(SPOTLIGHT)}" src="{thumbnail_data_uri(images[i])}">'
                f"<figcaption>{'<br>'.join(answers)}</figcaption></figure>"
            )
        parts.append(f"<h3>{esc(SPOTLIGHT)} (Iran): what each model calls it</h3>")
        parts.append(
            '<div class="conf" style="font-size:.8em">'
            + "".join(f.replace("<figure>", '<figure style="width:150px">') for f in figs)
            + "</div>"
        )
    return "".join(parts)


def intro_html(study: Study, summary: dict[str, Any]) -> str:
    c = summary["config"]
    p = c["preset"]
    seeds = ", ".join(str(s) for s in summary["seeds"])
    audit = summary.get("filter_audit", {})
    kept = audit.get("counts", {})
    return (
        CAVEAT
        + "<h2>What was run</h2><ul>"
        + f"<li>World: {c['world_size']} crawl samples (seed {summary['seed']}), 23 countries "
        "in 7 regions, 19 languages; benchmarks in the real formats.</li>"
        + "<li>Data: <b>en</b> (English-only filter"
        + (f", keeps {kept.get('kept')} of {kept.get('in')}" if kept else "")
        + "), <b>globe</b> (no filter), <b>globe-tl</b> (no filter, non-English captions "
        "replaced by their English translation).</li>"
        + f"<li>Models: SigLIP ({p['image_size']} px, patch {p['patch_size']}, width "
        f"{p['vision']['width']}, {p['vision']['layers']}+{p['text']['layers']} layers), one "
        f"shared multilingual tokenizer ({p['vocab_size']} tokens), {c['steps']} steps of "
        f"{c['batch_size']} pairs, peak learning rate {c['lr']}, seeds {esc(seeds)}. "
        f"globe→en and globe-tl→en continue the globe and globe-tl runs on en for the last "
        f"{c['finetune_frac']:.0%} of the same number of steps.</li>"
        + "<li>Evaluation: zero-shot top-1 with English class names (Western, Dollar Street, "
        "GeoDE, landmarks), multilingual retrieval (XM3600-style), few-shot geo-localization."
        "</li></ul>" + "<h2>Findings</h2>" + findings_html(summary)
    )


def write_study_report(study: Study, summary: dict[str, Any]) -> Path:
    """``out/report.html``: the study's sections, then globelens' standard report sections
    (income, disparity, regions, few-shot, retrieval, confusions) for the first seed."""
    first = summary["seeds"][0]
    results = study.load_results()[first]
    sections = [
        ("Table 1: the models side by side", table1_html(summary)),
        ("The result in figures", figures_html(summary, study.out)),
        ("Look-alike landmarks", lookalike_html(study, first)),
        ("The filter audit: whom English-only filtering removes", audit_html(study.data)),
    ]
    note = (
        f'<p class="note">The sections below show the models of training seed {first} '
        "(intervals: bootstrap over images).</p>"
    )
    sections.append(("Per-group results", note))
    # the other acts' sections (act two's), before act one's details
    sections[4:4] = [s for part in study.registry.report_parts for s in part(study, summary)]
    return write_report(
        study.results / f"seed{first}",
        study.out / "report.html",
        title="The No Filter study on a synthetic world",
        extra_sections=sections,
        intro_html=intro_html(study, summary),
        results=results,
    )


def markdown_summary(summary: dict[str, Any], report: Path | str) -> str:
    """Table 1 and the findings as Markdown, for the terminal."""
    table = summary["table"]
    n = len(summary["seeds"])
    cols = [METRIC_BY_KEY[k].label for k in MARKDOWN_KEYS]
    lines = [
        "## The No Filter study on a synthetic world",
        "",
        f"Percentages, {'mean ± half 95% t interval over ' + str(n) + ' seeds' if n > 1 else 'one seed ± half 95% bootstrap interval'}."
        " The world is synthetic: this shows the mechanism at toy scale, not real-world sizes.",
        "",
        "| model | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for m in summary["models"]:
        lines.append(
            f"| {m} | "
            + " | ".join(_cell(table[m].get(k, {}), html=False) for k in MARKDOWN_KEYS)
            + " |"
        )
    lines += [
        "",
        "Findings, beside the No Filter paper's own numbers (accuracy points; our Western set "
        "stands for ImageNet, our landmarks for GLDv2):",
        "",
        "| finding | here | ours | paper | direction |",
        "|---|---|---|---|---|",
    ]
    for f in summary["findings"].values():
        cells = (f["statement"], finding_status(f), finding_ours(f), finding_paper(f),
                 finding_match(f))  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    lines += ["", f"Report: {report}"]
    return "\n".join(lines) + "\n"
