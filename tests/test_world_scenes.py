"""World scenes: exact masks, the real formats the four generative sets are written in, the
training shards' targets, and the loaders reading the world's sets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from globelens.data import ReadReport, read_shards
from globelens.evaluate.datasets import load_benchmark
from globelens.evaluate.datasets.cocojson import decode_rle
from globelens.groups import income_bucket
from globelens.world import COUNTRIES, LANGUAGES, render, resolve_size
from globelens.world.config import WorldConfig
from globelens.world.plans import STREAMS
from globelens.world.scenelang import join_names, plural, question
from globelens.world.scenes import CATEGORIES, SCENE_SIZE, draw_scene

GROUPS = ("country", "country_code", "region", "language", "income", "income_bucket")


@pytest.fixture(scope="module")
def world(tiny_world: Path) -> Path:
    return tiny_world


def _bench_scene(index: int):
    return draw_scene(0, STREAMS["scene_benchmarks"], index, WorldConfig(), balanced=True)[0]


# ------------------------------------------------------------------------------ renderer


def test_masks_are_exactly_the_pixels_each_object_drew() -> None:
    rng = np.random.default_rng(3)
    specs = [render.ObjectSpec("concept", "chair", 2), render.ObjectSpec("concept", "table", 2)]
    scene = render.render_scene(specs, "Europe", 0, 2, rng, 64)
    assert scene.image.size == (64, 64) and len(scene.objects) == 2
    a, b = (o.mask for o in scene.objects)
    assert not (a & b).any()  # visible masks never overlap
    for o in scene.objects:
        x, y, w, h = o.bbox
        ys, xs = np.nonzero(o.mask)
        assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
        assert o.area == o.mask.sum() > 20 and abs(sum(o.colors.values()) - 1) < 1e-3


def test_scene_rejects_bad_specs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="1 to 4 objects"):
        render.render_scene([], "Europe", 0, 1, rng)
    with pytest.raises(KeyError, match="unknown scene object"):
        render.render_scene([render.ObjectSpec("concept", "spaceship")], "Europe", 0, 1, rng)


def test_scene_words() -> None:
    assert join_names("en", ["stove", "lamp", "bed"]) == "stove, lamp and bed"
    assert join_names("zh", ["炉子", "灯"]) == "炉子和灯"
    assert join_names("ar", ["موقد", "مصباح"]) == "موقد ومصباح"
    assert plural("toothbrush") == "toothbrushes" and plural("shoes") == "shoes"
    assert question("how many", "en", "chair") == "how many chairs are there?"
    assert question("how many", "tr", "masa") == "kaç masa var?"


def test_scene_sizes_scale_with_the_world() -> None:
    tiny, small, default = (resolve_size(s) for s in ("tiny", "small", "default"))
    assert tiny.scenes < small.scenes < default.scenes
    assert tiny.scene_benchmarks < small.scene_benchmarks < default.scene_benchmarks
    assert resolve_size(60_000).scenes == 2 * default.scenes  # training scenes grow with the crawl
    assert resolve_size(3_000_000).scenes == 100 * default.scenes
    assert resolve_size(3_000_000).scene_benchmarks == 2 * default.scene_benchmarks  # capped
    assert resolve_size(10).scenes == tiny.scenes


# ------------------------------------------------------------------------- COCO detection


def test_pycocotools_opens_the_detection_json_and_its_masks_are_the_renderers(
    world: Path,
) -> None:
    coco = COCO(str(world / "benchmarks" / "coco_det" / "annotations" / "instances_val2017.json"))
    assert len(coco.getImgIds()) == resolve_size("tiny").scene_benchmarks
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [c["name"] for c in CATEGORIES]
    for index in range(6):
        scene = _bench_scene(index)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[index + 1]))
        assert len(anns) == len(scene.objects) > 0
        for ann, obj in zip(anns, scene.objects, strict=True):
            assert np.array_equal(coco.annToMask(ann).astype(bool), obj.mask)
            assert ann["bbox"] == list(obj.bbox) and ann["area"] == obj.area
            assert ann["iscrowd"] == 0
        img = coco.loadImgs([index + 1])[0]
        assert {k: img[k] for k in ("width", "height")} == {"width": 64, "height": 64}
        assert img["income_bucket"] == income_bucket(img["income"])
        assert set(GROUPS) <= set(img)


# ----------------------------------------------------------------------------------- VQAv2


def test_vqa_files_pass_the_official_field_checks(world: Path) -> None:
    root = world / "benchmarks" / "vqa"
    qs = json.loads((root / "v2_OpenEnded_mscoco_val2014_questions.json").read_text())
    anns = json.loads((root / "v2_mscoco_val2014_annotations.json").read_text())
    for key in ("info", "task_type", "data_type", "license", "data_subtype", "questions"):
        assert key in qs, key
    assert qs["task_type"] == "Open-Ended" and anns["data_subtype"] == "val2014"
    # What the official API (GT-Vision-Lab/VQA vqa.py) asserts and reads.
    q_ids = {q["question_id"] for q in qs["questions"]}
    assert {a["question_id"] for a in anns["annotations"]} == q_ids
    assert len(q_ids) == len(qs["questions"])
    for q in qs["questions"]:
        assert isinstance(q["image_id"], int) and q["question"].strip()
        assert (root / "val2014" / f"COCO_val2014_{q['image_id']:012d}.jpg").is_file()
    types = Counter()
    for a in anns["annotations"]:
        assert len(a["answers"]) == 10
        assert [x["answer_id"] for x in a["answers"]] == list(range(1, 11))
        assert all(x["answer_confidence"] in ("yes", "maybe", "no") for x in a["answers"])
        answers = [x["answer"] for x in a["answers"]]
        assert a["multiple_choice_answer"] == Counter(answers).most_common(1)[0][0]
        # lower-case like VQAv2's, so a normalised prediction can match ten agreeing humans
        assert all(x == x.lower() for x in answers)
        assert a["answer_type"] in ("yes/no", "number", "other")
        if a["answer_type"] == "number":
            assert a["multiple_choice_answer"].isdigit()
        types[(a["question_type"], a["lang"] == "en")] += 1
    for qt in ("what is this", "how many", "what color is the", "which"):
        assert types[(qt, True)] and types[(qt, False)], qt  # in English and locally


# ------------------------------------------------------------------------ RefCOCO, captions


def test_refcoco_and_captions_layouts(world: Path) -> None:
    root = world / "benchmarks" / "refcoco"
    refs = json.loads((root / "refs(unc).json").read_text(encoding="utf-8"))
    inst = json.loads((root / "instances.json").read_text(encoding="utf-8"))
    ann_ids = {a["id"] for a in inst["annotations"]}
    for ref in refs:
        for key in ("ref_id", "ann_id", "image_id", "split", "sentences", "category_id",
                    "file_name", "sent_ids"):  # fmt: skip
            assert key in ref, key
        assert ref["ann_id"] in ann_ids
        assert [s["sent_id"] for s in ref["sentences"]] == ref["sent_ids"]
    assert any(" left of " in s["sent"] for r in refs for s in r["sentences"])
    assert len({s["lang"] for r in refs for s in r["sentences"]}) > 3

    caps = world / "benchmarks" / "captions"
    karpathy = json.loads((caps / "dataset_coco.json").read_text(encoding="utf-8"))
    assert all(len(im["sentences"]) >= 4 and im["split"] == "test" for im in karpathy["images"])
    for line in (caps / "captions.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        assert rec["en"]["caption"] and rec[rec["image/locale"]]["caption"]
        assert (caps / "images" / f"{rec['image/key']}.jpg").is_file()


# ------------------------------------------------------------------------- training shards


def test_training_shards_carry_every_target_and_never_share_pictures(world: Path) -> None:
    report = ReadReport()
    samples = list(read_shards(world / "scenes", report, check_images=True))
    assert report.problem_total == 0 and len(samples) == resolve_size("tiny").scenes
    for s in samples[:50]:
        m = s.meta
        assert set(GROUPS) <= set(m) and m["language"] in LANGUAGES
        assert s.image().size == (SCENE_SIZE, SCENE_SIZE)
        assert (
            set(m["captions"]) == {m["language"], "en"}
            and s.caption == m["captions"][m["language"]][0]
        )
        assert m["objects"] and all(len(q["answers"]) == 10 for q in m["qa"])
        for o in m["objects"]:
            mask = decode_rle(o["segmentation"])
            assert mask.sum() == o["area"] and o["category_id"] >= 1
        assert {r["lang"] for r in m["refs"]} == set(m["captions"])
    bench_images = {
        p.read_bytes() for p in (world / "benchmarks" / "coco_det" / "val2017").iterdir()
    }
    assert not bench_images & {s.image_bytes for s in samples}
    countries = Counter(s.meta["country"] for s in samples)
    assert len(countries) > len(COUNTRIES) // 2


# ------------------------------------------------------------------ the loaders on the world


def test_the_worlds_generative_sets_load_through_the_real_loaders(world: Path) -> None:
    det = load_benchmark("world/coco_det", world)
    assert det.tasks == ("detection",) and det.classnames == [c["name"] for c in CATEGORIES]
    assert len(det) == resolve_size("tiny").scene_benchmarks and det.report.problem_total == 0
    assert det.group_keys == ("income_bucket", "region", "country")
    assert COCO(det.index_files[0]).getImgIds()
    vqa = load_benchmark("world/vqa", world)
    assert vqa.tasks == ("vqa",) and {q.lang for r in vqa.records for q in r.annotations["qa"]} > {
        "en"
    }
    ref = load_benchmark("world/refcoco", world)
    r0 = ref.records[0].annotations["refs"][0]
    assert ref.tasks == ("referring_segmentation",) and decode_rle(r0.segmentation).any()
    caps = load_benchmark("world/captions", world)
    assert caps.tasks == ("captioning",) and all("en" in r.captions for r in caps.records)
    assert any(len(r.captions) == 2 for r in caps.records)
    en = load_benchmark("world/coco_captions", world)
    assert en.tasks == ("captioning",) and len(en) == len(caps)
    for b in (det, vqa, ref, caps, en):
        assert all(r.meta["income_bucket"] and r.meta["region"] for r in b.records), b.name
        with Image.open(b.records[0].path) as im:
            assert im.size == (SCENE_SIZE, SCENE_SIZE)
