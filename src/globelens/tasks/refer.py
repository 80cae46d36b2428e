"""refer: ``segment {referring expression}`` -> the one object it names: its box and mask
(RefCOCO's task; the prompt speaks the ``segment`` verb, as PaliGemma's RefCOCO prompts do).

Evaluation (``referring_segmentation``): every referring expression; mIoU, box accuracy at
IoU 0.5 and the invalid count as big_vision's PaliGemma evaluator defines them
(``genmetrics.refseg``). Masks come from the model's mask codec through the task language; a
model without a codec gets box accuracy only (``miou`` is NaN and says why)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.data.annotations import Annotations, ReferringExpression
from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.embed import torch_threads
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.genmetrics.refseg import RefSegScores
from globelens.models import tasklang
from globelens.models.tasklang import Segmentation, rle_to_mask
from globelens.tasks.base import GenerativeTask, TargetContext
from globelens.tasks.scene import box, mask, text, wanted
from globelens.train.data import SampleError

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext


def _expression(sent: str) -> str:
    # ";" separates objects in the task language: inside one expression it would split it.
    return " ".join(str(sent).replace(";", ",").split())


def target(ann: Annotations, ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``segment {referring expression}`` -> the one object it names."""
    refs = [r for r in ann.refs if text(r.sent) and wanted(r.lang, ctx)]
    if not refs:
        raise SampleError("no_refs")
    ref = refs[rng.randrange(len(refs))]
    sent = text(ref.sent) or ""
    seg = tasklang.Segmentation(sent, box(ref, ctx), mask(ref, ctx))
    return (
        tasklang.segment([sent]),
        tasklang.encode_segmentations([seg], ctx.width, ctx.height, ctx.codec),
    )


def has_refs(bench: Benchmark) -> bool:
    return any(r.annotations.get("refs") for r in bench.records[:200])


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    codec = getattr(ctx.model, "codec", None)
    requests: list[Request] = []
    refs: list[ReferringExpression] = []
    for i, r in enumerate(bench.records):
        for ref in r.annotations.get("refs", ()):
            sent = _expression(ref.sent)
            if sent:
                requests.append(Request(i, tasklang.segment([sent])))
                refs.append(ref)
    if not requests:
        raise ValueError(f"benchmark {bench.name!r} has no referring expressions")
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=32)
    gen = ctx.generate(requests, settings, desc="segment")
    sc = RefSegScores()
    rows: list[int] = []
    skipped: dict[str, int] = {}
    invalid_parse: dict[str, int] = {}
    examples = []
    # One mask at a time is a tiny forward: torch's intra-op threads only add barrier waits.
    with torch_threads(1):
        _score_all(requests, gen, refs, codec, sc, rows, skipped, invalid_parse, examples)
    if not rows:
        raise ValueError(f"benchmark {bench.name!r}: no answer could be evaluated ({skipped})")
    metas = [
        {**bench.records[requests[p].index].meta, "language": refs[p].lang or "en"} for p in rows
    ]
    per = {"miou": np.asarray(sc.ious), "boxacc@0.5": np.asarray(sc.box_ious) >= 0.5}
    summary = G.summarize(
        {k: v.astype(float) for k, v in per.items()},
        "miou" if codec is not None else "boxacc@0.5",
        metas,
        G.group_keys(bench),
        ctx.n_bootstrap,
        ctx.seed,
    )
    summary["metrics"].update({k: v for k, v in sc.metrics().items() if k in ("invalid_rate",)})
    result = G.result_record(
        "referring_segmentation", summary, bench,
        language="multi" if len({m["language"] for m in metas}) > 1 else "en",
        n_evaluated=len(rows), skipped=skipped, settings=settings, gen=gen, examples=examples,
        invalid={"count": sc.invalid, "total": len(rows),
                 "reasons": {r: sc.reasons.count(r) for r in set(sc.reasons) if r}},
        parse_invalid=invalid_parse,
    )  # fmt: skip
    if codec is None:
        result["metrics"]["miou"] = float("nan")
        result["note"] = "the model has no mask codec (mask_codec.safetensors): boxes only"
    return [result]


def _score_all(
    requests: list[Request],
    gen: Any,
    refs: list[ReferringExpression],
    codec: Any,
    sc: RefSegScores,
    rows: list[int],
    skipped: dict[str, int],
    invalid_parse: dict[str, int],
    examples: list[G.Example],
) -> None:
    """Parse and score every answer (masks decoded by the codec), filling the given lists."""
    for pos, (req, ans, ref) in enumerate(zip(requests, gen.answers, refs, strict=True)):
        if ans.text is None:
            skipped[ans.error] = skipped.get(ans.error, 0) + 1
            continue
        w, h = ans.size or (1, 1)
        gt_mask = rle_to_mask(ref.segmentation or {})
        if gt_mask.shape != (h, w):
            skipped["mask_size_mismatch"] = skipped.get("mask_size_mismatch", 0) + 1
            continue
        x, y, bw, bh = ref.bbox or (0.0, 0.0, 0.0, 0.0)
        gt_box = (x, y, x + bw, y + bh)
        # Any label is accepted (big_vision reads only the box and mask tokens).
        prompt = req.prompt if codec is not None else tasklang.detect([_expression(ref.sent)])
        parsed = tasklang.parse(prompt, ans.text, w, h, codec=codec, labels=[])
        for reason, n in parsed.invalid_counts().items():
            invalid_parse[reason] = invalid_parse.get(reason, 0) + n
        obj = parsed.objects[0] if parsed.objects else None
        reason = (
            "" if obj is not None else (parsed.invalid[0].reason if parsed.invalid else "no_object")
        )
        mask = obj.mask if isinstance(obj, Segmentation) else None
        if codec is None and obj is not None:
            mask = np.zeros((h, w), bool)  # no codec: boxes only, miou reported as NaN
        sc.add(obj.box if obj is not None else None, mask, gt_box, gt_mask, reason)
        rows.append(pos)
        boxes = [(*gt_box, "", "gt")] + ([(*obj.box, "", "pred")] if obj is not None else [])
        masks = [(gt_mask, "gt")] + ([(mask, "pred")] if isinstance(obj, Segmentation) else [])
        examples.append(
            G.Example(req.index, sc.ious[-1], req.prompt, ans.text if reason else "(mask)",
                      ref.sent, boxes=boxes, masks=masks)
        )  # fmt: skip


TASK = GenerativeTask(
    name="refer",
    target=target,
    evaluate=run,
    eval_name="referring_segmentation",
    metrics=("miou", "boxacc@0.5", "invalid_rate"),
    requires=has_refs,
    needs="referring expressions",
    verb="segment",
    answer="masks",
    needs_codec=True,
    aliases=("refseg",),
)
