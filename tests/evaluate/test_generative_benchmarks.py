"""Generative benchmark loaders on files written in the exact real release formats.

COCO detection (instances JSON with polygons and crowd RLE), COCO captions (official and
Karpathy), VQAv2 (questions + annotations), RefCOCO (REFER layout, refs as JSON) and XM3600
captions; each with a missing image, a corrupt image and a missing column.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from globelens.evaluate.datasets import BenchmarkFormatError, load_benchmark, resolve


def _jpeg(path: Path, color: tuple[int, int, int] = (200, 40, 40), size: int = 40) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path, format="JPEG")


def _corrupt(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")


def _write(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _uncompressed(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE (crowd annotations): run lengths, column-major, zeros first."""
    flat = mask.ravel(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return ([0] if flat[0] else []) + runs


def _reasons(bench) -> dict[str, int]:
    return dict(bench.report.counts())


# The ids 1, 2, 3 are good, missing and corrupt images in every set below.
def _images(image_dir: Path, name: str) -> list[dict]:
    _jpeg(image_dir / name.format(1))
    _corrupt(image_dir / name.format(3))
    return [
        {"id": i, "file_name": name.format(i), "width": 40, "height": 40, "license": 1}
        for i in (1, 2, 3)
    ]


# --------------------------------------------------------------------------- COCO detection


@pytest.fixture
def coco_det(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    images = _images(root / "val2017", "{:012d}.jpg")
    crowd = np.zeros((40, 40), np.uint8)
    crowd[10:14, 10:16] = 1
    _write(
        root / "annotations" / "instances_val2017.json",
        {
            "info": {"year": 2017}, "licenses": [], "images": images,
            "annotations": [
                {"id": 10, "image_id": 1, "category_id": 18, "iscrowd": 0, "area": 100.0,
                 "bbox": [5.0, 5.0, 10.0, 10.0],
                 "segmentation": [[5, 5, 15, 5, 15, 15, 5, 15]]},
                {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 24.0,
                 "bbox": [10.0, 10.0, 6.0, 4.0],
                 # crowd annotations use uncompressed RLE, as in the release
                  "segmentation": {"size": [40, 40], "counts": _uncompressed(crowd)}},
                {"id": 12, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 4.0,
                 "bbox": [0, 0, 2, 2], "segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]]},
            ],
            "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                           {"id": 18, "name": "dog", "supercategory": "animal"}],
        },
    )  # fmt: skip
    return root


def test_coco_detection_reads_the_release_layout(coco_det: Path) -> None:
    assert resolve(str(coco_det))[0] == "coco_det"  # detected from annotations/instances_*
    b = load_benchmark(str(coco_det))
    assert b.tasks == ("detection",) and b.classnames == ["person", "dog"]
    assert b.index_files[0].endswith("annotations/instances_val2017.json")
    assert [r.id for r in b.records] == ["1"]
    assert _reasons(b) == {"missing_image": 1, "corrupt_image": 1}
    objs = b.records[0].annotations["objects"]
    assert [o.label for o in objs] == ["dog", "person"] and b.records[0].labels == (0, 1)
    dog = objs[0]
    assert dog.bbox == (5.0, 5.0, 10.0, 10.0) and isinstance(dog.segmentation["counts"], str)
    m = mask_utils.decode({**dog.segmentation, "counts": dog.segmentation["counts"].encode()})
    assert m.shape == (40, 40) and 90 <= m.sum() <= 130  # the polygon, as pycocotools draws it
    assert objs[1].iscrowd == 1 and isinstance(objs[1].segmentation["counts"], str)


def test_coco_detection_fails_fast_naming_what_is_missing(coco_det: Path, tmp_path: Path) -> None:
    path = coco_det / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    del data["annotations"][0]["bbox"]
    path.write_text(json.dumps(data))
    with pytest.raises(BenchmarkFormatError, match=r"'annotations' has no 'bbox'"):
        load_benchmark(f"coco_det:{coco_det}")
    del data["categories"]
    path.write_text(json.dumps(data))
    with pytest.raises(BenchmarkFormatError, match=r"has no 'categories'"):
        load_benchmark(f"coco_det:{coco_det}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkFormatError, match=r"missing file annotations/instances_"):
        load_benchmark(f"coco_det:{tmp_path / 'empty'}")


# ----------------------------------------------------------------------------- COCO captions


def test_coco_captions_official_and_karpathy(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    images = _images(root / "val2017", "{:012d}.jpg")
    _write(root / "annotations" / "captions_val2017.json", {
        "info": {}, "licenses": [], "images": images,
        "annotations": [{"id": 1, "image_id": 1, "caption": "A dog on a sofa."},
                        {"id": 2, "image_id": 1, "caption": "a brown dog "},
                        {"id": 3, "image_id": 2, "caption": "x"},
                        {"id": 4, "image_id": 3, "caption": "y"}],
    })  # fmt: skip
    b = load_benchmark(f"coco_captions:{root}")
    assert b.tasks == ("captioning",)
    assert [(r.id, r.captions) for r in b.records] == [
        ("1", {"en": ["A dog on a sofa.", "a brown dog"]})
    ]
    assert _reasons(b) == {"missing_image": 1, "corrupt_image": 1}

    kroot = tmp_path / "karpathy"
    _jpeg(kroot / "val2014" / "a.jpg")
    _corrupt(kroot / "val2014" / "c.jpg")
    sent = [{"raw": "a cat", "tokens": ["a", "cat"], "imgid": 0, "sentid": 0}]
    _write(kroot / "dataset_coco.json", {"dataset": "coco", "images": [
        {"filepath": "val2014", "filename": n, "imgid": i, "split": "test", "cocoid": 7 + i,
         "sentences": sent, "sentids": [0]}
        for i, n in enumerate(["a.jpg", "b.jpg", "c.jpg"])
    ] + [{"filepath": "val2014", "filename": "a.jpg", "split": "train", "sentences": sent}]})  # fmt: skip
    k = load_benchmark(f"coco_captions:{kroot}")
    assert [(r.id, r.captions["en"]) for r in k.records] == [("7", ["a cat"])]
    assert _reasons(k) == {"missing_image": 1, "corrupt_image": 1}
    data = json.loads((kroot / "dataset_coco.json").read_text())
    del data["images"][0]["sentences"]
    _write(kroot / "dataset_coco.json", data)
    with pytest.raises(BenchmarkFormatError, match=r"has no 'sentences'"):
        load_benchmark(f"coco_captions:{kroot}")


# ------------------------------------------------------------------------------------- VQAv2


def _vqa(root: Path) -> None:
    _images(root / "val2014", "COCO_val2014_{:012d}.jpg")
    qs = [{"image_id": i, "question": f"how many dogs are there {i}?", "question_id": i * 10}
          for i in (1, 2, 3)]  # fmt: skip
    _write(root / "v2_OpenEnded_mscoco_val2014_questions.json", {
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {},
        "data_subtype": "val2014", "questions": [*qs, {"image_id": 1, "question": "q?",
                                                       "question_id": 11}],
    })  # fmt: skip
    anns = [
        {"question_type": "how many", "multiple_choice_answer": "2", "image_id": i,
         "answer_type": "number", "question_id": i * 10,
         "answers": [{"answer": "2" if j else "3", "answer_confidence": "yes", "answer_id": j + 1}
                     for j in range(10)]}
        for i in (1, 2, 3)
    ]  # fmt: skip
    _write(root / "v2_mscoco_val2014_annotations.json",
           {"info": {}, "license": {}, "data_subtype": "val2014", "annotations": anns})  # fmt: skip


def test_vqav2_questions_and_annotations(tmp_path: Path) -> None:
    root = tmp_path / "vqa"
    _vqa(root)
    assert resolve(str(root))[0] == "vqav2"
    b = load_benchmark(str(root))
    assert b.tasks == ("vqa",) and [r.id for r in b.records] == ["1"]
    (qa,) = b.records[0].annotations["qa"]
    assert qa.question_id == 10 and qa.lang == "en" and qa.multiple_choice_answer == "2"
    assert qa.answers == ("3",) + ("2",) * 9 and qa.answer_type == "number"
    assert _reasons(b) == {"missing_answers": 1, "missing_image": 1, "corrupt_image": 1}
    path = root / "v2_mscoco_val2014_annotations.json"
    data = json.loads(path.read_text())
    del data["annotations"][1]["multiple_choice_answer"]
    path.write_text(json.dumps(data))
    with pytest.raises(BenchmarkFormatError, match=r"has no 'multiple_choice_answer'"):
        load_benchmark(str(root))
    path.unlink()
    with pytest.raises(BenchmarkFormatError, match=r"missing file v2_mscoco_val2014_annotations"):
        load_benchmark(str(root))


# ----------------------------------------------------------------------------------- RefCOCO


def _refcoco(root: Path) -> None:
    images = _images(root / "images", "COCO_train2014_{:012d}.jpg")
    poly = [[4, 4, 20, 4, 20, 20, 4, 20]]
    _write(root / "instances.json", {
        "images": images, "categories": [{"id": 1, "name": "person"}],
        "annotations": [{"id": 100 + i, "image_id": i, "category_id": 1, "bbox": [4, 4, 16, 16],
                         "area": 256, "iscrowd": 0, "segmentation": poly} for i in (1, 2, 3)],
    })  # fmt: skip
    refs = [
        {"ref_id": i, "ann_id": 100 + i, "image_id": i, "split": "val" if i < 4 else "train",
         "category_id": 1, "file_name": f"COCO_train2014_{i:012d}_{100 + i}.jpg",
         "sent_ids": [2 * i, 2 * i + 1],
         "sentences": [{"tokens": ["man", "left"], "raw": "Man left", "sent_id": 2 * i,
                        "sent": "man left"},
                       {"tokens": ["guy"], "raw": "guy", "sent_id": 2 * i + 1, "sent": "guy"}]}
        for i in (1, 2, 3)
    ]  # fmt: skip
    _write(root / "refs(unc).json", refs)


def test_refcoco_reads_the_refer_layout_with_json_refs(tmp_path: Path) -> None:
    root = tmp_path / "refcoco"
    _refcoco(root)
    assert resolve(str(root))[0] == "refcoco"
    b = load_benchmark(str(root))
    assert b.tasks == ("referring_segmentation",) and [r.id for r in b.records] == ["1"]
    refs = b.records[0].annotations["refs"]
    assert [r.sent for r in refs] == ["man left", "guy"]
    assert {r.ref_id for r in refs} == {1} and refs[0].lang == "en"
    assert refs[0].category == "person" and refs[0].bbox == (4.0, 4.0, 16.0, 16.0)
    assert isinstance(refs[0].segmentation["counts"], str)
    assert _reasons(b) == {"missing_image": 1, "corrupt_image": 1}


def test_refcoco_refuses_the_pickle_and_names_missing_fields(tmp_path: Path) -> None:
    root = tmp_path / "refcoco"
    _refcoco(root)
    refs = json.loads((root / "refs(unc).json").read_text())
    del refs[0]["sentences"]
    _write(root / "refs(unc).json", refs)
    with pytest.raises(BenchmarkFormatError, match=r"'refs' has no 'sentences'"):
        load_benchmark(f"refcoco:{root}")
    (root / "refs(unc).json").unlink()
    (root / "refs(unc).p").write_bytes(b"\x80\x04not opened")
    with pytest.raises(BenchmarkFormatError, match=r"refs\(unc\)\.p is a pickle.*never unpickles"):
        load_benchmark(f"refcoco:{root}")


# ------------------------------------------------------------------------------ XM3600 captions


def test_xm3600_captions_per_language(tmp_path: Path) -> None:
    root = tmp_path / "xm"
    _jpeg(root / "images" / "k1.jpg")
    _corrupt(root / "images" / "k3.jpg")
    lines = [
        {"image/key": k, "image/locale": "fa", "en": {"caption": ["a stove"]},
         "fa": {"caption": ["اجاق", "اجاق در خانه"]}, "country": "Iran", "region": "WestAsia"}
        for k in ("k1", "k2", "k3")
    ]  # fmt: skip
    (root / "captions.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines) + "{broken\n",
        encoding="utf-8",
    )
    assert resolve(str(root))[0] == "xm3600"  # bare folders stay retrieval sets
    b = load_benchmark(f"xm3600_captions:{root}")
    assert b.tasks == ("captioning",) and [r.id for r in b.records] == ["k1"]
    assert b.records[0].captions == {"en": ["a stove"], "fa": ["اجاق", "اجاق در خانه"]}
    assert b.records[0].meta["country"] == "Iran" and b.group_keys == ("region", "country")
    assert _reasons(b) == {"missing_image": 1, "corrupt_image": 1, "malformed_json": 1}
    only = load_benchmark(f"xm3600_captions:{root}", languages=["fa"])
    assert set(only.records[0].captions) == {"fa"}


def test_several_splits_need_a_choice_and_existence_only_checks(coco_det: Path) -> None:
    ann = coco_det / "annotations"
    (ann / "instances_train2017.json").write_text((ann / "instances_val2017.json").read_text())
    # The official folder holds train and val side by side: val2017 is the default.
    assert load_benchmark(f"coco_det:{coco_det}").index_files[0].endswith("val2017.json")
    (ann / "instances_val2017.json").rename(ann / "instances_minival2014.json")
    with pytest.raises(BenchmarkFormatError, match=r"several splits \(minival2014, train2017\)"):
        load_benchmark(f"coco_det:{coco_det}")
    (ann / "instances_minival2014.json").rename(ann / "instances_val2017.json")
    b = load_benchmark(f"coco_det:{coco_det}?split=val2017&verify_images=false")
    assert [r.id for r in b.records] == ["1", "3"]  # the corrupt file exists: not decoded
    assert _reasons(b) == {"missing_image": 1}
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['splt'\]. Valid keys are: split"):
        load_benchmark(f"coco_det:{coco_det}", splt="val2017")
