"""Classification by generation: ask ``answer en what is this?`` and match the answer to the
class names, so a generative model gets the same top-1, per-income accuracy, disparity and
worst-group numbers as a contrastive one on Dollar Street and GeoDE.

Matching (ours, stated): the answer and every name of a class (a class name may list synonyms
separated by commas) go through the VQA answer normalisation; an exact match wins, else the
longest class name found as whole words inside the answer; otherwise the answer matches no
class (wrong, and counted as ``unmatched``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.evaluate import metrics as M
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.genmetrics.vqa import normalize_prediction
from globelens.models import tasklang

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext

QUESTION = "what is this?"


class ClassMatcher:
    """Answer text -> class index (or -1) by normalised exact, then whole-word, match."""

    def __init__(self, classnames: list[str]) -> None:
        self.exact: dict[str, int] = {}
        names: list[tuple[str, int]] = []
        for c, name in enumerate(classnames):
            for syn in str(name).split(","):
                norm = normalize_prediction(syn)
                if norm:
                    self.exact.setdefault(norm, c)
                    names.append((norm, c))
        # Longest names first, so "sofa bed" wins over "bed".
        self.phrases = sorted(set(names), key=lambda x: (-len(x[0]), x[1]))

    def __call__(self, answer: str) -> int:
        norm = normalize_prediction(answer)
        if norm in self.exact:
            return self.exact[norm]
        padded = f" {norm} "
        for phrase, c in self.phrases:
            if re.search(rf"(?<!\S){re.escape(phrase)}(?!\S)", padded):
                return c
        return -1


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    if not bench.classnames:
        raise ValueError(f"benchmark {bench.name!r} has no class names")
    prompt = tasklang.answer(ctx.options.get("question", QUESTION), "en")
    requests = [Request(i, prompt) for i in range(len(bench.records))]
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=12)
    gen = ctx.generate(requests, settings, desc="classify")
    match = ClassMatcher(bench.classnames)
    rows, preds, texts = [], [], []
    skipped: dict[str, int] = {}
    for req, ans in zip(requests, gen.answers, strict=True):
        if ans.text is None:
            skipped[ans.error] = skipped.get(ans.error, 0) + 1
            continue
        w, h = ans.size or (1, 1)
        text = tasklang.parse(prompt, ans.text, w, h).answer or ""
        rows.append(req.index)
        preds.append(match(text))
        texts.append(text)
    if not rows:
        raise ValueError(f"benchmark {bench.name!r}: no image could be evaluated ({skipped})")
    pred = np.asarray(preds)
    labels = [bench.records[i].labels for i in rows]
    metas = [bench.records[i].meta for i in rows]
    c1 = np.array([p in ls for p, ls in zip(pred, labels, strict=True)])
    metrics: dict[str, Any] = {
        "acc1": float(c1.mean()),
        "mean_per_class_recall": M.mean_per_class_recall(pred, labels, len(bench.classnames)),
        "unmatched_rate": float((pred < 0).mean()),
    }
    boot = M.bootstrap_indices(len(c1), ctx.n_bootstrap, ctx.seed) if ctx.n_bootstrap else None
    ci: dict[str, list[float]] = {}
    if boot is not None:
        ci["acc1"] = M.percentile_ci(boot.means(c1))
    groups: dict[str, Any] = {}
    for key in G.group_keys(bench):
        values = [m.get(key) for m in metas]
        if any(v not in (None, "") for v in values):
            groups[key] = M.group_report(c1, c1, values, boot)  # no top-5 from one answer
    if len(groups.get("income_bucket", {}).get("groups", {})) >= 2:
        metrics["disparity"] = groups["income_bucket"]["spread"]
        if "spread_ci95" in groups["income_bucket"]:
            ci["disparity"] = groups["income_bucket"]["spread_ci95"]
    for name, key in bench.worst_group.items():
        if key in groups and "top5" not in name:
            metrics[name] = groups[key]["min_acc1"]
            if "min_acc1_ci95" in groups[key]:
                ci[name] = groups[key]["min_acc1_ci95"]
    matched = np.flatnonzero(pred >= 0)
    confusions = M.top_confusions(
        pred[matched], [labels[j] for j in matched], [metas[j] for j in matched],
        bench.classnames, np.asarray(rows)[matched],
    )  # fmt: skip
    examples = [
        G.Example(i, float(ok), prompt, t, bench.classnames[ls[0]] if ls else "")
        for i, ok, t, ls in zip(rows, c1, texts, labels, strict=True)
    ]
    summary = {"metrics": metrics, "ci95": ci, "groups": groups, "primary_metric": "acc1"}
    return [
        G.result_record(
            "classification_by_generation", summary, bench, language="en",
            n_evaluated=len(rows), skipped=skipped, settings=settings, gen=gen,
            examples=examples, num_classes=len(bench.classnames), confusions=confusions,
        )
    ]  # fmt: skip
