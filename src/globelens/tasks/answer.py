"""answer: ``answer {lang} {question}`` -> the answer.

Training: the most common human answer to one of the scene's questions. Evaluation (``vqa``):
every question of every image; VQAv2 accuracy with the official normalisation, per answer
type, per question language and per group."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.data.annotations import Annotations, QuestionAnswer
from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.genmetrics.vqa import vqa_accuracy
from globelens.models import tasklang
from globelens.tasks.base import GenerativeTask, TargetContext
from globelens.tasks.scene import text, wanted
from globelens.train.data import SampleError

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext

ANSWER_TYPES = {"yes/no": "vqa_acc_yesno", "number": "vqa_acc_number", "other": "vqa_acc_other"}


def target(ann: Annotations, ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``answer {lang} {question}`` -> the most common human answer."""
    pool = []
    for qa in ann.qa:
        q, a = text(qa.question), text(qa.multiple_choice_answer)
        if wanted(qa.lang, ctx) and q and a:
            pool.append((qa.lang, q, a))
    if not pool:
        raise SampleError("no_qa")
    lang, q, a = pool[rng.randrange(len(pool))]
    return tasklang.answer(q, lang), a


def has_questions(bench: Benchmark) -> bool:
    return any(r.annotations.get("qa") for r in bench.records[:200])


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    requests: list[Request] = []
    questions: list[QuestionAnswer] = []
    skipped: dict[str, int] = {}
    for i, r in enumerate(bench.records):
        for qa in r.annotations.get("qa", ()):
            q = " ".join(qa.question.split())
            if not q or not qa.answers:
                skipped["question_without_answers"] = skipped.get("question_without_answers", 0) + 1
                continue
            requests.append(Request(i, tasklang.answer(q, qa.lang or "en")))
            questions.append(qa)
    if not requests:
        raise ValueError(f"benchmark {bench.name!r} has no questions with answers")
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=16)
    gen = ctx.generate(requests, settings, desc="answer")
    acc, rows, preds = [], [], []
    invalid: dict[str, int] = {}
    for pos, (req, ans, qa) in enumerate(zip(requests, gen.answers, questions, strict=True)):
        if ans.text is None:
            skipped[ans.error] = skipped.get(ans.error, 0) + 1
            continue
        w, h = ans.size or (1, 1)
        parsed = tasklang.parse(req.prompt, ans.text, w, h)
        for reason, n in parsed.invalid_counts().items():
            invalid[reason] = invalid.get(reason, 0) + n
        pred = parsed.answer or ""
        acc.append(vqa_accuracy(pred, list(qa.answers)))
        rows.append(pos)
        preds.append(pred)
    if not rows:
        raise ValueError(f"benchmark {bench.name!r}: no answer could be evaluated ({skipped})")
    scores = np.asarray(acc, float)
    metas = [
        {**bench.records[requests[p].index].meta, "language": questions[p].lang or "en",
         "answer_type": questions[p].answer_type}
        for p in rows
    ]  # fmt: skip
    summary = G.summarize(
        {"vqa_acc": scores},
        "vqa_acc",
        metas,
        [*G.group_keys(bench), "answer_type"],
        ctx.n_bootstrap,
        ctx.seed,
    )
    types = np.array([m["answer_type"] for m in metas])
    for t, key in ANSWER_TYPES.items():
        if (types == t).any():
            summary["metrics"][key] = float(scores[types == t].mean())
    # VQAv2's question types ("what is this", "how many"): which questions the picture answers
    qtypes = np.array([questions[p].question_type for p in rows])
    by_qtype = {
        qt: {"vqa_acc": float(scores[qtypes == qt].mean()), "n": int((qtypes == qt).sum())}
        for qt in sorted(set(qtypes) - {""})
    }
    examples = [
        G.Example(
            requests[p].index, float(s), requests[p].prompt, pred,
            questions[p].multiple_choice_answer or questions[p].answers[0],
        )
        for p, s, pred in zip(rows, scores, preds, strict=True)
    ]  # fmt: skip
    return [
        G.result_record(
            "vqa", summary, bench, language=G.language_of(metas), n_evaluated=len(rows),
            skipped=skipped, settings=settings, gen=gen, examples=examples,
            question_types=by_qtype, invalid=invalid,
        )
    ]  # fmt: skip


TASK = GenerativeTask(
    name="answer",
    target=target,
    evaluate=run,
    eval_name="vqa",
    metrics=("vqa_acc", *ANSWER_TYPES.values()),
    requires=has_questions,
    needs="questions",
    read_prompt=tasklang.read_answer,
    aliases=("vqav2",),
)
