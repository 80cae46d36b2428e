"""A small generative benchmark (real PNG files, scene annotations, groups) and two real
``Generator`` implementations: an oracle that answers from the annotations, and a hostile one
that says garbage (and sometimes fails)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from globelens.evaluate.datasets.base import Benchmark, Record
from globelens.models import tasklang
from globelens.models.base import Generation
from globelens.models.tasklang import Detection, mask_to_rle

CLASSES = ["stove", "lamp", "bed"]
COLORS = {"stove": (220, 40, 40), "lamp": (40, 200, 60), "bed": (40, 70, 220)}
PLACES = [
    ("Nigeria", "Africa", "ha", "$0-200"),
    ("India", "SouthEastAsia", "hi", "$201-684"),
    ("Brazil", "Americas", "pt", "$685-1997"),
    ("France", "Europe", "fr", "$1998+"),
]
CAPTIONS = {
    "en": "a {c} in a room",
    "fr": "un objet {c} dans une pièce",
}


def make_benchmark(root: Path, n: int = 12, size: tuple[int, int] = (64, 48)) -> Benchmark:
    """``n`` pictures with 1-2 coloured rectangles each, every annotation kind, 4 groups."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    w, h = size
    records = []
    for i in range(n):
        arr = np.full((h, w, 3), 235, np.uint8)
        objects, refs = [], []
        for j in range(1 + i % 2):
            c = CLASSES[(i + j) % len(CLASSES)]
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(8, h // 2))
            arr[y0:y1, x0:x1] = COLORS[c]
            mask = np.zeros((h, w), bool)
            mask[y0:y1, x0:x1] = True
            bbox = [x0, y0, x1 - x0, y1 - y0]
            objects.append(
                {"label": c, "category_id": CLASSES.index(c) + 1, "bbox": bbox,
                 "segmentation": mask_to_rle(mask), "area": int(mask.sum())}
            )  # fmt: skip
            refs.append(
                {"ref_id": i * 10 + j, "sent": f"the {c}", "lang": "en", "bbox": bbox,
                 "segmentation": mask_to_rle(mask), "category": c}
            )  # fmt: skip
        path = root / f"{i:03d}.png"
        Image.fromarray(arr).save(path)
        country, region, lang, bucket = PLACES[i % len(PLACES)]
        main = objects[0]["label"]
        qa = [
            {"question_id": i * 10, "question": "how many objects?", "lang": "en",
             "answers": [str(len(objects))] * 8 + ["3", "4"],
             "multiple_choice_answer": str(len(objects)), "answer_type": "number",
             "question_type": "how many"},
            {"question_id": i * 10 + 1, "question": f"is there a {main}?", "lang": "en",
             "answers": ["yes"] * 10, "multiple_choice_answer": "yes",
             "answer_type": "yes/no", "question_type": "is there"},
        ]  # fmt: skip
        records.append(
            Record(
                id=f"img{i:03d}",
                path=str(path),
                labels=(CLASSES.index(main),),
                captions={lg: [t.format(c=main), t.format(c=main) + " here"] for lg, t in CAPTIONS.items()},
                meta={"country": country, "region": region, "language": lang,
                      "income_bucket": bucket},
                annotations={"objects": objects, "qa": qa, "refs": refs},
            )
        )  # fmt: skip
    return Benchmark(
        name="tinyscenes",
        format="test",
        root=str(root),
        records=records,
        tasks=("captioning", "vqa", "detection", "referring_segmentation"),
        classnames=list(CLASSES),
        group_keys=("income_bucket", "region", "country"),
        worst_group={"acc_wg": "income_bucket"},
    )


def _digest(im: Image.Image) -> str:
    return hashlib.sha256(np.asarray(im.convert("RGB")).tobytes()).hexdigest()


class OracleGenerator:
    """Answers from the benchmark's own annotations (found by the picture's pixels)."""

    image_size = 48
    fingerprint = "oracle-v1"

    def __init__(self, bench: Benchmark, codec=None, jitter: float = 0.0) -> None:
        self.codec = codec
        self.jitter = jitter  # > 0: detections move by up to this fraction and some go
        self.calls = 0
        self.by_digest = {}
        for r in bench.records:
            self.by_digest[_digest(Image.open(r.path))] = r

    def _answer(self, im: Image.Image, prompt: str) -> str:
        r = self.by_digest[_digest(im)]
        p = tasklang.parse_prompt(prompt)
        w, h = im.size
        objs = r.annotations["objects"]
        if p.task == "caption":
            return r.captions[p.lang][0]
        if p.task == "answer":
            for qa in r.annotations["qa"]:
                if qa.question == p.text:
                    return qa.multiple_choice_answer
            return CLASSES[r.labels[0]]  # "what is this?"
        if p.task == "question":
            return next(
                q.question for q in r.annotations["qa"] if q.multiple_choice_answer == p.text
            )
        boxes = [
            Detection(o.label, (o.bbox[0], o.bbox[1], o.bbox[0] + o.bbox[2],
                                o.bbox[1] + o.bbox[3]))
            for o in objs
        ]  # fmt: skip
        if p.task == "detect":
            boxes = [b for b in boxes if b.label in p.labels]
            if self.jitter:
                rng = np.random.default_rng(int(hashlib.sha1(r.id.encode()).hexdigest()[:8], 16))
                moved = []
                for b in boxes:
                    if rng.random() < 0.25:
                        continue  # missed
                    d = rng.uniform(-self.jitter, self.jitter, 4) * [w, h, w, h]
                    x0, y0, x1, y1 = np.clip(np.add(b.box, d), 0, [w, h, w, h])
                    if x1 > x0 and y1 > y0:
                        moved.append(Detection(b.label, (x0, y0, x1, y1)))
                boxes = moved
            return tasklang.encode_detections(boxes, w, h)
        if p.task == "segment":
            ref = next((x for x in r.annotations["refs"] if x.sent == p.labels[0]), None)
            if ref is None:  # a class: every instance of it
                segs = [
                    tasklang.Segmentation(o.label, b.box, tasklang.rle_to_mask(o.segmentation))
                    for o, b in zip(objs, boxes, strict=True)
                    if o.label == p.labels[0]
                ]
                return tasklang.encode_segmentations(segs, w, h, self.codec)
            box = boxes[r.annotations["refs"].index(ref)]
            mask = tasklang.rle_to_mask(ref.segmentation)
            seg = tasklang.Segmentation(ref.sent, box.box, mask)
            return tasklang.encode_segmentations([seg], w, h, self.codec)
        return ""

    def generate(
        self,
        images: Sequence[Image.Image],
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 32,
        num_beams: int = 1,
        batch_size: int = 16,
    ) -> list[Generation]:
        from globelens.evaluate.embed import torch_threads

        self.calls += 1
        # scores differ between pictures (so COCO's ranking across images matters)
        with torch_threads(1):  # the mask encoder on one picture: threads only wait
            return [
                Generation(self._answer(im, p), (1, 2), -1.0 - int(_digest(im)[:2], 16) / 64)
                for im, p in zip(images, prompts, strict=True)
            ]


GARBAGE = [
    "<loc9999><loc0001><seg7>;;; \r\n\x00",
    "<loc0100><loc0200>",
    "<loc0500><loc0500><loc0100><loc0100> stove",
    "<loc0001><loc0002><loc0900><loc0900>" + "<seg001>" * 3 + " ??",
    "a" * 20000,
    "",
    "\u2028\u0085\ufeff\ud7ff 厨房 <seg>",
    "<loc0010><loc0010><loc0800><loc0800> unicorn ; <loc0010><loc0010><loc0800><loc0800> lamp",
    "<eos><pad>",
]


class HostileGenerator:
    """Emits garbage: broken tokens, control characters, huge texts, NaN scores; its second
    call raises."""

    image_size = 48
    fingerprint = "hostile-v1"
    codec = None

    def __init__(self) -> None:
        self.calls = 0

    def generate(
        self,
        images: Sequence[Image.Image],
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 32,
        num_beams: int = 1,
        batch_size: int = 16,
    ) -> list[Generation]:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("CUDA error: device-side assert triggered")
        if self.calls == 3:  # not even text
            return [Generation(None, (), 0.0) for _ in prompts]  # type: ignore[arg-type]
        out = []
        for k, _ in enumerate(prompts):
            text = GARBAGE[(k + self.calls) % len(GARBAGE)]
            out.append(Generation(text, (), float("nan") if k % 3 == 0 else -5.0))
        return out
