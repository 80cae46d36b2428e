"""Multilingual zero-shot over partial label sets (Babel-ImageNet): each language is scored on
the pictures of the classes it names, classified over those classes only; the headline is
the mean over languages (every language weighs the same, whatever its number of classes),
beside the worst language. Intervals come from one bootstrap over (language, picture) pairs,
each pair weighted by 1 / its language's count, so the interval is that of the mean over
languages; breakdowns by language and by the pictures' country and region where they have
them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.evaluate.tasks.zeroshot import classifier

if TYPE_CHECKING:
    from globelens.evaluate.tasks import TaskContext


def language_hits(
    image_emb: np.ndarray, labels: list[tuple[int, ...]], weights: np.ndarray, classes: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows scored, top-1 hit per row) for one language: the rows whose label is one of
    ``classes``, classified over ``classes`` (``weights``: their (C, D) classifier)."""
    known = set(classes)
    rows = np.array([i for i, ls in enumerate(labels) if ls and ls[0] in known], dtype=np.int64)
    if rows.size == 0:
        return rows, np.zeros(0, bool)
    pred = np.asarray(classes)[(image_emb[rows] @ weights.T).argmax(axis=1)]
    return rows, pred == np.array([labels[i][0] for i in rows])


def run(ctx: TaskContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    if not bench.label_sets:
        raise ValueError(f"benchmark {bench.name!r} has no per-language label sets")
    valid = np.flatnonzero(ctx.valid)
    labels = [bench.records[i].labels for i in valid]
    img = ctx.image_emb[valid]
    hits: list[np.ndarray] = []
    metas: list[dict[str, Any]] = []
    per_lang: dict[str, dict[str, Any]] = {}
    for lang, names in bench.label_sets.items():
        classes = sorted(names)
        templates = bench.templates_by_lang.get(lang, ["{}"])
        w = classifier(ctx.model, [names[c] for c in classes], templates, ctx.cache)
        rows, ok = language_hits(img, labels, w, classes)
        per_lang[lang] = {"acc1": float(ok.mean()) if ok.size else float("nan"),
                          "n": int(rows.size), "num_classes": len(classes)}  # fmt: skip
        hits.append(ok)
        metas.extend({**bench.records[valid[r]].meta, "language": lang} for r in rows)
    scored = [lang for lang, m in per_lang.items() if m["n"]]
    if not scored:
        raise ValueError(f"benchmark {bench.name!r}: no picture belongs to any language's classes")
    counts = {lang: per_lang[lang]["n"] for lang in scored}
    ok_all = np.concatenate(hits).astype(float)
    weights = np.array([1.0 / counts[m["language"]] for m in metas])
    mean = float(np.mean([per_lang[lang]["acc1"] for lang in scored]))
    summary = G.summarize(
        {"acc1": ok_all}, "acc1", metas, list(dict.fromkeys(["language", *G.group_keys(bench)])),
        ctx.n_bootstrap, ctx.seed, overall={"acc1": mean}, weights=weights,
    )  # fmt: skip
    by_lang = summary["groups"]["language"]
    summary["metrics"]["worst_language_acc1"] = by_lang["min"]
    if "min_ci95" in by_lang:
        summary["ci95"]["worst_language_acc1"] = by_lang["min_ci95"]
    return [
        {
            **summary,
            "task": "multilingual_zeroshot",
            "language": "multi",
            "worst_language": by_lang["worst"],
            "languages": per_lang,
            "num_languages": len(scored),
            "n_evaluated": int(valid.size),
            "n_pairs": int(ok_all.size),
        }
    ]
