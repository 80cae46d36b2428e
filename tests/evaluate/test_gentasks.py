"""Generative tasks through the Generator protocol: an oracle scores perfectly, a hostile
model is scored (not crashed on), generation is cached and batched like per-sample calls."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from gen_factory import HostileGenerator, OracleGenerator, make_benchmark

from globelens.evaluate.generate import DecodeSettings, GenerationCache, Request, run_generation
from globelens.evaluate.suite import Caches, SuiteOptions, evaluate_model_on_benchmark
from globelens.evaluate.tasks import tasks_for
from globelens.models import tasklang

GEN_TASKS = [
    "captioning",
    "vqa",
    "detection",
    "referring_segmentation",
    "classification_by_generation",
]


def _opts(**kw) -> SuiteOptions:
    return SuiteOptions(n_bootstrap=kw.pop("n_bootstrap", 50), progress=False, **kw)


def _run(model, bench, tmp_path: Path, tasks=GEN_TASKS, **kw):
    caches = Caches.from_option(str(tmp_path / "cache"))
    out = evaluate_model_on_benchmark(model, bench, tasks, _opts(**kw), caches)
    return {r["task"]: r for r in out}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory):
    return make_benchmark(tmp_path_factory.mktemp("scenes"))


@pytest.fixture(scope="module")
def codec():
    import torch

    from globelens.models.maskcodec import MaskCodec, MaskCodecConfig

    torch.manual_seed(0)
    return MaskCodec(MaskCodecConfig(dims=(4, 8, 8, 16), embed_dim=8))  # small: fast on CPU


def test_registry_picks_tasks_by_protocol(bench) -> None:
    assert tasks_for(bench, "generator") == [
        "captioning",
        "vqa",
        "detection",
        "referring_segmentation",
    ]
    assert tasks_for(bench, "dual_encoder") == []
    # A generator asked for zero-shot classification runs classification by generation.
    bench.tasks, old = ("zeroshot_classification", "fewshot_geolocalization"), bench.tasks
    try:
        assert tasks_for(bench, "generator") == ["classification_by_generation"]
        assert tasks_for(bench, "dual_encoder") == list(bench.tasks)
        # ... and captions per language on a retrieval set (XM3600).
        bench.tasks = ("zeroshot_retrieval",)
        assert tasks_for(bench, "generator") == ["captioning"]
    finally:
        bench.tasks = old


def test_oracle_scores_perfectly_with_groups(bench, codec, tmp_path: Path) -> None:
    model = OracleGenerator(bench, codec)
    res = _run(model, bench, tmp_path)
    cap = res["captioning"]
    assert set(cap["languages"]) == {"en", "fr"} and cap["metrics"]["CIDEr"] > 1.0
    by_lang = cap["groups"]["language"]["groups"]
    assert by_lang.keys() == {"en", "fr"}
    for lang, corpus in cap["languages"].items():  # a language group is its corpus CIDEr
        assert by_lang[lang]["CIDEr"] == pytest.approx(corpus["CIDEr"])
    vqa = res["vqa"]["metrics"]
    assert vqa["vqa_acc"] == 1.0 and vqa["vqa_acc_number"] == 1.0 and vqa["vqa_acc_yesno"] == 1.0
    det = res["detection"]
    assert det["metrics"]["AP50"] == pytest.approx(1.0) and det["metrics"]["mAP"] > 0.85
    assert det["invalid"] == {} and "log-probability" in det["score_source"]
    seg = res["referring_segmentation"]
    assert seg["metrics"]["boxacc@0.5"] == 1.0 and seg["invalid"]["count"] == 0
    assert 0.0 <= seg["metrics"]["miou"] <= 1.0  # random codec: masks are what it decodes
    cls = res["classification_by_generation"]["metrics"]
    assert cls["acc1"] == 1.0 and cls["unmatched_rate"] == 0.0
    for r in res.values():
        g = r["groups"]["income_bucket"]
        assert set(g["groups"]) == {"$0-200", "$201-684", "$685-1997", "$1998+"}
        assert "disparity" in r["metrics"] and r["ci95"]
        assert {"region", "country"} <= set(r["groups"])
        assert r["examples"] and r["examples"][0]["thumbnail"].startswith("data:image/jpeg")
        json.dumps(r, allow_nan=True)  # the result is JSON


def test_hostile_model_is_scored_not_crashed_on(bench, tmp_path: Path) -> None:
    model = HostileGenerator()
    res = _run(model, bench, tmp_path, gen_batch_size=4)
    assert set(res) == set(GEN_TASKS)
    det = res["detection"]
    assert det["invalid"] and det["metrics"]["mAP"] < 0.2
    # the batch the model failed on is counted, not lost
    assert any(r["skipped"].get("generation_error") for r in res.values())
    seg = res["referring_segmentation"]
    assert seg["invalid"]["count"] > 0 and seg["metrics"]["miou"] != seg["metrics"]["miou"]
    assert res["vqa"]["metrics"]["vqa_acc"] < 0.5
    assert not math.isnan(res["captioning"]["metrics"]["CIDEr"])


def test_generation_is_cached_by_model_data_prompt_and_settings(bench, tmp_path: Path) -> None:
    model = OracleGenerator(bench)
    cache = GenerationCache(tmp_path / "gen")
    reqs = [Request(i, "caption en") for i in range(len(bench.records))]
    first = run_generation(model, bench, reqs, DecodeSettings(), cache, batch_size=5)
    calls = model.calls
    assert first.generated == len(reqs) and calls == 3  # 12 requests in chunks of >= 5
    again = run_generation(model, bench, reqs, DecodeSettings(), cache, batch_size=5)
    assert again.cached == len(reqs) and model.calls == calls
    assert [a.text for a in again.answers] == [a.text for a in first.answers]
    more = [*reqs, Request(0, "caption fr")]  # one new prompt: only it is generated
    third = run_generation(model, bench, more, DecodeSettings(), cache, batch_size=5)
    assert third.generated == 1 and third.cached == len(reqs)
    other = run_generation(model, bench, reqs, DecodeSettings(max_new_tokens=8), cache)
    assert other.generated == len(reqs)  # other decode settings: other entries
    model.fingerprint = "live"  # an in-training model: never served from the cache
    live = run_generation(model, bench, reqs, DecodeSettings(), cache)
    assert live.generated == len(reqs)


def test_tiny_paligemma_batched_equals_one_call_per_sample(bench, tmp_path: Path) -> None:
    from vlm_factory import tiny_paligemma_dir

    from globelens.models.paligemma import load_generator

    model = load_generator(tiny_paligemma_dir(tmp_path / "pg"))
    reqs = [Request(i, p) for i in range(2) for p in ("caption en", "detect stove ; lamp")]
    settings = DecodeSettings(max_new_tokens=4)
    batched = run_generation(model, bench, reqs, settings, batch_size=4)
    single = run_generation(model, bench, reqs, settings, batch_size=1)
    assert [a.text for a in batched.answers] == [a.text for a in single.answers]
    assert all(a.size == (64, 48) and a.n_tokens >= 1 for a in batched.answers)


def test_detection_map_equals_pycocotools_on_the_instances_file(tiny_world: Path, tmp_path) -> None:
    """The task's mAP (ground truth from Record.annotations) equals pycocotools run on the
    world's own instances JSON with the same detections."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from globelens.evaluate import load_benchmark
    from globelens.models import tasklang

    bench = load_benchmark("world/coco_det", tiny_world)
    model = OracleGenerator(bench, jitter=0.04)
    res = _run(model, bench, tmp_path, tasks=["detection"], n_bootstrap=0)["detection"]
    prompt = tasklang.detect(bench.classnames)
    dets = []
    for r in bench.records:
        from PIL import Image

        im = Image.open(r.path).convert("RGB")
        gen = model.generate([im], [prompt])[0]
        ids = {o.label: o.category_id for rr in bench.records for o in rr.annotations["objects"]}
        for o in tasklang.parse(prompt, gen.text, *im.size, score=gen.logprob).objects:
            x0, y0, x1, y1 = o.box
            dets.append({"image_id": int(r.id), "category_id": ids[o.label],
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "score": o.score})  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(bench.index_files[0])
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert 0.1 < ev.stats[0] < 0.95, ev.stats  # a non-trivial detector
    assert res["metrics"]["mAP"] == pytest.approx(ev.stats[0], abs=1e-12)
    assert res["metrics"]["AP50"] == pytest.approx(ev.stats[1], abs=1e-12)


def test_detection_classes_per_prompt_asks_in_chunks(bench, tmp_path: Path) -> None:
    """``classes_per_prompt`` splits the classes over several prompts per picture; an exact
    detector scores the same either way."""

    class Counting(OracleGenerator):
        def generate(self, images, prompts, **kw):
            self.prompts = [*getattr(self, "prompts", []), *prompts]
            return super().generate(images, prompts, **kw)

    whole = _run(OracleGenerator(bench), bench, tmp_path / "a", tasks=["detection"])
    model = Counting(bench)
    chunked = _run(model, bench, tmp_path / "b", tasks=["detection"],
                   task_options={"classes_per_prompt": 2})  # fmt: skip
    per_picture = math.ceil(len(bench.classnames) / 2)
    assert len(model.prompts) == per_picture * len(bench.records)
    assert all(len(tasklang.parse_prompt(p).labels) <= 2 for p in model.prompts)
    assert chunked["detection"]["metrics"]["mAP"] == whole["detection"]["metrics"]["mAP"] > 0.9


def test_model_kind_comes_from_config_model_type(tmp_path: Path) -> None:
    from globelens.evaluate.suite import load_model

    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "llama"}))
    for name in ("model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        (d / name).write_bytes(b"{}")
    with pytest.raises(ValueError, match=r"model_type 'llama' is not supported.*paligemma"):
        load_model(d)


def test_segmentation_scores_the_union_of_each_class_masks(bench, tmp_path: Path) -> None:
    """``segment {class}`` per class of each picture: an oracle whose codec fills each box
    (the pictures' masks are their boxes) scores an IoU of about 1; a model without a codec
    is refused with a message, not scored 0."""
    import torch

    from globelens.models.maskcodec import MaskCodec, MaskCodecConfig

    codec = MaskCodec(MaskCodecConfig(dims=(4, 8, 8, 16), embed_dim=8))
    with torch.no_grad():
        codec.decoder[-1].weight.zero_()
        codec.decoder[-1].bias.fill_(1.0)
    res = _run(OracleGenerator(bench, codec=codec), bench, tmp_path, ["segmentation"])
    seg = res["segmentation"]
    pairs = sum(len({o.label for o in r.annotations["objects"]}) for r in bench.records)
    assert seg["task"] == "segmentation" and seg["n_evaluated"] == pairs
    assert seg["metrics"]["miou"] > 0.9 and seg["invalid"] == {}
    assert "income_bucket" in seg["groups"]
    with pytest.raises(ValueError, match="mask codec"):
        _run(OracleGenerator(bench), bench, tmp_path, ["segmentation"])


def test_question_generation_matches_the_pictures_questions(bench, tmp_path: Path) -> None:
    res = _run(OracleGenerator(bench), bench, tmp_path, ["question_generation"])
    q = res["question_generation"]
    assert q["task"] == "question_generation" and q["n_evaluated"] == 2 * len(bench.records)
    assert q["metrics"]["exact_match"] == 1.0 and "income_bucket" in q["groups"]
    hostile = _run(HostileGenerator(), bench, tmp_path, ["question_generation"])
    assert hostile["question_generation"]["metrics"]["exact_match"] == 0.0
