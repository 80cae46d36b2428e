"""Evaluation during generative training: greedy answers on held-out samples, per task.

The held-out set is shards in the training layout (``eval.data``) or benchmark records with
the same annotations; each task of the mixture is asked of every sample that has something
for it, with the prompt its training targets use, and scored with the evaluator's metrics
(``globelens.evaluate.genmetrics``): CIDEr for captions, VQAv2 accuracy for answers (also per
question type: "what is this", "how many", ...), boxes at IoU > 0.5 for detection (every
object, and the single-object scenes alone), mask IoU for segment and refer. Generated text
is parsed by the task language; what does not parse scores 0 and is counted.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from globelens.data import ImageDecodeError, ReadReport, read_shards
from globelens.models import tasklang
from globelens.train.data import SampleError, derive_seed
from globelens.train.targets import TargetContext, build_target


def _box_xyxy(item: dict[str, Any]) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in item["bbox"])
    return (x, y, x + w, y + h)


def _eval_targets(
    kind: str, sample: dict[str, Any], ctx: TargetContext, rng: random.Random
) -> list[tuple[str, str]]:
    """What to ask of one held-out sample: every question (VQA asks them all), one caption
    prompt per language, otherwise the training target once."""
    if kind == "answer":
        pairs = []
        for qa in sample.get("qa") or []:
            one = {"qa": [qa]}
            try:
                pairs.append(build_target(kind, one, ctx, rng))
            except SampleError:
                continue
        if not pairs:
            raise SampleError("no_qa")
        return pairs
    if kind == "caption":
        langs = [
            lang
            for lang in sorted(sample.get("captions") or {})
            if not ctx.langs or lang in ctx.langs
        ]
        pairs = []
        for lang in langs:
            one = {"captions": {lang: sample["captions"][lang]}}
            try:
                pairs.append(build_target(kind, one, ctx, rng))
            except SampleError:
                continue
        if not pairs:
            raise SampleError("no_captions")
        return pairs
    return [build_target(kind, sample, ctx, rng)]


class HeldOutSet:
    """Pictures and their annotations, loaded once; ``evaluate(generator)`` scores them."""

    def __init__(
        self,
        tasks: dict[str, tuple[str, tuple[str, ...]]],
        samples: Iterable[tuple[Image.Image, dict[str, Any]]],
        codec: Any = None,
        max_images: int = 64,
        max_new_tokens: int = 48,
        seed: int = 0,
    ) -> None:
        self.tasks, self.codec = tasks, codec
        self.max_new_tokens, self.seed = max_new_tokens, seed
        self.samples: list[tuple[Image.Image, dict[str, Any]]] = []
        for item in samples:
            if len(self.samples) >= max_images:
                break
            self.samples.append(item)

    @classmethod
    def from_shards(
        cls,
        pattern: str,
        tasks: dict[str, tuple[str, tuple[str, ...]]],
        codec: Any = None,
        **kw: Any,
    ) -> HeldOutSet:
        report = ReadReport()

        def gen() -> Iterable[tuple[Image.Image, dict[str, Any]]]:
            for s in read_shards(pattern, report, require_caption=False):
                try:
                    yield s.image(), s.meta
                except (ImageDecodeError, ValueError):
                    report.add(s.source, s.key, "bad_eval_sample")

        out = cls(tasks, gen(), codec, **kw)
        out.report = report
        return out

    @classmethod
    def from_benchmark(
        cls,
        spec: str,
        tasks: dict[str, tuple[str, tuple[str, ...]]],
        codec: Any = None,
        data_root: str | None = None,
        **kw: Any,
    ) -> HeldOutSet:
        """Records of a benchmark (``world/vqa``, ``world/coco_det``, a folder ...) with
        their annotations, loaded by the evaluator's loaders."""
        from globelens.data import decode_image
        from globelens.evaluate.benchmarks import load_benchmark

        bench = load_benchmark(spec, data_root)
        report = ReadReport()

        def gen() -> Iterable[tuple[Image.Image, dict[str, Any]]]:
            for rec in bench.records:
                try:
                    with open(rec.path, "rb") as fh:
                        image = decode_image(fh.read())
                except (OSError, ImageDecodeError):
                    report.add(spec, rec.id, "bad_eval_image")
                    continue
                yield image, {"captions": rec.captions, **rec.annotations}

        out = cls(tasks, gen(), codec, **kw)
        out.report = report
        return out

    def requests(self) -> list[tuple[str, int, str, str]]:
        """(task, sample index, prompt, reference suffix) for every task a sample supports."""
        out = []
        for name, (kind, langs) in self.tasks.items():
            for i, (im, sample) in enumerate(self.samples):
                ctx = TargetContext(im.width, im.height, langs, self.codec)
                rng = random.Random(derive_seed(self.seed, "eval", name, i))
                try:
                    pairs = _eval_targets(kind, sample, ctx, rng)
                except SampleError:
                    continue
                out.extend((name, i, prefix, suffix) for prefix, suffix in pairs)
        return out

    def evaluate(self, generator: Any, batch_size: int = 32) -> dict[str, float]:
        reqs = self.requests()
        if not reqs:
            return {}
        gens = generator.generate(
            [self.samples[i][0] for _, i, _, _ in reqs],
            [p for _, _, p, _ in reqs],
            max_new_tokens=self.max_new_tokens,
            batch_size=batch_size,
        )
        by_task: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for (name, i, prompt, _), g in zip(reqs, gens, strict=True):
            by_task[name].append((i, prompt, g.text))
        results: dict[str, float] = {}
        for name, rows in by_task.items():
            kind = self.tasks[name][0]
            for metric, value in SCORERS[kind](self, rows).items():
                results[f"eval/{name}/{metric}"] = float(value)
            results[f"eval/{name}/n"] = float(len(rows))
        return results

    # -- scorers ---------------------------------------------------------------------------------
    def _parse(self, i: int, prompt: str, text: str) -> tasklang.Parsed:
        im = self.samples[i][0]
        return tasklang.parse(prompt, text, im.width, im.height, codec=self.codec)

    def score_caption(self, rows: Sequence[tuple[int, str, str]]) -> dict[str, float]:
        from globelens.evaluate.genmetrics.captions import caption_scores

        by_lang: dict[str, tuple[dict[str, list[str]], dict[str, str]]] = {}
        for k, (i, prompt, text) in enumerate(rows):
            lang = tasklang.parse_prompt(prompt).lang or "en"
            refs = (self.samples[i][1].get("captions") or {}).get(lang) or []
            r, p = by_lang.setdefault(lang, ({}, {}))
            r[str(k)] = [str(x) for x in (refs if isinstance(refs, list) else [refs])]
            p[str(k)] = self._parse(i, prompt, text).answer or ""
        out, ciders = {}, []
        for lang, (refs, preds) in sorted(by_lang.items()):
            score = caption_scores(refs, preds, lang=lang).corpus["CIDEr"]
            out[f"cider/{lang}"] = score
            ciders.append(score)
        out["cider"] = float(np.mean(ciders))
        return out

    def score_answer(self, rows: Sequence[tuple[int, str, str]]) -> dict[str, float]:
        from globelens.evaluate.genmetrics.vqa import vqa_accuracy

        accs: list[float] = []
        by_type: dict[str, list[float]] = defaultdict(list)
        for i, prompt, text in rows:
            question = tasklang.parse_prompt(prompt).text
            qa = next(
                (
                    q
                    for q in self.samples[i][1].get("qa") or []
                    if " ".join(str(q.get("question", "")).split()) == question
                ),
                None,
            )
            if qa is None:
                continue
            answers = [str(a) for a in qa.get("answers") or [qa.get("multiple_choice_answer", "")]]
            acc = vqa_accuracy(self._parse(i, prompt, text).answer or "", answers)
            accs.append(acc)
            by_type[str(qa.get("question_type", "other"))].append(acc)
        out = {"vqa_acc": float(np.mean(accs)) if accs else 0.0}
        out.update({f"vqa_acc/{t}": float(np.mean(v)) for t, v in sorted(by_type.items())})
        return out

    def score_question(self, rows: Sequence[tuple[int, str, str]]) -> dict[str, float]:
        hits = []
        for i, prompt, text in rows:
            answer = tasklang.parse_prompt(prompt).text
            questions = {
                " ".join(str(q.get("question", "")).split()).lower()
                for q in self.samples[i][1].get("qa") or []
                if " ".join(str(q.get("multiple_choice_answer", "")).split()) == answer
            }
            hits.append((self._parse(i, prompt, text).answer or "").lower() in questions)
        return {"exact_match": float(np.mean(hits)) if hits else 0.0}

    def score_detect(self, rows: Sequence[tuple[int, str, str]]) -> dict[str, float]:
        """Share of ground-truth objects found by a same-label box at IoU > 0.5 (each
        predicted box matches once), over all scenes and over the single-object scenes."""
        from globelens.evaluate.genmetrics.refseg import box_iou

        found, total, single, invalid = 0, 0, [], 0
        for i, prompt, text in rows:
            parsed = self._parse(i, prompt, text)
            invalid += len(parsed.invalid)
            gts = [o for o in self.samples[i][1].get("objects") or [] if o.get("label")]
            preds = list(parsed.objects)
            hit_count = 0
            for gt in gts:
                box = _box_xyxy(gt)
                best = max(
                    (
                        (box_iou(p.box, box), k)
                        for k, p in enumerate(preds)
                        if p.label.lower() == " ".join(str(gt["label"]).split()).lower()
                    ),
                    default=(0.0, -1),
                )
                if best[0] > 0.5:
                    hit_count += 1
                    preds.pop(best[1])
            found, total = found + hit_count, total + len(gts)
            if len(gts) == 1:
                single.append(float(hit_count == 1))
        return {
            "box_recall50": found / max(total, 1),
            "box_acc50_single": float(np.mean(single)) if single else float("nan"),
            "invalid_per_answer": invalid / max(len(rows), 1),
        }

    def score_segment(self, rows: Sequence[tuple[int, str, str]]) -> dict[str, float]:
        """Mean IoU of the predicted mask (the union of the objects said) with the ground
        truth's (the union of the prompt's instances; for refer, the one object); a prompt
        answered with nothing parseable scores 0."""
        from globelens.evaluate.genmetrics.refseg import mask_iou

        ious = []
        for i, prompt, text in rows:
            im, sample = self.samples[i]
            p = tasklang.parse_prompt(prompt)
            target = " ".join(p.labels[0].split()) if p.labels else ""
            gt = np.zeros((im.height, im.width), bool)
            refs = [
                r
                for r in sample.get("refs") or []
                if " ".join(str(r.get("sent", "")).split()) == target
            ]
            items = refs[:1] or [
                o
                for o in sample.get("objects") or []
                if " ".join(str(o.get("label", "")).split()) == target
            ]
            for item in items:
                gt |= tasklang.rle_to_mask(item["segmentation"])
            pred = np.zeros_like(gt)
            for obj in self._parse(i, prompt, text).objects:
                if isinstance(obj, tasklang.Segmentation):
                    pred |= obj.mask
            ious.append(mask_iou(pred, gt))
        return {"miou": float(np.mean(ious)) if ious else 0.0}


SCORERS: dict[str, Any] = {
    "caption": HeldOutSet.score_caption,
    "answer": HeldOutSet.score_answer,
    "question": HeldOutSet.score_question,
    "detect": HeldOutSet.score_detect,
    "segment": HeldOutSet.score_segment,
    "refer": HeldOutSet.score_segment,
}
