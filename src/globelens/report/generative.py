"""Report sections of generative tasks: main metrics by group with intervals, the worst-served
groups, per-language and per-answer-type tables, and example pictures per income bucket with
the model's words written under them and its boxes and masks drawn (read from the result
JSONs; nothing is re-run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from globelens.groups import INCOME_BUCKET_NAMES
from globelens.report.render import Markup, esc, html_table, pct, render

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


def _group_tables(r: dict[str, Any]) -> list[dict[str, Any]]:
    tables = []
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
        table = Markup(html_table(["", *names], [[metric, *row], ["n", *counts]]))
        tables.append({"metric": metric, "by": GROUP_TITLES.get(key, key), "table": table})
    return tables


def _worst_served(r: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for key, rep in r.get("groups", {}).items():
        if "worst" not in rep or len(rep.get("groups", {})) < 2:
            continue
        metric = rep.get("metric", "acc1")
        worst, best = rep["worst"], rep["best"]
        g = rep["groups"]
        items.append({
            "by": GROUP_TITLES.get(key, key), "worst": worst, "best": best,
            "worst_value": pct(g[worst].get(metric)), "best_value": pct(g[best].get(metric)),
            "gap": Markup(pct(rep.get("spread"), rep.get("spread_ci95"))),
        })  # fmt: skip
    return items


def _languages(r: dict[str, Any]) -> Markup | None:
    langs = r.get("languages") or {}
    if not langs:
        return None
    keys = ["CIDEr", "Bleu_4", "ROUGE_L"]
    rows = [[esc(lang)] + [pct(m.get(k)) for k in keys] + [str(m.get("n", ""))]
            for lang, m in sorted(langs.items())]  # fmt: skip
    return Markup(html_table(["language", *keys, "n"], rows))


def _short(text: Any, n: int = 120) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _examples(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"group": ex.get("group", ""), "image": ex.get("image", ""),
         # only inline pictures: a report never makes the browser fetch anything
         "thumbnail": thumb if (thumb := str(ex.get("thumbnail", ""))).startswith("data:image/")
         else "",
         "where": ", ".join(str(x) for x in (ex.get("country"), ex.get("income_bucket")) if x),
         "prompt": _short(ex.get("prompt", ""), 60), "output": _short(ex.get("output", "")),
         "reference": _short(ex.get("reference", "")),
         "score": f"{float(ex.get('score', 0)):.2f}"}
        for ex in r.get("examples") or []
        if isinstance(ex, dict)
    ]  # fmt: skip


def _headline(r: dict[str, Any], primary: str) -> list[Markup]:
    """The main metric, the disparity and the invalid answers of one result."""
    m, ci = r.get("metrics", {}), r.get("ci95", {})
    head = [f"{esc(primary)} {pct(m.get(primary), ci.get(primary))}"]
    if "disparity" in m:
        head.append(f"disparity {pct(m['disparity'], ci.get('disparity'))}")
    inv = r.get("invalid")
    if isinstance(inv, dict) and inv:
        n_inv = inv.get("count", sum(v for v in inv.values() if isinstance(v, int)))
        head.append(f"invalid answers {int(n_inv)}")
    return [Markup(h) for h in head]


def generative_sections(results: Sequence[dict[str, Any]]) -> str:
    """One section per generative task present in ``results``."""
    tasks = []
    for task, (title, primary) in GEN_TASKS.items():
        rs = [r for r in results if r.get("task") == task]
        if not rs:
            continue
        shown = [
            {"model": r.get("model", ""), "dataset": r.get("dataset", ""),
             "head": _headline(r, primary), "n": r.get("n_evaluated", ""), "note": r.get("note"),
             "worst": _worst_served(r), "groups": _group_tables(r),
             "languages": _languages(r), "examples": _examples(r)}
            for r in rs
        ]  # fmt: skip
        tasks.append({"title": title, "note": Markup(NOTES[task]), "results": shown})
    return str(render("results/generative.html", tasks=tasks)) if tasks else ""
