"""detect: ``detect a ; b ; ...`` -> every instance of those classes: four loc tokens and its
label, objects separated by `` ; ``.

Training: the labels present (and, with ``negatives``, some absent ones) -> their instances.
Evaluation (``detection``): the benchmark's classes; COCO mAP and AP50 through pycocotools,
per group through the same matches (``genmetrics.detection.SubsetAP``).

A generative detector has no per-box confidence: each box's score is the **sequence
log-probability** of the answer it came from (``Generation.logprob``), shared by every box of
that answer; COCO ranks boxes by it across images. Labels outside the prompt's classes, broken
boxes and truncated answers are counted in ``invalid`` by reason, never dropped silently.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import globelens.evaluate.tasks.gencommon as G
from globelens.data.annotations import Annotations
from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.genmetrics.detection import SubsetAP, coco_from_dict, run_cocoeval
from globelens.models import tasklang
from globelens.tasks.base import GenerativeTask, TargetContext
from globelens.tasks.scene import box, labelled, ordered, shuffled_labels, text

if TYPE_CHECKING:
    from globelens.evaluate.tasks import GenerativeContext

SCORE_SOURCE = "sequence log-probability of the answer (shared by its boxes)"


def target(ann: Annotations, ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``detect a ; b`` (the labels present, and with ``negatives`` some absent ones) -> every
    instance of the present labels: four loc tokens and its label."""
    objects = labelled(ann)
    labels = shuffled_labels(objects, rng)
    dets = [tasklang.Detection(text(o.label) or "", box(o, ctx)) for o in ordered(objects, labels)]
    negatives = _negatives(labels, ctx, rng)
    if negatives:
        labels = labels + negatives
        rng.shuffle(labels)
        dets.sort(key=lambda d: labels.index(d.label))  # stable: the prompt's order, then place
    return tasklang.detect(labels), tasklang.encode_detections(dets, ctx.width, ctx.height)


def _negatives(present: Sequence[str], ctx: TargetContext, rng: random.Random) -> list[str]:
    """0 to ``ctx.negatives`` classes the picture lacks (as many of each count)."""
    if ctx.negatives <= 0:
        return []
    absent = [c for c in ctx.classes if c not in set(present)]
    return rng.sample(absent, min(rng.randint(0, ctx.negatives), len(absent)))


def has_boxes(bench: Benchmark) -> bool:
    return any(r.annotations.get("objects") for r in bench.records[:200])


def _categories(bench: Any) -> tuple[list[str], dict[str, int]]:
    """Class names and label -> category id (the objects' ids; unseen classes get new ones)."""
    ids: dict[str, int] = {}
    for r in bench.records:
        for o in r.annotations.get("objects", ()):
            ids.setdefault(o.label, int(o.category_id or 0))
    names = list(bench.classnames or sorted(ids))
    nxt = max(ids.values(), default=0) + 1
    for n in names:
        if n not in ids:
            ids[n], nxt = nxt, nxt + 1
    return names, ids


def run(ctx: GenerativeContext) -> list[dict[str, Any]]:
    bench = ctx.bench
    names, cat_ids = _categories(bench)
    if not names:
        raise ValueError(f"benchmark {bench.name!r} has no object classes")
    per = int(ctx.options.get("classes_per_prompt", 0)) or len(names)
    chunks = [names[i : i + per] for i in range(0, len(names), per)]
    requests = [Request(i, tasklang.detect(c)) for i in range(len(bench.records)) for c in chunks]
    settings = DecodeSettings.from_options(ctx.options, max_new_tokens=64)
    gen = ctx.generate(requests, settings, desc="detect")
    ok_img: dict[int, tuple[int, int]] = {}
    failed: dict[int, str] = {}
    dets: list[dict[str, Any]] = []
    invalid: dict[str, int] = {}
    n_objects = 0
    pred_boxes: dict[int, list] = {}
    for req, ans in zip(requests, gen.answers, strict=True):
        if ans.text is None:
            failed[req.index] = ans.error
            continue
        w, h = ans.size or (1, 1)
        ok_img[req.index] = (w, h)
        parsed = tasklang.parse(req.prompt, ans.text, w, h, score=ans.logprob)
        for reason, n in parsed.invalid_counts().items():
            invalid[reason] = invalid.get(reason, 0) + n
        for o in parsed.objects:
            x0, y0, x1, y1 = o.box
            dets.append(
                {"image_id": req.index + 1, "category_id": cat_ids[o.label],
                 "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(o.score)}
            )  # fmt: skip
            pred_boxes.setdefault(req.index, []).append((x0, y0, x1, y1, o.label, "pred"))
            n_objects += 1
    skipped: dict[str, int] = {}
    for reason in failed.values():  # an image with any failed prompt is left out whole
        skipped[reason] = skipped.get(reason, 0) + 1
    rows = sorted(i for i in ok_img if i not in failed)
    if not rows:
        raise ValueError(f"benchmark {bench.name!r}: no image could be evaluated ({skipped})")
    # Ground truth from the records (ids from 1: pycocotools reads a match to gt id 0 as none).
    images, anns = [], []
    for i in rows:
        w, h = ok_img[i]
        images.append({"id": i + 1, "width": w, "height": h})
        for o in bench.records[i].annotations.get("objects", ()):
            x, y, bw, bh = o.bbox or (0.0, 0.0, 0.0, 0.0)
            anns.append(
                {"id": len(anns) + 1, "image_id": i + 1, "category_id": int(o.category_id or 0),
                 "bbox": [x, y, bw, bh], "area": float(o.area or bw * bh),
                 "iscrowd": o.iscrowd}
            )  # fmt: skip
    cats = [{"id": cat_ids[n], "name": n} for n in names]
    gt = coco_from_dict({"images": images, "annotations": anns, "categories": cats})
    keep = {i + 1 for i in rows}
    ev = run_cocoeval(gt, [d for d in dets if d["image_id"] in keep])
    sub = SubsetAP(ev)
    pos_of = {img_id - 1: k for k, img_id in enumerate(sub.img_ids)}
    order = np.array([pos_of[i] for i in rows])  # example j -> image position in COCOeval

    def stat(idx: np.ndarray) -> float:
        return sub.ap_of_indices(order[idx])[0]

    recall = _recall50(ev, sub.img_ids)
    scores = np.array([recall.get(i + 1, 1.0) for i in rows])
    metas = [bench.records[i].meta for i in rows]
    overall = {"mAP": float(ev.stats[0]), "AP50": float(ev.stats[1]), "AP75": float(ev.stats[2])}
    summary = G.summarize(
        {"mAP": scores}, "mAP", metas, G.group_keys(bench), ctx.n_bootstrap, ctx.seed,
        stat=stat, overall=overall,
    )  # fmt: skip
    n_inv = sum(invalid.values())
    summary["metrics"]["invalid_rate"] = n_inv / (n_inv + n_objects) if n_inv + n_objects else 0.0
    examples = []
    for j, i in enumerate(rows):
        gt_boxes = [
            (x, y, x + bw, y + bh, o.label, "gt")
            for o in bench.records[i].annotations.get("objects", ())
            for x, y, bw, bh in [o.bbox or (0.0, 0.0, 0.0, 0.0)]
        ]
        preds = pred_boxes.get(i, [])
        examples.append(
            G.Example(
                i, float(scores[j]), requests[0].prompt if len(chunks) == 1 else "detect ...",
                tasklang.OBJECT_SEP.join(p[4] for p in preds) or "(nothing)",
                tasklang.OBJECT_SEP.join(b[4] for b in gt_boxes), boxes=gt_boxes + preds,
            )
        )  # fmt: skip
    return [
        G.result_record(
            "detection", summary, bench, language="en", n_evaluated=len(rows),
            skipped=skipped, settings=settings, gen=gen, examples=examples,
            num_classes=len(names), score_source=SCORE_SOURCE,
            coco_stats=[float(v) for v in ev.stats], invalid=invalid,
        )
    ]  # fmt: skip


def _recall50(ev: Any, img_ids: list[int]) -> dict[int, float]:
    """Per image: the fraction of its objects matched at IoU 0.5 (orders the examples)."""
    hit: dict[int, int] = {}
    total: dict[int, int] = {}
    n_area = len(ev.params.areaRng)
    n_img = len(img_ids)
    for k in range(len(ev.params.catIds)):
        for i in range(n_img):
            e = ev.evalImgs[k * n_area * n_img + i]  # area "all" comes first
            if e is None:
                continue
            real = np.asarray(e["gtIgnore"]) == 0
            total[e["image_id"]] = total.get(e["image_id"], 0) + int(real.sum())
            matched = np.asarray(e["gtMatches"])[0][real] != 0 if real.any() else []
            hit[e["image_id"]] = hit.get(e["image_id"], 0) + int(np.sum(matched))
    return {i: hit.get(i, 0) / t for i, t in total.items() if t}


TASK = GenerativeTask(
    name="detect",
    target=target,
    evaluate=run,
    eval_name="detection",
    metrics=("mAP", "AP50", "AP75", "invalid_rate"),
    requires=has_boxes,
    needs="object boxes",
    read_prompt=tasklang.read_detect,
    answer="boxes",
)
