"""Multiple choice (CVQA), both ways the field scores it, each reported apart for the LOCAL
and the English version of the questions and broken down by language, country and category:

- ``multiple_choice`` (contrastive models, MetaCLIP's ``clipeval``): the option whose text
  ``question + " " + option`` is nearest the picture by cosine similarity.
- ``multiple_choice_by_generation`` (generative models, VLMEvalKit's letter protocol): the
  model reads the question and the lettered options and answers a letter; an answer that
  names no single option is invalid, counted by reason, and scored wrong.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.evaluate.datasets.base import Benchmark, MultipleChoice
from globelens.evaluate.embed import text_embeddings
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.genmetrics.vqa import normalize_prediction
from globelens.models import tasklang

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext, TaskContext

LETTERS = "ABCDEFGH"
#: ``A``, ``A.``, ``(A)``, ``A)``, ``A:`` or ``A. <option text>``; a lower-case letter only
#: alone (``a``, ``b.``), since an answer may start with the article "a"
_LETTER_RE = re.compile(r"^\(?(?:([A-H])(?:[).:]|\s|$)|([a-h])[).]?$)")
#: a language code the task prompt can carry (``answer sw ...``); anything else is prompted as
#: English
_LANG_CODE = re.compile(r"^[a-z]{2,3}$")
VERSION_METRICS = {"local": "acc_local", "en": "acc_en"}


def questions(bench: Benchmark) -> list[tuple[int, MultipleChoice]]:
    """(record index, question) for every question of the set, in record order."""
    return [(i, q) for i, r in enumerate(bench.records) for q in r.annotations.get("mcq", ())]


def option_text(q: MultipleChoice, option: str) -> str:
    """What a contrastive model embeds for one option (MetaCLIP's ``clipeval``)."""
    return f"{q.question} {option}"


def letter_prompt(q: MultipleChoice) -> str:
    """The question and its lettered options on one line, asking for the letter."""
    opts = " ".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(q.options))
    lang = q.language if _LANG_CODE.match(q.language) else "en"
    return tasklang.answer(f"{q.question} {opts} Answer with the letter.", lang)


def read_choice(answer: str, options: tuple[str, ...]) -> tuple[int, str]:
    """(option index, "") or (-1, why): a leading letter of an option, else the answer being
    exactly one option's text (after the VQA normalisation)."""
    text = answer.strip()
    if not text:
        return -1, "empty_answer"
    m = _LETTER_RE.match(text)
    if m:
        k = LETTERS.index((m.group(1) or m.group(2)).upper())
        return (k, "") if k < len(options) else (-1, "letter_out_of_range")
    norm = normalize_prediction(text)
    same = [k for k, o in enumerate(options) if normalize_prediction(o) == norm]
    return (same[0], "") if len(same) == 1 else (-1, "no_choice")


def _summary(
    bench: Benchmark, items: list[tuple[int, MultipleChoice]], correct: np.ndarray,
    n_bootstrap: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
    # Both versions are grouped by the place's language (the record's), so the English
    # version's breakdown says whose questions English serves worse.
    metas = [{**bench.records[i].meta, "version": q.version} for i, q in items]
    keys = ["version", *dict.fromkeys([*G.group_keys(bench), "language", "category"])]
    summary = G.summarize({"acc": correct.astype(float)}, "acc", metas, keys, n_bootstrap, seed)
    versions = summary["groups"]["version"]["groups"]
    for version, name in VERSION_METRICS.items():
        if version in versions:
            summary["metrics"][name] = versions[version]["acc"]
            if "acc_ci95" in versions[version]:
                summary["ci95"][name] = versions[version]["acc_ci95"]
    # Worst group by language and by country, within each version (LOCAL and English differ).
    for version in versions:
        rows = [k for k, m in enumerate(metas) if m["version"] == version]
        for key in ("language", "country"):
            sub = G.summarize(
                {"acc": correct[rows].astype(float)}, "acc", [metas[k] for k in rows], [key],
                n_bootstrap, seed,
            )  # fmt: skip
            rep = sub["groups"].get(key)
            if rep and "min" in rep:
                summary["metrics"][f"worst_{key}_{VERSION_METRICS[version]}"] = rep["min"]
                summary.setdefault("worst", {})[f"{key}_{version}"] = rep["worst"]
                summary["groups"][f"{key}_{version}"] = rep
    return summary


def run(ctx: TaskContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    items = [(i, q) for i, q in questions(bench) if ctx.valid[i]]
    if not items:
        raise ValueError(f"benchmark {bench.name!r} has no multiple-choice question to score")
    texts = list(dict.fromkeys(option_text(q, o) for _, q in items for o in q.options))
    pos = {t: k for k, t in enumerate(texts)}
    emb = text_embeddings(ctx.model, texts, ctx.cache)
    preds = []
    for i, q in items:
        sims = emb[[pos[option_text(q, o)] for o in q.options]] @ ctx.image_emb[i]
        preds.append(int(np.argmax(sims)))
    correct = np.array([p == q.label for p, (_, q) in zip(preds, items, strict=True)])
    summary = _summary(bench, items, correct, ctx.n_bootstrap, ctx.seed)
    return [{**summary, "task": "multiple_choice", "scoring": "option_cosine",
             "language": "multi", "n_evaluated": len(items), "predictions": preds}]  # fmt: skip


def run_generative(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    items = questions(bench)
    if not items:
        raise ValueError(f"benchmark {bench.name!r} has no multiple-choice question to score")
    requests = [Request(i, letter_prompt(q)) for i, q in items]
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=8)
    gen = ctx.generate(requests, settings, desc="choose")
    kept, preds, invalid, skipped = [], [], {}, {}
    examples = []
    for req, ans, item in zip(requests, gen.answers, items, strict=True):
        if ans.text is None:
            skipped[ans.error] = skipped.get(ans.error, 0) + 1
            continue
        w, h = ans.size or (1, 1)
        text = tasklang.parse(req.prompt, ans.text, w, h).answer or ""
        k, why = read_choice(text, item[1].options)
        if why:
            invalid[why] = invalid.get(why, 0) + 1
        kept.append(item)
        preds.append(k)
        examples.append(G.Example(item[0], float(k == item[1].label), req.prompt, text,
                                  LETTERS[item[1].label]))  # fmt: skip
    if not kept:
        raise ValueError(f"benchmark {bench.name!r}: no answer could be evaluated ({skipped})")
    correct = np.array([p == q.label for p, (_, q) in zip(preds, kept, strict=True)])
    summary = _summary(bench, kept, correct, ctx.n_bootstrap, ctx.seed)
    n_invalid = sum(invalid.values())
    summary["metrics"]["invalid_rate"] = n_invalid / len(kept)
    return [
        G.result_record(
            "multiple_choice_by_generation", summary, bench, language="multi",
            n_evaluated=len(kept), skipped=skipped, settings=settings, gen=gen,
            examples=examples, example_key="country", scoring="letter",
            invalid={"count": n_invalid, "total": len(kept), "reasons": invalid},
            predictions=preds,
        )
    ]  # fmt: skip
