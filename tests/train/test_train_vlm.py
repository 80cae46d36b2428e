"""The generative trainer on real world scenes: the suffix-only loss, targets in the task
language, resume after SIGKILL, LoRA, and the output in transformers and our Generator."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from globelens.models import tasklang
from globelens.train.config import task_from_spec, vlm_config_from_dict
from globelens.train.data import SampleError
from globelens.train.targets import TargetContext, build_target

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 training scenes of the embedded world (its real renderer and annotations)."""
    from globelens.world.config import WorldConfig
    from globelens.world.scene_sinks import SceneShardSink
    from globelens.world.scenes import plan_training_scene

    out = tmp_path_factory.mktemp("world")
    sink = SceneShardSink(out, maxcount=24)
    for i in range(48):
        sink.add(plan_training_scene(0, i, WorldConfig()))
    sink.close()
    return out / "scenes"


def _first_json(scenes: Path) -> dict:
    import tarfile

    with tarfile.open(sorted(scenes.glob("*.tar"))[0]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".json"))
        return json.loads(tar.extractfile(member).read())


def _config(out: Path, scenes: Path, **kw) -> dict:
    cfg = {
        "out": str(out),
        "steps": 4,
        "batch_size": 8,
        "seed": 1,
        "threads": 1,
        "log_every": 1,
        "progress": False,
        "data": {"sources": [{"name": "world", "pattern": str(scenes)}], "workers": 0},
        "tasks": [{"name": "caption"}, {"name": "answer"}, {"name": "detect"}],
        "model": {"tokenizer_vocab": 400},
        "optim": {"lr": 2e-3},
        "checkpoint": {"every": 0, "keep": 2},
    }
    for key, value in kw.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def test_targets_speak_the_task_language(scenes: Path) -> None:
    sample = _first_json(scenes)
    ctx = TargetContext(64, 64)
    rng = random.Random(0)
    prefix, suffix = build_target("detect", sample, ctx, rng)
    parsed = tasklang.parse(prefix, suffix, 64, 64)
    assert not parsed.invalid and len(parsed.objects) == len(sample["objects"])
    for obj in sample["objects"]:  # every box comes back within one loc bin
        x, y, w, h = obj["bbox"]
        got = min(
            parsed.objects,
            key=lambda o: sum(abs(a - b) for a, b in zip(o.box, (x, y, x + w, y + h), strict=True)),
        )
        assert got.label == obj["label"]
        assert (
            max(abs(a - b) for a, b in zip(got.box, (x, y, x + w, y + h), strict=True)) <= 64 / 1023
        )
    prefix, suffix = build_target("answer", sample, TargetContext(64, 64, ("en",)), rng)
    q = tasklang.parse_prompt(prefix)
    assert q.task == "answer" and q.lang == "en"
    assert any(
        qa["question"] == q.text and qa["multiple_choice_answer"] == suffix for qa in sample["qa"]
    )
    with pytest.raises(SampleError, match="no_captions"):
        build_target("caption", sample, TargetContext(64, 64, ("xx",)), rng)
    with pytest.raises(SampleError, match="no_objects"):
        build_target("detect", {**sample, "objects": []}, ctx, rng)
    with pytest.raises(SampleError, match="bad_box"):
        bad = {**sample, "objects": [{**sample["objects"][0], "bbox": [1, 2, -3, 4]}]}
        build_target("detect", bad, ctx, rng)
    assert task_from_spec("sw=caption@sw,en:3")[0].langs == ["sw", "en"]
    assert task_from_spec("detect:2") == (task_from_spec("detect")[0], 2.0)


def test_detect_prompts_may_list_absent_classes(scenes: Path, tmp_path: Path) -> None:
    """With negatives, a detect prompt also names classes the picture lacks (as an
    evaluation prompt over a benchmark's classes does); the answer names only what is there,
    in the prompt's order."""
    from globelens.train.generative import GenerativeObjective

    sample = _first_json(scenes)
    present = {o["label"] for o in sample["objects"]}
    classes = tuple(sorted(present | {"zebra", "kite", "anvil", "oboe", "yurt"}))
    ctx = TargetContext(64, 64, classes=classes, negatives=4)
    counts = set()
    for seed in range(40):
        prefix, suffix = build_target("detect", sample, ctx, random.Random(seed))
        asked = tasklang.parse_prompt(prefix).labels
        assert present <= set(asked) and set(asked) <= set(classes)
        counts.add(len(asked) - len(present))
        parsed = tasklang.parse(prefix, suffix, 64, 64)
        assert not parsed.invalid and {o.label for o in parsed.objects} == present
        order = [list(asked).index(o.label) for o in parsed.objects]
        assert order == sorted(order)
    assert counts == {0, 1, 2, 3, 4}
    # without negatives the prompt is the labels present, exactly as before
    prefix, _ = build_target("detect", sample, TargetContext(64, 64), random.Random(0))
    assert set(tasklang.parse_prompt(prefix).labels) == present
    spec = task_from_spec("det=detect+7:2")
    assert (spec[0].kind, spec[0].negatives, spec[1]) == ("detect", 7, 2.0)
    with pytest.raises(ValueError, match="whole number"):
        task_from_spec("detect+x")
    cfg = vlm_config_from_dict(
        _config(
            tmp_path / "run",
            scenes,
            tasks=[{"name": "caption", "negatives": 3}],
            model={"vision": str(tmp_path)},
        )
    )
    with pytest.raises(ValueError, match="negatives apply to detect"):
        GenerativeObjective(cfg, None)


def test_loss_falls_on_the_suffix_only(scenes: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    """Labels are -100 on the picture, <bos>, the prefix and its newline, and the padding;
    the loss over the kept positions equals transformers' own PaliGemma loss."""
    from globelens.train.generative import GenerativeObjective, SuffixLM
    from globelens.train.loop import Trainer

    cfg = vlm_config_from_dict(
        _config(tmp_path / "run", scenes, model={"vision": str(tiny_model_dir)})
    )
    trainer = Trainer(cfg, objective=GenerativeObjective)
    mb = trainer.make_loader().dataset.load(0, 0)
    tok = trainer.objective.processor.tokenizer
    seq = trainer.objective.processor.image_processor.image_seq_length
    ids, labels, types = mb["input_ids"], mb["labels"], mb["token_type_ids"]
    assert labels.shape == ids.shape and ids.shape[0] == 8
    newline = tok.convert_tokens_to_ids("\n")
    for row in range(ids.shape[0]):
        real = mb["attention_mask"][row].bool()
        assert (ids[row, :seq] == trainer.hf_model.config.image_token_id).all()
        assert ids[row, seq] == tok.bos_token_id
        suffix = types[row].bool() & real
        start = int(suffix.nonzero()[0])
        assert ids[row, start - 1] == newline  # the prefix ends with its newline...
        assert (labels[row, :start] == -100).all()  # ...and nothing up to there is a target
        assert (labels[row][suffix] == ids[row][suffix]).all()
        assert (labels[row][~real] == -100).all()  # padding (right) is no target either
        assert ids[row][suffix][-1] == tok.eos_token_id
        text = tok.decode(ids[row][suffix][:-1])
        prefix = tok.decode(ids[row, seq + 1 : start - 1])
        assert tasklang.parse_prompt(prefix).task in ("caption", "answer", "detect")
        assert text.strip()
    model = trainer.hf_model.eval()
    with torch.no_grad():
        logits, targets = SuffixLM(model)(
            ids, mb["attention_mask"], types, mb["pixel_values"], labels
        )
        ours = torch.nn.functional.cross_entropy(logits, targets)
        theirs = model(
            input_ids=ids,
            attention_mask=mb["attention_mask"],
            token_type_ids=types,
            pixel_values=mb["pixel_values"],
            labels=labels,
        ).loss
    assert targets.numel() == int((labels != -100).sum())
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_length_groups_give_the_one_batch_loss_and_gradient(
    scenes: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Rows run in groups of similar length, each cut to its own longest row: the summed
    loss and every gradient are those of the one padded batch, with fewer tokens computed."""
    from globelens.train.generative import GenerativeObjective, SuffixLM
    from globelens.train.loop import Trainer

    cfg = vlm_config_from_dict(
        _config(tmp_path / "run", scenes, model={"vision": str(tiny_model_dir)})
    )
    trainer = Trainer(cfg, objective=GenerativeObjective)
    mb = trainer.make_loader().dataset.load(0, 0)
    lengths = mb["attention_mask"].sum(1)
    assert lengths.min() < lengths.max()  # a mixed batch, padded to its longest row
    model = trainer.hf_model.train()
    keys = ("input_ids", "attention_mask", "token_type_ids", "pixel_values", "labels")
    losses, grads = [], []
    for groups in (1, 3):
        model.zero_grad()
        logits, targets = SuffixLM(model, groups)(*(mb[k] for k in keys))
        loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
        loss.backward()
        losses.append(float(loss.detach()))
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name, g in grads[0].items():
        assert torch.allclose(g, grads[1][name], atol=1e-5, rtol=1e-4), name


def _cli(cfg: dict, *extra: str) -> subprocess.Popen:
    cfg_path = Path(cfg["out"] + ".toml")
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(_toml(cfg))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "globelens",
            "train-vlm",
            "--config",
            str(cfg_path),
            "--quiet",
            *extra,
        ],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _toml(cfg: dict, prefix: str = "") -> str:
    """A minimal TOML writer for the nested test config (tables, arrays of tables)."""

    def is_tables(v: object) -> bool:
        return isinstance(v, list) and bool(v) and isinstance(v[0], dict)

    lines = [
        f"{k} = {json.dumps(v)}"
        for k, v in cfg.items()
        if not isinstance(v, dict) and not is_tables(v) and v is not None
    ]
    for k, v in cfg.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            lines += [f"[{name}]", _toml(v, f"{name}.")]
        elif is_tables(v):
            for item in v:
                lines += [f"[[{name}]]", _toml(item, f"{name}.")]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory, scenes: Path, tiny_model_dir: Path):
    """The same run twice through the CLI: once straight, once killed (SIGKILL) after its
    first checkpoint and resumed."""
    root = tmp_path_factory.mktemp("vlm_resume")
    kw = dict(
        model={"vision": str(tiny_model_dir), "tokenizer_vocab": 400},
        optim={"lr": 2e-3, "accum_steps": 2},
        data={"sources": [{"name": "world", "pattern": str(scenes)}], "workers": 1},
        checkpoint={"every": 1, "keep": 2},
        steps=5,
    )
    full = _cli(_config(root / "full", scenes, **kw))
    killed_cfg = _config(root / "killed", scenes, **kw)
    proc = _cli(killed_cfg)
    ckpts = root / "killed" / "checkpoints"
    deadline = time.time() + 300  # a loaded machine
    while not (ckpts.is_dir() and any(p.name.startswith("step_") for p in ckpts.iterdir())):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.5))  # a random moment, possibly mid-save
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    again = _cli(killed_cfg, "--resume")
    assert again.wait(timeout=400) == 0, again.stderr.read().decode()
    assert full.wait(timeout=400) == 0, full.stderr.read().decode()
    return root


def test_sigkill_and_resume_is_bit_identical(resumed: Path) -> None:
    a = (resumed / "full" / "model" / "model.safetensors").read_bytes()
    b = (resumed / "killed" / "model" / "model.safetensors").read_bytes()
    assert a == b
    lines = [json.loads(x) for x in (resumed / "killed" / "metrics.jsonl").open()]
    steps = [x["step"] for x in lines]
    assert steps == sorted(steps) and steps[-1] == 5 and len(steps) == len(set(steps))
    assert all(x["target_tokens"] > 0 for x in lines)


def test_output_agrees_across_transformers_pipeline_and_generator(resumed: Path) -> None:
    """Greedy answers of the trained directory: AutoModelForImageTextToText.generate,
    pipeline("image-text-to-text") and globelens' Generator say the same."""
    from transformers import AutoModelForImageTextToText, AutoProcessor, pipeline

    from globelens.models.paligemma import load_generator

    model_dir = resumed / "full" / "model"
    image = Image.new("RGB", (64, 64), (200, 40, 40))
    prompts = ["caption en", "detect lamp ; bed", "answer en what is this?"]
    proc = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    gen = load_generator(model_dir)
    pipe = pipeline("image-text-to-text", model=str(model_dir))
    ours = gen.generate([image] * len(prompts), prompts, max_new_tokens=12)
    for prompt, g in zip(prompts, ours, strict=True):
        enc = proc(images=[image], text=["<image>" + prompt], return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=12, do_sample=False)
        direct = proc.tokenizer.decode(
            out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
        assert g.text == direct
        piped = pipe(
            images=image, text="<image>" + prompt, max_new_tokens=12, return_full_text=False
        )
        assert piped[0]["generated_text"] == direct


def test_lora_fine_tune_saves_and_reloads(scenes: Path, tmp_path: Path) -> None:
    """LoRA on an existing PaliGemma: only adapters train; the checkpoint is the adapter,
    resuming from it continues bit for bit, and the output is a merged PaliGemma dir."""
    from safetensors.torch import load_file
    from vlm_factory import tiny_paligemma_dir

    from globelens.train.generative import GenerativeObjective
    from globelens.train.loop import Trainer, train

    base = tiny_paligemma_dir(tmp_path / "base")
    kw = dict(
        model={"init_from": str(base), "lora_rank": 4, "freeze_vision": True},
        checkpoint={"every": 2, "keep": 3},
        eval={"data": str(scenes), "every": 2, "max_images": 2, "max_new_tokens": 8},
        steps=4,
        batch_size=4,
    )
    cfg = vlm_config_from_dict(_config(tmp_path / "lora", scenes, **kw))
    trainer = Trainer(cfg, objective=GenerativeObjective)
    trainable = [n for n, p in trainer.hf_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)
    model_dir = trainer.run()
    ckpt = tmp_path / "lora" / "checkpoints" / "step_000002"
    assert (ckpt / "adapter_model.safetensors").is_file() and not (
        ckpt / "model.safetensors"
    ).exists()
    merged, original = (
        load_file(model_dir / "model.safetensors"),
        load_file(base / "model.safetensors"),
    )
    changed = {k for k in original if not torch.equal(merged[k], original[k])}
    assert changed and all("language_model" in k and "_proj" in k for k in changed)
    logged = [json.loads(x) for x in (tmp_path / "lora" / "metrics.jsonl").open()]
    evals = [x for x in logged if "eval/detection/mAP" in x]
    assert [x["step"] for x in evals] == [2, 4]  # during training and at the end
    summary = json.loads((tmp_path / "lora" / "summary.json").read_text())
    assert "eval/vqa/vqa_acc" in summary and "eval/captioning/CIDEr" in summary
    # resume from the step-2 adapter: the same merged weights as the uninterrupted run
    first = (model_dir / "model.safetensors").read_bytes()
    shutil.rmtree(tmp_path / "lora" / "checkpoints" / "step_000004")
    again = train(cfg, resume=True, objective=GenerativeObjective)
    assert (again / "model.safetensors").read_bytes() == first
    from globelens.models.paligemma import load_generator

    out = load_generator(again).generate(
        [Image.new("RGB", (48, 48))], ["caption en"], max_new_tokens=4
    )
    assert len(out) == 1


def test_freezing_leaves_the_frozen_part_out_of_the_optimizer(
    scenes: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from globelens.train.generative import GenerativeObjective
    from globelens.train.loop import Trainer

    model = {"vision": str(tiny_model_dir), "freeze_vision": True, "tokenizer_vocab": 400}
    trainer = Trainer(
        vlm_config_from_dict(_config(tmp_path / "f", scenes, model=model)),
        objective=GenerativeObjective,
    )
    optimised = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    for name, p in trainer.hf_model.named_parameters():
        assert (id(p) in optimised) == ("vision_tower" not in name), name


def test_config_errors_are_clear(scenes: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from globelens.train.generative import GenerativeObjective
    from globelens.train.loop import Trainer

    def make(**kw):
        return Trainer(
            vlm_config_from_dict(_config(tmp_path / "x", scenes, **kw)),
            objective=GenerativeObjective,
        )

    with pytest.raises(ValueError, match="exactly one of"):
        make()
    with pytest.raises(ValueError, match="need a mask codec"):
        make(model={"vision": str(tiny_model_dir)}, tasks=[{"name": "segment"}])
    with pytest.raises(ValueError, match="unknown kind"):
        make(model={"vision": str(tiny_model_dir)}, tasks=[{"name": "colour"}])
    with pytest.raises(ValueError, match="lives under a data root"):
        make(model={"vision": str(tiny_model_dir)}, eval={"data": "world/vqa"})
    with pytest.raises(ValueError, match="unknown source"):
        make(
            model={"vision": str(tiny_model_dir)},
            tasks=[{"name": "caption", "source": "nope"}],
        )


DDP_SCRIPT = (
    "import json, sys\n"
    "from globelens.train.config import vlm_config_from_dict\n"
    "from globelens.train.generative import GenerativeObjective\n"
    "from globelens.train.loop import train\n"
    "train(vlm_config_from_dict(json.loads(sys.argv[1])), objective=GenerativeObjective)\n"
)


@pytest.mark.slow
def test_torchrun_two_ranks_match_one_process(
    scenes: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Two ranks (gloo) with half the batch each, and accumulation in one process, make the
    same update: the loss is normalised by the step's target tokens over all ranks."""
    from safetensors.torch import load_file

    kw = dict(model={"vision": str(tiny_model_dir), "tokenizer_vocab": 400}, steps=3)
    single = _config(tmp_path / "single", scenes, optim={"lr": 2e-3, "accum_steps": 2}, **kw)
    subprocess.run(
        [sys.executable, "-c", DDP_SCRIPT, json.dumps(single)],
        env=ENV,
        check=True,
        capture_output=True,
    )
    ddp = _config(tmp_path / "ddp", scenes, **kw)
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
    ]
    run = subprocess.run(
        [*launch, "--no-python", sys.executable, "-c", DDP_SCRIPT, json.dumps(ddp)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    a = load_file(tmp_path / "single/model/model.safetensors")
    b = load_file(tmp_path / "ddp/model/model.safetensors")
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-4, f"DDP weights differ from single-process by {worst}"
    init = load_file(tmp_path / "single/init/model.safetensors")
    assert max((a[k] - init[k]).abs().max().item() for k in a) > 1e-3  # it did train


@pytest.mark.slow
def test_act_two_ranks_in_the_worker_pool_match_one_process(
    scenes: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The demo's data-parallel training: a model's ranks run as jobs of the study's worker
    pool (gloo on a free local port) and make the weights of one process with accumulation.
    The one-process job runs first in the same two-worker pool, so a rank also waits for its
    partner to start."""
    from safetensors.torch import load_file

    from globelens.experiments.generative_act import _free_port, _train_vlm_one
    from globelens.experiments.scheduler import Job, run_jobs
    from globelens.train.config import vlm_config_from_dict

    kw = dict(model={"vision": str(tiny_model_dir), "tokenizer_vocab": 400}, steps=3)
    single = _config(tmp_path / "single", scenes, optim={"lr": 2e-3, "accum_steps": 2}, **kw)
    ddp = vlm_config_from_dict(_config(tmp_path / "ddp", scenes, **kw))
    port = _free_port()
    jobs = [
        Job("one", (vlm_config_from_dict(single),)),
        *(Job(f"rank{r}", (ddp, r, 2, port)) for r in range(2)),
    ]
    run_jobs(jobs, _train_vlm_one, 2)
    a = load_file(tmp_path / "single/model/model.safetensors")
    b = load_file(tmp_path / "ddp/model/model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4
    init = load_file(tmp_path / "single/init/model.safetensors")
    assert max((a[k] - init[k]).abs().max().item() for k in a) > 1e-3  # it did train


def test_held_out_numbers_are_globelens_eval_numbers(scenes: Path, tmp_path: Path) -> None:
    """In-training evaluation is the evaluator's: a short run's held-out numbers (every task
    of the mixture, masks through the model's codec) equal ``run_suite``'s on the saved model
    and the same pictures, metric for metric and under the same names."""
    from vlm_factory import tiny_paligemma_dir

    from globelens.evaluate.suite import SuiteOptions, run_suite
    from globelens.models.maskcodec import MaskCodec
    from globelens.models.maskcodec_train import SMALL
    from globelens.train.generative import GenerativeObjective
    from globelens.train.loop import train

    torch.manual_seed(0)
    base = tiny_paligemma_dir(tmp_path / "base", codec=MaskCodec(SMALL))
    tasks = [{"name": n} for n in ("caption", "answer", "detect", "refer")]
    kw = dict(
        tasks=tasks,
        model={"init_from": str(base)},
        eval={"data": str(scenes), "max_images": 3, "max_new_tokens": 10},
        steps=60,  # enough for some right answers: equal zeros would prove little
        optim={"lr": 2e-2},
    )
    cfg = vlm_config_from_dict(_config(tmp_path / "run", scenes, **kw))
    model_dir = train(cfg, objective=GenerativeObjective)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    logged = {k: v for k, v in summary.items() if k.startswith("eval/")}
    opts = SuiteOptions(
        limit=3, n_bootstrap=0, cache_dir="", progress=False, task_options={"max_new_tokens": 10}
    )
    results = run_suite([str(model_dir)], [f"scenes:{scenes}"], tmp_path / "eval", opts)
    offline = {}
    for r in results:
        offline.update({f"eval/{r['task']}/{k}": v for k, v in r["metrics"].items()})
        offline[f"eval/{r['task']}/n"] = r["n_evaluated"]
    results.sort(key=lambda r: r["task"])
    assert {r["task"] for r in results} == {
        "captioning", "vqa", "detection", "referring_segmentation"
    }  # fmt: skip
    assert {"eval/detection/mAP", "eval/vqa/vqa_acc", "eval/captioning/CIDEr"} <= logged.keys()
    assert "eval/referring_segmentation/miou" in logged
    assert logged["eval/vqa/vqa_acc"] > 0.1
    assert {k: v for k, v in logged.items() if k.count("/") == 2} == offline
    assert logged["eval/captioning/en/CIDEr"] == results[0]["languages"]["en"]["CIDEr"]


def test_held_out_benchmark_reads_patterns_and_names(
    scenes: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The held-out set: scene shards by folder or glob; training kinds map onto the
    registered tasks' evaluators; a set with nothing to score for the mixture
    fails at start, naming what it has; a model that fails every answer is logged, not a
    crash of the run."""
    from globelens.train.evaluation import HeldOutBenchmark

    kinds = ["caption", "answer", "question", "answer"]
    by_glob = HeldOutBenchmark(str(scenes / "*.tar"), kinds, max_images=5)
    by_folder = HeldOutBenchmark(f"scenes:{scenes}", kinds, max_images=5, max_new_tokens=7)
    assert by_glob.tasks == by_folder.tasks == ["captioning", "vqa", "question_generation"]
    assert [r.id for r in by_glob.bench.records] == [r.id for r in by_folder.bench.records]
    assert len(by_glob.bench.records) == 5 and by_glob.options.n_bootstrap == 0
    assert by_folder.options.task_options == {"max_new_tokens": 7}
    with pytest.raises(ValueError, match=r"nothing to score.*colour"):
        HeldOutBenchmark(str(scenes), ["colour"])

    class Broken:  # a model whose every generate call fails
        image_size, fingerprint = 48, "live"

        def generate(self, images, prompts, **kw):
            raise RuntimeError("out of memory")

    with caplog.at_level(logging.WARNING, logger="globelens.train"):
        assert by_glob.evaluate(Broken()) == {}
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "globelens.train"]
    assert [(e["event"], e["task"]) for e in events] == [
        ("eval_task_failed", "captioning"), ("eval_task_failed", "vqa"),
        ("eval_task_failed", "question_generation"),
    ]  # fmt: skip
    assert "generation_error" in events[0]["error"]


def test_scene_shards_read_as_a_benchmark(scenes: Path, tmp_path: Path) -> None:
    """``globelens eval`` reads a folder of scene shards (detected as ``scenes``) with every
    annotation; a sample carrying none is counted with its reason, not dropped silently."""
    from globelens.data import Sample, ShardWriter, encode_image
    from globelens.data.annotations import typed_items
    from globelens.evaluate.datasets import load_benchmark

    bench = load_benchmark(str(scenes))
    first = _first_json(scenes)
    assert bench.format == "scenes" and len(bench.records) == 48
    assert bench.tasks == ("captioning", "detection", "vqa", "referring_segmentation")
    rec = bench.records[0]
    assert rec.captions == first["captions"]
    assert rec.annotations["qa"] == typed_items("qa", first["qa"], "first")
    assert rec.meta["income_bucket"] == first["income_bucket"] and "objects" not in rec.meta
    writer = ShardWriter(tmp_path / "mixed")
    image = encode_image(Image.new("RGB", (32, 32)))
    writer.write(Sample(key="a", image_bytes=image, caption="x", meta=first))
    writer.write(Sample(key="b", image_bytes=image, caption="x", meta={"country": "Peru"}))
    broken = {**first, "objects": [{**first["objects"][0], "bbox": None}, *first["objects"][1:]]}
    writer.write(Sample(key="c", image_bytes=image, caption="x", meta=broken))
    writer.close()
    mixed = load_benchmark(f"scenes:{tmp_path / 'mixed'}")
    assert [r.id for r in mixed.records] == ["a", "c"]
    assert mixed.records[1].annotations["objects"] == typed_items(
        "objects", first["objects"][1:], "c"
    )
    assert mixed.report.counts() == {"no_annotations": 1, "bad_objects": 1}
