"""Zero-shot retrieval, image->text and text->image Recall@1/5/10, per caption language."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from globelens.evaluate import metrics as M
from globelens.evaluate.embed import text_embeddings

if TYPE_CHECKING:
    from globelens.evaluate.tasks import TaskContext

KS = (1, 5, 10)


def run(ctx: TaskContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    langs = sorted({lang for r in bench.records for lang in r.captions})
    if not langs:
        raise ValueError(f"benchmark {bench.name!r} has no captions: cannot run retrieval")
    wanted = ctx.options.get("languages")
    if wanted:
        langs = [lang for lang in langs if lang in wanted]
    per_lang: dict[str, dict[str, float]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for lang in langs:
        rows = [i for i in np.flatnonzero(ctx.valid) if bench.records[i].captions.get(lang)]
        texts: list[str] = []
        owner: list[int] = []
        for j, i in enumerate(rows):
            caps = bench.records[i].captions[lang]
            texts.extend(caps)
            owner.extend([j] * len(caps))
        txt = text_embeddings(ctx.model, texts, ctx.cache)
        sim = ctx.image_emb[rows] @ txt.T
        per_lang[lang] = M.retrieval_recall(sim, np.asarray(owner), KS)
        sizes[lang] = {"images": len(rows), "texts": len(texts)}
    if len(langs) == 1:
        metrics = dict(per_lang[langs[0]])
        language = langs[0]
    else:
        # Crossmodal-3600 is reported as the mean over languages.
        keys = per_lang[langs[0]].keys()
        metrics = {k: float(np.mean([per_lang[lang][k] for lang in langs])) for k in keys}
        language = "mean"
        if "en" in per_lang:
            metrics.update({f"en_{k}": v for k, v in per_lang["en"].items() if k.endswith("@1")})
    out: dict[str, Any] = {
        "task": "zeroshot_retrieval",
        "language": language,
        "metrics": metrics,
        "n_evaluated": int(ctx.valid.sum()),
        "sizes": sizes,
    }
    if len(langs) > 1:
        out["languages"] = per_lang
    return [out]
