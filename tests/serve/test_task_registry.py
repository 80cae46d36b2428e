"""Adding a generative task is one module plus one registry call: a small ``count`` task,
registered here, is a ``train-vlm --task`` kind (a short real run), a ``globelens eval`` task
(a real run on a COCO folder), a prompt ``ask`` types, and one the server's chat route reads
(a real server on loopback). It is unregistered afterwards."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serve_factory import data_uri, picture, running
from typer.testing import CliRunner
from vlm_factory import tiny_paligemma_dir

import globelens.tasks as registry
from globelens.cli.main import app
from globelens.data.annotations import Annotations
from globelens.evaluate.generate import DecodeSettings, Request
from globelens.evaluate.tasks import TASKS as EVAL_TASKS
from globelens.evaluate.tasks import gencommon as G
from globelens.models import tasklang
from globelens.serve import ServeConfig
from globelens.tasks import GenerativeTask, TargetContext
from globelens.train.data import SampleError

runner = CliRunner()

# -- the new task: what a module of globelens/tasks/ would hold -------------------------------


def count_target(ann: Annotations, ctx: TargetContext, rng: random.Random) -> tuple[str, str]:
    """``count {label}`` -> how many objects of that label the scene has."""
    counts = Counter(o.label for o in ann.objects if o.label.strip())
    if not counts:
        raise SampleError("no_objects")
    label = sorted(counts)[rng.randrange(len(counts))]
    return f"count {label}", str(counts[label])


def count_run(ctx: Any) -> list[dict[str, Any]]:
    """Exact-match accuracy of the count of each class of each picture."""
    requests, truth = [], []
    for i, r in enumerate(ctx.bench.records):
        for label, n in sorted(Counter(o.label for o in r.annotations["objects"]).items()):
            requests.append(Request(i, f"count {label}"))
            truth.append(str(n))
    gen = ctx.generate(requests, DecodeSettings.from_options(ctx.options, max_new_tokens=4))
    said = [
        tasklang.parse(req.prompt, a.text or "", 1, 1).answer or ""
        for req, a in zip(requests, gen.answers, strict=True)
    ]
    acc = np.array([s == t for s, t in zip(said, truth, strict=True)], float)
    metas = [ctx.bench.records[r.index].meta for r in requests]
    summary = G.summarize({"count_acc": acc}, "count_acc", metas, [], 0, ctx.seed)
    return [{**summary, "task": "counting", "language": "en", "n_evaluated": len(acc)}]


COUNT = GenerativeTask(
    name="count",
    target=count_target,
    evaluate=count_run,
    eval_name="counting",
    metrics=("count_acc",),
    requires=lambda bench: any(r.annotations.get("objects") for r in bench.records),
    needs="object labels",
    read_prompt=tasklang.read_labels("count"),
)

# -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def count_task():
    registry.register_task(COUNT)  # the one registry line
    yield COUNT
    registry.unregister_task("count")
    assert "count" not in tasklang.verbs() and "counting" not in EVAL_TASKS


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_paligemma_dir(tmp_path_factory.mktemp("pg"))


def _coco(root: Path) -> Path:
    """A COCO detection folder: two pictures, three stoves and a lamp."""
    (root / "val2017").mkdir(parents=True)
    images, anns = [], []
    for iid, boxes in ((1, [[2, 2, 10, 10], [20, 20, 8, 8]]), (2, [[4, 4, 12, 12]])):
        (root / "val2017" / f"{iid}.png").write_bytes(picture(48, 40, seed=iid))
        images.append({"id": iid, "file_name": f"{iid}.png", "width": 48, "height": 40})
        for b in boxes:
            anns.append({"id": len(anns) + 1, "image_id": iid, "category_id": 1, "bbox": b})
    anns.append({"id": 9, "image_id": 2, "category_id": 2, "bbox": [30, 5, 6, 6]})
    cats = [{"id": 1, "name": "stove"}, {"id": 2, "name": "lamp"}]
    (root / "annotations").mkdir()
    doc = {"images": images, "annotations": anns, "categories": cats}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(doc))
    return root


def test_a_registered_task_is_everywhere(count_task, generator: Path, tmp_path: Path) -> None:
    # the task language reads its prompts; a second task of the name is refused
    assert tasklang.parse_prompt("count stove").labels == ("stove",)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_task(COUNT)

    # train-vlm: a kind of the mixture, its targets built from real world scenes
    from globelens.world.config import WorldConfig
    from globelens.world.scene_sinks import SceneShardSink
    from globelens.world.scenes import plan_training_scene

    sink = SceneShardSink(tmp_path / "world", maxcount=8)
    for i in range(8):
        sink.add(plan_training_scene(0, i, WorldConfig()))
    sink.close()
    args = ["train-vlm", "--data", str(tmp_path / "world" / "scenes"), "--init-from"]
    args += [str(generator), "--steps", "1", "--batch-size", "4"]
    args += ["--out", str(tmp_path / "run"), "--quiet"]
    r = runner.invoke(app, [*args, "--task", "count"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    step = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert step["step"] == 1 and np.isfinite(step["loss"]) and not step["bad_samples"]
    r = runner.invoke(app, [*args, "--task", "tally"])
    assert (
        r.exit_code == 2 and "caption, answer, question, detect, segment, refer, count" in r.output
    )

    # globelens eval: an evaluator task under its result name and its own name
    out = tmp_path / "results"
    args = ["eval", "-m", str(generator), "-b", str(_coco(tmp_path / "coco")), "--tasks"]
    args += ["count", "--out", str(out), "--no-cache", "--bootstrap", "0"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    [result] = [json.loads(p.read_text()) for p in out.glob("*__counting.json")]
    assert result["task"] == "counting" and result["n_evaluated"] == 3
    assert 0.0 <= result["metrics"]["count_acc"] <= 1.0

    # ask: the prompt is typed as the new task
    pic = tmp_path / "pic.png"
    pic.write_bytes(picture(48, 40))
    r = runner.invoke(
        app, ["ask", str(generator), str(pic), "count stove", "--json", "--max-new-tokens", "4"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["task"] == "count"

    # the server's chat route
    with running([f"pg={generator}"], ServeConfig()) as (server, _):
        content = [
            {"type": "image_url", "image_url": {"url": data_uri(picture(48, 40))}},
            {"type": "text", "text": "count stove"},
        ]
        body = {"model": "pg", "messages": [{"role": "user", "content": content}], "max_tokens": 4}
        resp = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.json()["globelens"]["task"] == "count"
