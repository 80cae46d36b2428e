"""Writers of the scenes: the generative training shards and four benchmarks in their real
release layouts, all from the same benchmark pictures (as COCO's sets share COCO's images).

- ``scenes/NNNNN.tar``: img2dataset shards; each sample's ``.json`` carries ``captions``
  ({lang: [...]}), ``objects``, ``qa`` and ``refs`` besides the place's metadata.
- ``benchmarks/coco_det``: ``annotations/instances_val2017.json`` + ``val2017/``.
- ``benchmarks/refcoco``: the REFER layout, ``instances.json`` + ``refs(unc).json`` (the
  fields of the official ``refs(unc).p``, stored as JSON) + ``images/``.
- ``benchmarks/vqa``: ``v2_OpenEnded_mscoco_val2014_questions.json`` +
  ``v2_mscoco_val2014_annotations.json`` + ``val2014/``, and ``image_info_val2014.json``
  (COCO image info) with each picture's place and income.
- ``benchmarks/captions``: Karpathy ``dataset_coco.json`` (English) and XM3600-style
  ``captions.jsonl`` (every caption language) + ``images/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from globelens.data import Sample, ShardWriter
from globelens.data.annotations import Annotations
from globelens.world.places import COUNTRY_BY_NAME, LANGUAGES
from globelens.world.scenes import CATEGORIES, SCENE_SIZE
from globelens.world.sinks import Counts, counts_for, write_bytes, write_text

#: Per-image metadata every benchmark keeps (group metrics are broken down by them).
GROUP_FIELDS = ("country", "country_code", "region", "language", "income", "income_bucket")

_INFO = {
    "description": "globelens synthetic world scenes (a simulator, not real photos)",
    "version": "1.0",
    "contributor": "globelens",
}
_LICENSE = {"id": 1, "name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}


def _dump(path: Path, obj: Any) -> None:
    # Compact and key-sorted: byte-identical for the same seed, small on disk.
    write_text(path, json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def _group_meta(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item["meta"][k] for k in GROUP_FIELDS}


def _tokens(sent: str) -> list[str]:
    return sent.lower().split()


def _counts(counts: Counts, item: dict[str, Any]) -> None:
    m = item["meta"]
    c = COUNTRY_BY_NAME[m["country"]]
    counts.add(**counts_for(c, m["language"], income_bucket=m["income_bucket"]))
    for o in item["objects"]:
        counts.by["object"][o["label"]] += 1


class SceneShardSink:
    """``OUT/scenes``: the generative training shards."""

    def __init__(self, out: Path, maxcount: int) -> None:
        self.writer = ShardWriter(out / "scenes", maxcount=maxcount)
        self.counts = Counts()
        self.objects = self.questions = self.refs = self.hidden = 0

    def add(self, item: dict[str, Any]) -> None:
        m = item["meta"]
        meta = {**m, "captions": item["captions"], "objects": item["objects"],
                "qa": item["qa"], "refs": item["refs"]}  # fmt: skip
        # the record the trainer and the loaders read: a scene that does not fit fails here
        Annotations.from_json(meta, f"scene {item['key']}")
        caption = item["captions"][m["language"]][0]
        self.writer.write(
            Sample(key=item["key"], image_bytes=item["image"], caption=caption, meta=meta)
        )
        _counts(self.counts, item)
        self.objects += len(item["objects"])
        self.questions += len(item["qa"])
        self.refs += len(item["refs"])
        self.hidden += item["hidden"]

    def close(self) -> dict[str, Any]:
        shards = self.writer.close()
        out = self.counts.to_dict()
        out.update(shards=len(shards), objects=self.objects, questions=self.questions,
                   referring_sentences=self.refs, hidden_objects=self.hidden,
                   image_size=SCENE_SIZE)  # fmt: skip
        return out


class SceneBenchmarkSink:
    """``OUT/benchmarks/{coco_det,refcoco,vqa,captions}`` from the same benchmark scenes."""

    def __init__(self, out: Path) -> None:
        self.root = out / "benchmarks"
        self.items: list[dict[str, Any]] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        image = item.pop("image")
        iid = item["image_id"]
        write_bytes(self.root / "coco_det" / "val2017" / f"{iid:012d}.jpg", image)
        write_bytes(self.root / "refcoco" / "images" / f"COCO_train2014_{iid:012d}.jpg", image)
        write_bytes(self.root / "vqa" / "val2014" / f"COCO_val2014_{iid:012d}.jpg", image)
        write_bytes(self.root / "captions" / "images" / f"{item['key'][:16]}.jpg", image)
        self.items.append(item)
        _counts(self.counts, item)

    def _coco(self, file_name: str) -> dict[str, Any]:
        images, annotations = [], []
        for item in self.items:
            iid = item["image_id"]
            images.append({"id": iid, "file_name": file_name.format(iid), "width": SCENE_SIZE,
                           "height": SCENE_SIZE, "license": 1, **_group_meta(item)})  # fmt: skip
            for k, o in enumerate(item["objects"]):
                annotations.append({
                    "id": iid * 100 + k, "image_id": iid, "category_id": o["category_id"],
                    "bbox": o["bbox"], "area": o["area"], "iscrowd": 0,
                    "segmentation": o["segmentation"],
                })  # fmt: skip
        return {"info": _INFO, "licenses": [_LICENSE], "images": images,
                "annotations": annotations, "categories": CATEGORIES}  # fmt: skip

    def _write_coco_det(self) -> None:
        _dump(
            self.root / "coco_det" / "annotations" / "instances_val2017.json",
            self._coco("{:012d}.jpg"),
        )

    def _write_refcoco(self) -> int:
        refs: list[dict[str, Any]] = []
        sent_id = 0
        for item in self.items:
            iid = item["image_id"]
            by_ref: dict[int, list[dict[str, Any]]] = {}
            for r in item["refs"]:
                by_ref.setdefault(r["ref_id"], []).append(r)
            for ref_id, rs in by_ref.items():
                k = ref_id - iid * 100
                sentences = []
                for r in rs:
                    sentences.append({"tokens": _tokens(r["sent"]), "raw": r["sent"],
                                      "sent_id": sent_id, "sent": r["sent"], "lang": r["lang"]})  # fmt: skip
                    sent_id += 1
                refs.append({
                    "image_id": iid, "split": "val", "sentences": sentences,
                    "file_name": f"COCO_train2014_{iid:012d}_{iid * 100 + k}.jpg",
                    "category_id": item["objects"][k]["category_id"], "ann_id": iid * 100 + k,
                    "sent_ids": [s["sent_id"] for s in sentences], "ref_id": ref_id,
                })  # fmt: skip
        root = self.root / "refcoco"
        _dump(root / "instances.json", self._coco("COCO_train2014_{:012d}.jpg"))
        _dump(root / "refs(unc).json", refs)
        return sent_id

    def _write_vqa(self) -> int:
        questions, annotations, images = [], [], []
        for item in self.items:
            iid = item["image_id"]
            images.append({"id": iid, "file_name": f"COCO_val2014_{iid:012d}.jpg",
                           "width": SCENE_SIZE, "height": SCENE_SIZE, **_group_meta(item)})  # fmt: skip
            for q in item["qa"]:
                questions.append({"image_id": iid, "question": q["question"],
                                  "question_id": q["question_id"], "lang": q["lang"]})  # fmt: skip
                annotations.append({
                    "question_type": q["question_type"],
                    "multiple_choice_answer": q["multiple_choice_answer"],
                    "answers": [
                        {"answer": a, "answer_confidence": "yes" if a == q["multiple_choice_answer"]
                         else "maybe", "answer_id": j + 1}
                        for j, a in enumerate(q["answers"])
                    ],
                    "image_id": iid, "answer_type": q["answer_type"],
                    "question_id": q["question_id"], "lang": q["lang"],
                })  # fmt: skip
        root = self.root / "vqa"
        _dump(root / "v2_OpenEnded_mscoco_val2014_questions.json",
              {"info": _INFO, "task_type": "Open-Ended", "data_type": "mscoco",
               "license": _LICENSE, "data_subtype": "val2014", "questions": questions})  # fmt: skip
        _dump(root / "v2_mscoco_val2014_annotations.json",
              {"info": _INFO, "license": _LICENSE, "data_subtype": "val2014",
               "annotations": annotations})  # fmt: skip
        _dump(root / "image_info_val2014.json",
              {"info": _INFO, "licenses": [_LICENSE], "images": images})  # fmt: skip
        return len(questions)

    def _write_captions(self) -> int:
        root = self.root / "captions"
        images, lines, sent_id = [], [], 0
        for n, item in enumerate(self.items):
            key = item["key"][:16]
            sentences = []
            for cap in item["captions"]["en"]:
                sentences.append({"tokens": _tokens(cap), "raw": cap, "imgid": n,
                                  "sentid": sent_id})  # fmt: skip
                sent_id += 1
            images.append({"filepath": "images", "sentids": [s["sentid"] for s in sentences],
                           "filename": f"{key}.jpg", "imgid": n, "split": "test",
                           "sentences": sentences, "cocoid": item["image_id"],
                           **_group_meta(item)})  # fmt: skip
            record: dict[str, Any] = {"image/key": key, "image/locale": item["meta"]["language"]}
            record.update(_group_meta(item))
            for lang, caps in item["captions"].items():
                record[lang] = {"caption": caps, "caption/tokenized": [" ".join(_tokens(c))
                                                                       for c in caps]}  # fmt: skip
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        _dump(root / "dataset_coco.json", {"images": images, "dataset": "coco"})
        write_text(root / "captions.jsonl", "".join(f"{line}\n" for line in lines))
        return sent_id

    def close(self) -> dict[str, Any]:
        out = self.counts.to_dict()
        if not self.items:  # a size without scene benchmarks writes none
            return out
        self._write_coco_det()
        out["refcoco_sentences"] = self._write_refcoco()
        out["vqa_questions"] = self._write_vqa()
        out["caption_sentences_en"] = self._write_captions()
        out["objects"] = sum(len(i["objects"]) for i in self.items)
        out["languages"] = sorted({lang for i in self.items for lang in i["captions"]},
                                  key=lambda x: (x != "en", x))  # fmt: skip
        assert set(out["languages"]) <= set(LANGUAGES)
        return out
