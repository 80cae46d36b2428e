"""Zero-shot classification: class prompts -> text classifier -> top-1/top-5, per-class
recall, group accuracies (income, region, country), disparity, worst-group, confusions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from globelens.evaluate import metrics as M
from globelens.evaluate.embed import text_embeddings
from globelens.evaluate.templates import BARE_TEMPLATE
from globelens.models.prompts import class_weights

if TYPE_CHECKING:
    from globelens.evaluate.cache import EmbeddingCache
    from globelens.evaluate.tasks import TaskContext
    from globelens.models.base import DualEncoder


def classifier(
    model: DualEncoder,
    classnames: Sequence[str],
    templates: Sequence[str],
    cache: EmbeddingCache | None = None,
) -> np.ndarray:
    """(C, D) zero-shot weights: per class, the normalised mean of its prompt embeddings
    (text embeddings cached by ``cache``)."""
    return class_weights(classnames, templates, lambda texts: text_embeddings(model, texts, cache))


def evaluate_scores(
    scores: np.ndarray,
    labels: Sequence[Sequence[int]],
    metas: Sequence[dict[str, Any]],
    *,
    group_keys: Sequence[str] = (),
    worst_group: dict[str, str] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics, CIs and group reports from (N, C) scores and "match any" label sets."""
    c1 = M.topk_correct(scores, labels, 1)
    c5 = M.topk_correct(scores, labels, 5)
    pred = M.topk(scores, 1)[:, 0]
    metrics: dict[str, Any] = {
        "acc1": float(c1.mean()),
        "acc5": float(c5.mean()),
        "mean_per_class_recall": M.mean_per_class_recall(pred, labels, scores.shape[1]),
    }
    boot = M.bootstrap_indices(len(c1), n_bootstrap, seed) if n_bootstrap > 0 else None
    ci: dict[str, list[float]] = {}
    if boot is not None:
        ci["acc1"] = M.percentile_ci(boot.means(c1))
        ci["acc5"] = M.percentile_ci(boot.means(c5))
    groups: dict[str, Any] = {}
    for key in group_keys:
        values = [m.get(key) for m in metas]
        if any(v not in (None, "") for v in values):
            groups[key] = M.group_report(c1, c5, values, boot)
    if len(groups.get("income_bucket", {}).get("groups", {})) >= 2:
        # No Filter / SigLIP 2: highest minus lowest income-bucket top-1 accuracy.
        metrics["disparity"] = groups["income_bucket"]["spread"]
        if "spread_ci95" in groups["income_bucket"]:
            ci["disparity"] = groups["income_bucket"]["spread_ci95"]
    for name, key in (worst_group or {}).items():
        if key in groups:
            field = "min_acc5" if "top5" in name else "min_acc1"
            metrics[name] = groups[key][field]
            if f"{field}_ci95" in groups[key]:
                ci[name] = groups[key][f"{field}_ci95"]
    return {"metrics": metrics, "ci95": ci, "groups": groups, "pred": pred}


def run(ctx: TaskContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    if not bench.classnames:
        raise ValueError(f"benchmark {bench.name!r} has no class names: cannot run zero-shot")
    rows = np.flatnonzero(ctx.valid)
    records = [bench.records[i] for i in rows]
    labels = [r.labels for r in records]
    metas = [r.meta for r in records]
    img = ctx.image_emb[rows]
    templates = ctx.options.get("templates") or bench.templates
    main_lang = bench.language
    langs: dict[str, tuple[list[str], list[str]]] = {main_lang: (bench.classnames, list(templates))}
    for lang, names in bench.classnames_by_lang.items():
        if lang == main_lang:
            continue
        if len(names) != len(bench.classnames):
            raise ValueError(
                f"{bench.name}: {len(names)} class names for language {lang!r}, "
                f"expected {len(bench.classnames)}"
            )
        langs[lang] = (names, bench.templates_by_lang.get(lang, list(BARE_TEMPLATE)))
    result: dict[str, Any] = {}
    per_lang: dict[str, dict[str, float]] = {}
    for lang, (names, tmpl) in langs.items():
        w = classifier(ctx.model, names, tmpl, ctx.cache)
        scores = img @ w.T
        ev = evaluate_scores(
            scores,
            labels,
            metas,
            group_keys=bench.group_keys,
            worst_group=bench.worst_group,
            n_bootstrap=ctx.n_bootstrap if lang == main_lang else 0,
            seed=ctx.seed,
        )
        if lang == main_lang:
            result = ev
            result["confusions"] = M.top_confusions(ev["pred"], labels, metas, names, rows)
            result["num_templates"] = len(tmpl)
        else:
            per_lang[lang] = ev["metrics"]
    # Top-1 class per record (-1: the image could not be read), so that reports can show
    # what each model answered without loading it again.
    predictions = np.full(len(bench.records), -1, dtype=np.int64)
    predictions[rows] = result.pop("pred")
    result["predictions"] = predictions.tolist()
    result.update(
        task="zeroshot_classification",
        language=main_lang,
        num_classes=len(bench.classnames),
        n_evaluated=len(rows),
    )
    if per_lang:
        result["languages"] = per_lang
    return [result]
