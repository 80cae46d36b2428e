"""caption: ``caption {lang}`` -> a caption in that language.

Training: one of the scene's captions in the task's languages. Evaluation (``captioning``):
``caption {lang}`` for every language an image has references in; CIDEr-D, BLEU-4 and
ROUGE-L per language (pycocoevalcap), their mean over languages, and CIDEr by income, region,
country and caption language."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.data.annotations import Annotations
from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.genmetrics.captions import caption_scores_by_language
from globelens.models import tasklang
from globelens.tasks.base import GenerativeTask, TargetContext
from globelens.tasks.scene import text, wanted
from globelens.train.data import SampleError

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext

METRICS = ("CIDEr", "Bleu_4", "ROUGE_L")


def target(ann: Annotations, ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``caption {lang}`` -> one of the scene's captions in that language."""
    pool = []
    for lang in sorted(ann.captions):
        if wanted(lang, ctx):
            pool.extend((lang, t) for t in (text(x) for x in ann.captions[lang]) if t)
    if not pool:
        raise SampleError("no_captions")
    lang, caption = pool[rng.randrange(len(pool))]
    return tasklang.caption(lang), caption


def has_captions(bench: Benchmark) -> bool:
    return any(r.captions for r in bench.records[:100])


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    languages = ctx.options.get("languages")
    requests, refs = [], []
    for i, r in enumerate(bench.records):
        for lang, caps in sorted(r.captions.items()):
            if caps and (not languages or lang in languages):
                requests.append(Request(i, tasklang.caption(lang)))
                refs.append((lang, [str(c) for c in caps]))
    if not requests:
        raise ValueError(f"benchmark {bench.name!r} has no reference captions")
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=32)
    gen = ctx.generate(requests, settings, desc="caption")
    invalid: dict[str, int] = {}
    by_lang: dict[str, list[int]] = {}
    preds: list[str] = []
    skipped: dict[str, int] = {}
    for pos, (req, ans) in enumerate(zip(requests, gen.answers, strict=True)):
        if ans.text is None:
            skipped[ans.error] = skipped.get(ans.error, 0) + 1
            preds.append("")
            continue
        w, h = ans.size or (1, 1)
        parsed = tasklang.parse(req.prompt, ans.text, w, h)
        for reason, n in parsed.invalid_counts().items():
            invalid[reason] = invalid.get(reason, 0) + n
        preds.append(parsed.answer or "")
        by_lang.setdefault(refs[pos][0], []).append(pos)
    per_lang: dict[str, dict[str, float]] = {}
    per_example: dict[str, np.ndarray] = {m: np.zeros(len(requests)) for m in METRICS}
    evaluated = np.zeros(len(requests), bool)
    scored = caption_scores_by_language(
        {
            lang: ({str(p): refs[p][1] for p in ps}, {str(p): preds[p] for p in ps})
            for lang, ps in by_lang.items()
        }
    )
    for lang, positions in sorted(by_lang.items()):
        sc = scored[lang]
        per_lang[lang] = {**sc.corpus, "n": len(positions)}
        for m in METRICS:
            per_example[m][positions] = sc.per_image[m]
        evaluated[positions] = True
    rows = np.flatnonzero(evaluated)
    if not len(rows):
        raise ValueError(f"benchmark {bench.name!r}: no answer could be evaluated ({skipped})")
    metas = [{**bench.records[requests[p].index].meta, "language": refs[p][0]} for p in rows]
    overall = {m: float(np.mean([v[m] for v in per_lang.values()])) for m in METRICS}
    # The headline is a mean over languages: each caption counts 1 / its language's count,
    # in the interval and in every group, as it does in the headline.
    weights = np.array([1.0 / per_lang[refs[p][0]]["n"] for p in rows])
    summary = G.summarize(
        {m: per_example[m][rows] for m in METRICS},
        "CIDEr",
        metas,
        G.group_keys(bench),
        ctx.n_bootstrap,
        ctx.seed,
        overall=overall,
        weights=weights,
    )
    examples = [
        G.Example(
            requests[p].index, float(per_example["CIDEr"][p]), requests[p].prompt, preds[p],
            refs[p][1][0],
        )
        for p in rows
    ]  # fmt: skip
    return [
        G.result_record(
            "captioning", summary, bench,
            language=next(iter(per_lang)) if len(per_lang) == 1 else "multi",
            n_evaluated=len(rows), skipped=skipped, settings=settings, gen=gen,
            examples=examples, languages=per_lang, invalid=invalid,
        )
    ]  # fmt: skip


# On a retrieval set (XM3600: captions in many languages) a generator captions per language.
TASK = GenerativeTask(
    name="caption",
    target=target,
    evaluate=run,
    eval_name="captioning",
    metrics=METRICS,
    requires=has_captions,
    needs="captions",
    read_prompt=tasklang.read_caption,
    stands_in_for=("zeroshot_retrieval",),
)
