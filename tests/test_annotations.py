"""The typed annotation record: what a malformed scene says (file and key), and how each
reader counts it instead of crashing: the trainer's data path and the benchmark loaders."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pytest

from globelens.data import Sample, ShardWriter
from globelens.data.annotations import AnnotationError, Annotations
from globelens.data.index import ShardFiles
from globelens.evaluate.datasets import load_benchmark
from globelens.train.config import SourceConfig
from globelens.train.data import BatchDataset, SampleError, SourceStream
from globelens.train.generative import VLMCollator
from globelens.train.targets import TargetContext, build_target
from shard_factory import jpeg

GOOD = {
    "captions": {"en": ["a lamp"], "sw": "taa"},  # one caption or a list of them
    "objects": [{"label": "lamp", "bbox": [1, 2, 10, 12], "category_id": 3, "area": 120}],
    "qa": [{"question": "what is this?", "answers": ["lamp"], "multiple_choice_answer": "lamp"}],
    "refs": [{"sent": "the lamp", "bbox": [1, 2, 10, 12], "ref_id": 7}],
    "country": "Kenya",  # group metadata is not an annotation
}


def test_the_record_types_what_scenes_carry_and_names_what_is_wrong() -> None:
    ann = Annotations.from_json(GOOD, "a.tar:k.json")
    assert ann.captions == {"en": ("a lamp",), "sw": ("taa",)}
    assert ann.objects[0].bbox == (1.0, 2.0, 10.0, 12.0) and ann.objects[0].area == 120
    assert ann.qa[0].lang == "en" and ann.refs[0].ref_id == 7  # a writer's own keys are kept
    assert Annotations.from_json({}) == Annotations()
    bad = {**GOOD, "objects": [GOOD["objects"][0], {"label": "bed", "bbox": [1, 2, 3]}]}
    with pytest.raises(AnnotationError, match=r"a.tar:k.json: annotation objects\[1\].bbox"):
        Annotations.from_json(bad, "a.tar:k.json")
    with pytest.raises(AnnotationError, match=r"qa\[0\].question"):
        Annotations.from_json({"qa": [{"answers": ["x"]}]})
    with pytest.raises(SampleError, match="bad_annotation"):
        build_target("detect", bad, TargetContext(64, 64), random.Random(0))


def test_the_trainer_counts_a_malformed_scene_and_logs_where(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ShardWriter(tmp_path, maxcount=10) as writer:
        for i, meta in enumerate([GOOD, {**GOOD, "objects": [{"bbox": [1, 2, 3, 4]}]}]):
            writer.write(Sample(key=f"{i:04d}", image_bytes=jpeg(), caption=None, meta=meta))
    ds = BatchDataset.__new__(BatchDataset)
    ds.streams = {"w": SourceStream(SourceConfig("w", str(tmp_path)), 0, 0)}
    ds._files = ShardFiles()
    collator = VLMCollator.__new__(VLMCollator)
    good, bad = ds.streams["w"].take(0, 2)
    if good.key != "0000":
        good, bad = bad, good
    assert collator.read(ds, "w", good)[1].objects[0].label == "lamp"
    with caplog.at_level(logging.WARNING), pytest.raises(SampleError, match="bad_annotation"):
        collator.read(ds, "w", bad)
    [record] = [json.loads(r.message) for r in caplog.records]
    assert record["event"] == "bad_annotation" and record["file"].endswith("0001.json")
    assert record["key"] == "objects[0].label" and record["problem"] == "Field required"
    ds._files.close()


def test_a_loader_reports_a_malformed_entry_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "val2017").mkdir()
    (tmp_path / "val2017" / "1.jpg").write_bytes(jpeg())
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10]},
    ]
    doc = {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 64, "height": 48}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "lamp"}],
    }
    (tmp_path / "instances_val2017.json").write_text(json.dumps(doc))
    bench = load_benchmark(f"coco_det:{tmp_path}")
    [obj] = bench.records[0].annotations["objects"]
    assert obj.bbox == (2.0, 2.0, 10.0, 10.0)
    [problem] = bench.report.problems
    assert problem.reason == "bad_annotation" and "annotations[2].bbox" in problem.detail
