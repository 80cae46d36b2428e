"""Report sections of generative tasks: main metrics by group with intervals, the worst-served
groups, per-language and per-answer-type tables, and example pictures per income bucket with
the model's words written under them and its boxes and masks drawn (read from the result
JSONs; nothing is re-run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from globelens.groups import INCOME_BUCKET_NAMES
from globelens.report.render import esc, html_table, pct

GEN_TASKS = {
    "captioning": ("Captioning", "CIDEr"),
    "vqa": ("Visual question answering", "vqa_acc"),
    "detection": ("Detection", "mAP"),
    "referring_segmentation": ("Referring segmentation", "miou"),
    "classification_by_generation": ("Classification by generation", "acc1"),
}
GROUP_TITLES = {
    "income_bucket": "income",
    "region": "region",
    "country": "country",
    "language": "language",
    "answer_type": "answer type",
}
NOTES = {
    "captioning": "CIDEr-D, BLEU-4 and ROUGE-L from pycocoevalcap on PTB-tokenized text; groups "
    "average per-image CIDEr under one IDF per language.",
    "vqa": "VQAv2 accuracy with the official answer normalisation (mean over the ten "
    "leave-one-out subsets of min(#humans agreeing / 3, 1)).",
    "detection": "COCO mAP (IoU .50:.95) and AP50 from pycocotools; a box's score is the "
    "sequence log-probability of the answer it came from.",
    "referring_segmentation": "big_vision's definitions: mean mask IoU over every expression "
    "(invalid answers score 0), box accuracy at IoU 0.5, invalid answers counted.",
    "classification_by_generation": "<code>answer en what is this?</code> matched to the class "
    "names after VQA normalisation; comparable with zero-shot top-1.",
}
CSS = """
.gex{display:flex;flex-wrap:wrap;gap:.8em;margin:.4em 0 1em}
.gex figure{margin:0;font-size:.75em;width:170px}
.gex img{width:160px;border:1px solid #ccc}
.gex figcaption{overflow-wrap:anywhere}.gex figcaption b{display:block}
.gtab{overflow-x:auto}
.worst{color:#a11}
"""


def _order(key: str, names: Sequence[str]) -> list[str]:
    if key == "income_bucket":
        return [b for b in INCOME_BUCKET_NAMES if b in names] + [
            n for n in names if n not in INCOME_BUCKET_NAMES
        ]
    return sorted(names)


def _group_tables(r: dict[str, Any]) -> str:
    parts = []
    for key, rep in r.get("groups", {}).items():
        groups = rep.get("groups", {})
        if not groups or (key == "country" and len(groups) > 30):
            continue
        metric = rep.get("metric", "acc1")
        names = _order(key, list(groups))
        row = [
            pct(groups[n].get(metric), groups[n].get(f"{metric}_ci95"))
            + (' <span class="worst">&#9660;</span>' if n == rep.get("worst") else "")
            for n in names
        ]
        counts = [str(groups[n].get("n", "")) for n in names]
        parts.append(
            f"<p><b>{esc(metric)} by {esc(GROUP_TITLES.get(key, key))}</b></p>"
            + '<div class="gtab">'
            + html_table(["", *names], [[metric, *row], ["n", *counts]])
            + "</div>"
        )
    return "".join(parts)


def _worst_served(r: dict[str, Any]) -> str:
    items = []
    for key, rep in r.get("groups", {}).items():
        if "worst" not in rep or len(rep.get("groups", {})) < 2:
            continue
        metric = rep.get("metric", "acc1")
        worst, best = rep["worst"], rep["best"]
        g = rep["groups"]
        items.append(
            f"<li>by {esc(GROUP_TITLES.get(key, key))}: <b>{esc(worst)}</b> "
            f"({pct(g[worst].get(metric))}) vs {esc(best)} ({pct(g[best].get(metric))}), "
            f"gap {pct(rep.get('spread'), rep.get('spread_ci95'))}</li>"
        )
    return f"<p>Worst-served groups:</p><ul>{''.join(items)}</ul>" if items else ""


def _languages(r: dict[str, Any]) -> str:
    langs = r.get("languages") or {}
    if not langs:
        return ""
    keys = ["CIDEr", "Bleu_4", "ROUGE_L"]
    rows = [[esc(lang)] + [pct(m.get(k)) for k in keys] + [str(m.get("n", ""))]
            for lang, m in sorted(langs.items())]  # fmt: skip
    return "<p><b>By caption language</b></p>" + html_table(["language", *keys, "n"], rows)


def _short(text: Any, n: int = 120) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _examples(r: dict[str, Any]) -> str:
    figs = []
    for ex in r.get("examples") or []:
        if not isinstance(ex, dict):
            continue
        thumb = str(ex.get("thumbnail", ""))
        img = (
            f'<img alt="{esc(ex.get("group", ""))} example" title="{esc(ex.get("image", ""))}" '
            f'src="{thumb}">'
            if thumb.startswith("data:image/")
            else ""
        )
        where = ", ".join(str(x) for x in (ex.get("country"), ex.get("income_bucket")) if x)
        figs.append(
            f"<figure>{img}<figcaption><b>{esc(where)}</b>"
            f"<code>{esc(_short(ex.get('prompt', ''), 60))}</code><br>"
            f"model: {esc(_short(ex.get('output', '')))}<br>"
            f'<span class="note">reference: {esc(_short(ex.get("reference", "")))} &middot; '
            f"score {float(ex.get('score', 0)):.2f}</span></figcaption></figure>"
        )
    if not figs:
        return ""
    return (
        '<p class="note">Examples per income bucket (its worst- and best-scored; green: '
        "reference, red: the model's boxes and masks).</p>"
        f'<div class="gex">{"".join(figs)}</div>'
    )


def generative_sections(results: Sequence[dict[str, Any]]) -> str:
    """One section per generative task present in ``results``."""
    out = []
    for task, (title, primary) in GEN_TASKS.items():
        rs = [r for r in results if r.get("task") == task]
        if not rs:
            continue
        parts = [f"<h2>{esc(title)}</h2><p class=note>{NOTES[task]}</p>"]
        for r in rs:
            m, ci = r.get("metrics", {}), r.get("ci95", {})
            head = [f"{esc(primary)} {pct(m.get(primary), ci.get(primary))}"]
            if "disparity" in m:
                head.append(f"disparity {pct(m['disparity'], ci.get('disparity'))}")
            inv = r.get("invalid")
            if isinstance(inv, dict) and inv:
                n_inv = inv.get("count", sum(v for v in inv.values() if isinstance(v, int)))
                head.append(f"invalid answers {int(n_inv)}")
            parts.append(
                f"<h3>{esc(r.get('model', ''))} on {esc(r.get('dataset', ''))}</h3>"
                f"<p>{' &middot; '.join(head)} "
                f'<span class="note">(n = {esc(r.get("n_evaluated", ""))})</span></p>'
            )
            if r.get("note"):
                parts.append(f'<p class="note">{esc(r["note"])}</p>')
            parts.append(_worst_served(r))
            parts.append(_group_tables(r))
            parts.append(_languages(r))
            parts.append(_examples(r))
        out.append("".join(parts))
    return "".join(out)
