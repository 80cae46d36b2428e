"""question: ``question {lang} {answer}`` -> a question whose answer that is (PaliGemma's
question generation).

Training: one of the scene's questions, given its most common human answer. Evaluation
(``question_generation``): per picture, one prompt per (language, answer) of its questions;
``exact_match`` is whether the question said is one of the picture's questions with that answer
(whitespace and case aside), by group and language.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.data.annotations import Annotations, QuestionAnswer
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.models import tasklang
from globelens.tasks.answer import has_questions
from globelens.tasks.base import GenerativeTask, TargetContext
from globelens.tasks.scene import text, wanted
from globelens.train.data import SampleError

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext


def target(ann: Annotations, ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``question {lang} {answer}`` -> the question."""
    pool = []
    for qa in ann.qa:
        q, a = text(qa.question), text(qa.multiple_choice_answer)
        if wanted(qa.lang, ctx) and q and a:
            pool.append((qa.lang, q, a))
    if not pool:
        raise SampleError("no_qa")
    lang, q, a = pool[rng.randrange(len(pool))]
    return tasklang.question(a, lang), q


def _norm(value: str) -> str:
    return " ".join(value.split()).lower()


def _asked(qas: list[QuestionAnswer] | None) -> dict[tuple[str, str], set[str]]:
    """(language, answer) -> the picture's questions with that answer, normalised."""
    out: dict[tuple[str, str], set[str]] = {}
    for qa in qas or ():
        q, a = text(qa.question), text(qa.multiple_choice_answer)
        if q and a:
            out.setdefault((qa.lang or "en", a), set()).add(_norm(q))
    return out


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    requests: list[Request] = []
    refs: list[tuple[str, set[str]]] = []
    for i, r in enumerate(bench.records):
        for (lang, a), questions in sorted(_asked(r.annotations.get("qa")).items()):
            requests.append(Request(i, tasklang.question(a, lang)))
            refs.append((lang, questions))
    if not requests:
        raise ValueError(f"benchmark {bench.name!r} has no questions with answers")
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=24)
    gen = ctx.generate(requests, settings, desc="question")
    hits, rows, examples = [], [], []
    skipped: dict[str, int] = {}
    invalid: dict[str, int] = {}
    for pos, (req, ans) in enumerate(zip(requests, gen.answers, strict=True)):
        if ans.text is None:
            skipped[ans.error] = skipped.get(ans.error, 0) + 1
            continue
        w, h = ans.size or (1, 1)
        parsed = tasklang.parse(req.prompt, ans.text, w, h)
        for reason, n in parsed.invalid_counts().items():
            invalid[reason] = invalid.get(reason, 0) + n
        said = parsed.answer or ""
        hits.append(float(_norm(said) in refs[pos][1]))
        rows.append(pos)
        examples.append(G.Example(req.index, hits[-1], req.prompt, said, sorted(refs[pos][1])[0]))
    if not rows:
        raise ValueError(f"benchmark {bench.name!r}: no answer could be evaluated ({skipped})")
    metas = [{**bench.records[requests[p].index].meta, "language": refs[p][0]} for p in rows]
    summary = G.summarize(
        {"exact_match": np.asarray(hits)},
        "exact_match",
        metas,
        G.group_keys(bench),
        ctx.n_bootstrap,
        ctx.seed,
    )
    return [
        G.result_record(
            "question_generation", summary, bench, language=G.language_of(metas),
            n_evaluated=len(rows), skipped=skipped, settings=settings, gen=gen,
            examples=examples, invalid=invalid,
        )
    ]  # fmt: skip


TASK = GenerativeTask(
    name="question",
    target=target,
    evaluate=run,
    eval_name="question_generation",
    metrics=("exact_match",),
    requires=has_questions,
    needs="questions with answers",
    read_prompt=tasklang.read_question,
)
