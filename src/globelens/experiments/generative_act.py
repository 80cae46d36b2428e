"""The demo's second act: the study's SigLIP towers as the eyes of tiny PaliGemma models.

Act one (:mod:`globelens.experiments.nofilter`) trains contrastive towers on en, globe and
globe-tl data. Act two gives each of those towers (the same weights, kept frozen) a fresh
Gemma decoder and trains it, with the same budget for every tower, on the world's multitask scenes
(``OUT/world/scenes``): captions in the place's language and in English, VQA, detection,
and segmentation through a mask codec trained once on the world's masks. Each model is then
evaluated with the generative tasks (``world/captions``, ``world/vqa``, ``world/coco_det``,
``world/refcoco``) by income, region and language, and a gallery asks every model the same
four prompts about one benchmark picture per region and income bucket.

Stages (added to the study's stage list, after act one's evaluation)::

    codec         a small mask codec on the world's training-scene masks
    vlm_train     one PaliGemma per (tower, seed): the tower's weights (frozen), a fresh decoder
    vlm_evaluate  the generative tasks, by group, and the gallery (gallery.json)

``summarise_act_two`` turns the results into ``summary.json``'s ``generative`` part: the
metrics table with intervals and disparities, and the No Filter question asked of the
generative models, computed from the results (n/a where a premise is absent).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm import tqdm

from globelens.data.images import data_uri, encode_image
from globelens.evaluate import load_results, run_suite
from globelens.evaluate.datasets import load_benchmark
from globelens.evaluate.suite import write_results
from globelens.experiments.scheduler import Job, run_jobs
from globelens.experiments.study import STUDY, Study, last_metrics, quiet_libraries, timed
from globelens.experiments.verdicts import (
    NO_DIFFERENCE,
    NOT_APPLICABLE,
    finding,
    finite,
    mean_ci,
    not_applicable,
    within_noise,
)
from globelens.groups import INCOME_BUCKET_NAMES
from globelens.models import tasklang
from globelens.models.maskcodec_train import CodecTrainConfig, train_codec_files
from globelens.models.paligemma import load_generator, load_images
from globelens.report import html_table
from globelens.report import study as pages
from globelens.report.generative import generative_sections
from globelens.report.overlay import draw_parsed
from globelens.report.render import esc, pct
from globelens.tasks import get_task
from globelens.train.config import PhaseConfig, SourceConfig, TaskConfig, VLMTrainConfig
from globelens.train.generative import GenerativeObjective
from globelens.train.loop import train

# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ActTwoConfig:
    """The size of act two (the same for every tower)."""

    #: training steps and batch of every PaliGemma
    steps: int
    batch_size: int
    #: a short run of a fresh decoder learns faster at 6e-3 than train-vlm's 2e-3 (loss 2.6
    #: against 3.2 after 120 steps on the quick world; benchmarks/RESULTS.md)
    lr: float = 6e-3
    #: the tower stays act one's weights: what differs between the models is then only the
    #: data the tower was pretrained on (and a frozen tower trains no slower or worse here)
    freeze_vision: bool = True
    #: which of the study's seeds get a PaliGemma: "first" or "all"
    seeds: str = "first"
    #: the towers (act one's data variants) that become vision towers
    towers: tuple[str, ...] = ("en", "globe", "globe-tl")
    decoder: str = "tiny"
    tokenizer_vocab: int = 1024
    max_text_tokens: int = 96
    #: (task name, kind, weight): each task's share of every batch
    tasks: tuple[tuple[str, str, float], ...] = (
        ("caption", "caption", 2.0),
        ("answer", "answer", 2.0),
        ("detect", "detect", 1.0),
        ("segment", "segment", 0.5),
        ("refer", "refer", 0.5),
    )
    #: detect prompts in training add up to this many absent classes, and evaluation asks
    #: for the benchmark's classes this many at a time (a tiny model reads a short prompt;
    #: one prompt of all 61 classes is nothing it has seen)
    detect_negatives: int = 7
    classes_per_prompt: int = 8
    codec_steps: int = 75
    codec_masks: int = 3000
    #: (benchmark, new tokens per answer, its first N pictures; 0: all): a budget, not a
    #: benchmark's worth. Captions and answers are short and cheap to generate, and CIDEr
    #: needs a corpus per language; detection asks ceil(classes / classes_per_prompt) prompts
    #: per picture
    benchmarks: tuple[tuple[str, int, int], ...] = (
        ("world/captions", 20, 300),
        ("world/vqa", 6, 300),
        ("world/coco_det", 40, 48),
        ("world/refcoco", 28, 200),
    )
    gen_batch_size: int = 64
    #: also score every model on its benchmarks with blank pictures (``?pictures=blank``): the
    #: prior-only baseline, what the decoder says without looking
    blank_baseline: bool = True
    #: training processes at a time (one thread each; the tiny runs interleave well)
    parallel: int = 3
    #: processes each model trains on, data-parallel (gloo): the global batch is the same,
    #: each process computes its share (a second thread in one process gained nothing with
    #: length groups, a second process 1.3x; benchmarks/RESULTS.md)
    ranks: int = 1
    n_bootstrap: int = 200
    #: gallery cells (region x income bucket), at most
    gallery_cells: int = 20

    def fingerprint(self, stage: str | None = None) -> str:
        """What ``stage``'s output depends on (all settings for the evaluation and after):
        changing how the models are scored does not retrain them."""
        fields = dataclasses.asdict(self)
        keep = STAGE_FIELDS.get(stage or "")
        if keep is not None:
            fields = {k: v for k, v in fields.items() if k in keep}
        blob = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_CODEC_FIELDS = ("codec_steps", "codec_masks")
#: the settings each training stage depends on (scheduling, e.g. ``parallel``, is not one)
STAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "codec": _CODEC_FIELDS,
    "vlm_train": (*_CODEC_FIELDS, "steps", "batch_size", "lr", "freeze_vision", "seeds",
                  "towers", "decoder", "tokenizer_vocab", "max_text_tokens", "tasks",
                  "detect_negatives"),
}  # fmt: skip


#: One model per tower, on the first seed's towers: nine (every seed) would take the full
#: demo past its budget on 2 cores (benchmarks/RESULTS.md, "Demo act two"), where the seeds'
#: agreement is measured across worlds instead. ``seeds="all"`` trains them all.
PROFILES: dict[str, ActTwoConfig] = {
    # 900 steps: at 300 the models said little beyond their prior (captions CIDEr 1-3.5, the
    # same on blank pictures). What a model learns to see grows with the pictures it reads:
    # at 900 steps captions CIDEr 28-44 at batch 32, 77 at 64, 91 at 128 (3-9x its blank
    # baseline), and 64 x 1,800 ends where 128 x 900 does (benchmarks/RESULTS.md, "Act two's
    # recipe"). Batches are run in length groups, so a batch of 64 costs about what 32 did.
    # The full profile compares three towers' models, three processes at a time, at 48 (64
    # took the full demo to 15 min 41 s); --quick trains one, data-parallel on two processes,
    # at 96 (128 took --quick to 8 min 14 s).
    "full": ActTwoConfig(steps=900, batch_size=48, seeds="first"),
    "quick": ActTwoConfig(steps=900, batch_size=96, seeds="first", towers=("globe-tl",), ranks=2),
}


def _scored_by(task: str, label: str) -> tuple[str, str, str]:
    """A registered task's result name and primary metric, and how the tables call them."""
    t = get_task(task)
    return t.eval_name, t.metrics[0], label


#: what the findings say where one tower has a model (the quick profile)
ONE_TOWER = (
    "one tower has a model here: the towers are compared in the full profile (globelens demo)"
)

#: the option that scores a benchmark on blank pictures (the prior-only baseline)
BLANK = "pictures=blank"

#: the generative benchmarks, their task and main metric, and how the tables call them
BENCHMARKS: dict[str, tuple[str, str, str]] = {
    "world/captions": _scored_by("caption", "Captions CIDEr"),
    "world/vqa": _scored_by("answer", "VQA accuracy"),
    "world/coco_det": _scored_by("detect", "Detection mAP"),
    "world/refcoco": _scored_by("refer", "Referring mIoU"),
}

STAGES: tuple[str, ...] = ("codec", "vlm_train", "vlm_evaluate")


def settings_fingerprint(study: Study, stage: str) -> str:
    """What act two's ``stage`` depends on beyond the study's settings (the summary and
    report, which read act two's results, depend on all of act two's settings)."""
    return act_two_config(study).fingerprint(stage)


def has_results(study: Study) -> bool:
    return any(next(results_dir(study, s).glob("*.json"), None) for s in act_two_seeds(study))


def act_two_config(study: Study) -> ActTwoConfig:
    return PROFILES.get(study.config.profile, PROFILES["full"])


def act_two_seeds(study: Study, cfg: ActTwoConfig | None = None) -> list[int]:
    cfg = cfg or act_two_config(study)
    return list(study.seeds) if cfg.seeds == "all" else list(study.seeds[:1])


def vlm_dir(study: Study, tower: str, seed: int) -> Path:
    return study.out / "vlm" / f"{tower}_seed{seed}"


def codec_path(study: Study) -> Path:
    return study.out / "codec" / "world.safetensors"


def results_dir(study: Study, seed: int) -> Path:
    return study.out / "results_generative" / f"seed{seed}"


# -------------------------------------------------------------------------------- stages


@STUDY.stage("codec", 60)
@timed
def stage_codec(study: Study) -> dict[str, Any]:
    """One mask codec for every model, trained on the training scenes' masks and scored on
    the coco_det benchmark's (pictures no training scene shows)."""
    cfg = act_two_config(study)
    out = codec_path(study)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = train_codec_files(
        out,
        scenes=str(study.world / "scenes" / "*.tar"),
        heldout_coco=study.world / "benchmarks" / "coco_det" / "annotations"
        / "instances_val2017.json",
        config=CodecTrainConfig(steps=cfg.codec_steps, seed=study.seed,
                                eval_every=max(cfg.codec_steps, 1)),
        limit=cfg.codec_masks,
        progress=False,
    )  # fmt: skip
    study.log.say(
        f"codec: held-out mask IoU {report.heldout_iou:.3f} after {report.steps} steps "
        f"({report.cpu_seconds:.1f} CPU-s)"
    )
    return {"heldout_iou": round(report.heldout_iou, 4), "cpu_seconds": report.cpu_seconds}


def vlm_train_config(study: Study, tower: str, seed: int) -> Any:
    cfg = act_two_config(study)
    run = VLMTrainConfig(
        out=str(vlm_dir(study, tower, seed)),
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        seed=seed,
        progress=False,
        log_every=10,
    )
    run.threads = 1
    run.optim.lr = cfg.lr
    run.data.sources = [SourceConfig("world", str(study.world / "scenes" / "*.tar"))]
    run.data.decoded_cache_mb = 256
    run.tasks = [
        TaskConfig(name, kind=kind, source="world",
                   negatives=cfg.detect_negatives if kind == "detect" else 0)
        for name, kind, _ in cfg.tasks
    ]  # fmt: skip
    run.data.phases = [PhaseConfig(until=1.0, mix={n: w for n, _, w in cfg.tasks})]
    run.model.vision = str(study.model_dir(tower, seed))
    run.model.freeze_vision = cfg.freeze_vision
    run.model.decoder = cfg.decoder
    run.model.codec = str(codec_path(study))
    run.model.tokenizer_vocab = cfg.tokenizer_vocab
    run.model.tokenizer_texts = 4000
    run.model.max_text_tokens = cfg.max_text_tokens
    run.checkpoint.every = 0
    run.checkpoint.keep = 1
    return run


def _train_vlm_one(cfg: VLMTrainConfig, rank: int = 0, world: int = 1, port: int = 0) -> str:
    """One PaliGemma's training (or rank ``rank`` of ``world`` of it, the ranks meeting at
    ``port`` on this machine), in a worker process with one thread."""
    quiet_libraries()
    torch.set_num_threads(1)
    env = {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)} if world > 1 else {}  # fmt: skip
    os.environ.update(env)
    try:
        return str(train(cfg, objective=GenerativeObjective))
    finally:  # the pool's worker process may run another job next
        if env and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for k in env:
            os.environ.pop(k, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vlm_train_jobs(study: Study, cfg: ActTwoConfig, runs: list[tuple[str, int]]) -> list[Job]:
    """A job per (tower, seed) and rank; a model's ranks are adjacent, so they start
    together when the pool's size is a multiple of ``ranks``."""
    jobs = []
    for t, s in runs:
        run, port = vlm_train_config(study, t, s), _free_port() if cfg.ranks > 1 else 0
        for r in range(cfg.ranks):
            key = f"{t}/seed{s}" + (f"/rank{r}" if r else "")
            jobs.append(Job(key, (run, r, cfg.ranks, port), None, (t, s, r)))
    return jobs


@STUDY.stage("vlm_train", 70)
@timed
def stage_vlm_train(study: Study) -> dict[str, Any]:
    """Every (tower, seed) PaliGemma, on ``ranks`` processes each, ``parallel`` processes at
    a time, one thread each."""
    cfg = act_two_config(study)
    shutil.rmtree(study.out / "vlm", ignore_errors=True)
    runs = [(t, s) for s in act_two_seeds(study, cfg) for t in cfg.towers]
    jobs = vlm_train_jobs(study, cfg, runs)
    # whole models at a time: a rank alone would wait for its partner
    slots = max(cfg.ranks, cfg.parallel // cfg.ranks * cfg.ranks)
    bar = tqdm(total=cfg.steps * len(runs), desc="train-vlm", unit="step",
               disable=not study.progress, dynamic_ncols=True)  # fmt: skip
    done: dict[str, int] = {}
    secs: dict[str, float] = {}

    def advance(key: str, step: int) -> None:
        if step > done.get(key, 0):
            bar.update(step - done.get(key, 0))
            done[key] = step

    def tick(running: Any) -> None:
        for j in running:
            t, s, rank = j.payload
            if rank:  # a model's ranks share its log
                continue
            step = last_metrics(vlm_dir(study, t, s) / "metrics.jsonl").get("step", 0)
            advance(j.key, int(step or 0))

    def start(job: Job) -> None:
        t, s, rank = job.payload
        if rank:
            return
        if study.progress:
            on = f" on {cfg.ranks} processes" if cfg.ranks > 1 else ""
            bar.write(f"  train-vlm {t} seed {s}: {t}'s tower + tiny Gemma, {cfg.steps} steps{on}")
        study.log.event("vlm_train_start", tower=t, seed=s, steps=cfg.steps, ranks=cfg.ranks)

    def finish(job: Job, _: Any, seconds: float) -> None:
        t, s, rank = job.payload
        if rank:
            return
        advance(job.key, cfg.steps)
        secs[job.key] = round(seconds, 2)
        last = last_metrics(vlm_dir(study, t, s) / "metrics.jsonl")
        study.log.event("vlm_trained", tower=t, seed=s, seconds=round(seconds, 2),
                        loss=last.get("loss"), samples_per_s=last.get("samples_per_s"))  # fmt: skip

    try:
        run_jobs(jobs, _train_vlm_one, slots, on_start=start,
                 on_finish=finish, on_tick=tick)  # fmt: skip
    finally:
        bar.close()
    for t, s in runs:
        # the untrained start (`serve OUT` should offer trained models only) and the resume
        # checkpoint (a second copy of the finished model) are not needed any more
        shutil.rmtree(vlm_dir(study, t, s) / "init", ignore_errors=True)
        shutil.rmtree(vlm_dir(study, t, s) / "checkpoints", ignore_errors=True)
    return {"runs": secs}


def _evaluate_vlm_one(
    model: str, tower: str, seed: int, world: str, cache: str, cfg: ActTwoConfig, blank: bool
) -> list[dict[str, Any]]:
    """One model on every generative benchmark (``blank``: on blank pictures, the prior-only
    baseline), in a worker process with one thread."""
    quiet_libraries()
    torch.set_num_threads(1)
    results: list[dict[str, Any]] = []
    for bench, tokens, pictures in cfg.benchmarks:
        results += run_suite(
            [model],
            [f"{bench}?{BLANK}" if blank else bench],
            None,
            model_names=[tower],
            data_root=world,
            n_bootstrap=cfg.n_bootstrap,
            seed=seed,
            cache_dir=cache,
            progress=False,
            limit=pictures or None,
            gen_batch_size=cfg.gen_batch_size,
            task_options=eval_options(cfg, bench, tokens),
        )
    return results


@STUDY.stage("vlm_evaluate", 80)
@timed
def stage_vlm_evaluate(study: Study) -> dict[str, Any]:
    """The generative tasks for every model (by group), one model per worker process,
    ``parallel`` at a time; then the gallery."""
    cfg = act_two_config(study)
    seeds = act_two_seeds(study, cfg)
    passes = (False, True) if cfg.blank_baseline else (False,)
    jobs = [
        Job(f"{t}/seed{s}" + ("/blank" if blank else ""),
            (str(vlm_dir(study, t, s) / "model"), t, s, str(study.world), str(study.cache), cfg,
             blank), None, (t, s, blank))
        for s in seeds for t in cfg.towers for blank in passes
    ]  # fmt: skip
    benches = ", ".join(b for b, _, _ in cfg.benchmarks)

    def start(job: Job) -> None:
        t, s, blank = job.payload
        pictures = " (blank pictures: the prior-only baseline)" if blank else ""
        study.log.say(f"evaluate act two: {t} seed {s} on {benches}{pictures}")

    by_seed: dict[int, list[dict[str, Any]]] = {s: [] for s in seeds}

    def finish(job: Job, results: list[dict[str, Any]], seconds: float) -> None:
        t, s, blank = job.payload
        by_seed[s] += results
        study.log.event("vlm_evaluated", tower=t, seed=s, blank=blank, results=len(results),
                        seconds=round(seconds, 2))  # fmt: skip

    run_jobs(jobs, _evaluate_vlm_one, cfg.parallel, on_start=start, on_finish=finish)
    order = {t: i for i, t in enumerate(cfg.towers)}
    for s, results in by_seed.items():
        out = results_dir(study, s)
        shutil.rmtree(out, ignore_errors=True)
        write_results(sorted(results, key=lambda r: (order[r["model"]], r["dataset"])), out)
    gallery = build_gallery(study, seeds[0], cfg)
    (study.out / "gallery.json").write_text(
        json.dumps(gallery, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return {"results": sum(map(len, by_seed.values())), "gallery_cells": len(gallery["cells"])}


def eval_options(cfg: ActTwoConfig, bench: str, max_new_tokens: int) -> dict[str, Any]:
    """The generative task's options for ``bench``: its answer length, and detection's classes
    per prompt."""
    options: dict[str, Any] = {"max_new_tokens": max_new_tokens}
    if BENCHMARKS[bench][0] == get_task("detect").eval_name:
        options["classes_per_prompt"] = cfg.classes_per_prompt
    return options


# ------------------------------------------------------------------------------- gallery


def _picture_uri(image: Any, size: int = 128) -> str:
    """A gallery picture, enlarged without blurring its pixels, as a WebP ``data:`` URI
    (a quarter of a PNG's bytes: 140 pictures of a gallery were 1.5 MB as PNG)."""
    im = image.convert("RGB").resize((size, size), Image.Resampling.NEAREST)
    return data_uri(encode_image(im, "webp", quality=85), "image/webp")


def gallery_pictures(study: Study, cells: int) -> list[dict[str, Any]]:
    """One benchmark picture per (region, income bucket), with its objects and a question
    (coco_det and vqa share their pictures and ids)."""
    det = load_benchmark("world/coco_det", str(study.world))
    vqa = load_benchmark("world/vqa", str(study.world))
    qa_by_file = {Path(r.path).name.split("_")[-1]: r for r in vqa.records}
    picked: dict[tuple[str, str], dict[str, Any]] = {}
    for r in det.records:
        meta = r.meta
        key = (str(meta.get("region", "?")), str(meta.get("income_bucket", "?")))
        objects = r.annotations.get("objects") or []
        q = qa_by_file.get(Path(r.path).name)
        questions = (q.annotations.get("qa") or []) if q is not None else []
        if key in picked or not objects or not questions:
            continue
        picked[key] = {
            "path": r.path, "region": key[0], "income_bucket": key[1],
            "country": meta.get("country"), "language": meta.get("language") or "en",
            "labels": sorted({o.label for o in objects}),
            "question": questions[0],
        }  # fmt: skip
    order = {b: i for i, b in enumerate(INCOME_BUCKET_NAMES)}
    keys = sorted(picked, key=lambda k: (k[0], order.get(k[1], 99)))[:cells]
    return [picked[k] for k in keys]


def gallery_prompts(pic: dict[str, Any]) -> dict[str, str]:
    lang = str(pic["language"])
    q = pic["question"]
    prompts = {
        "caption": tasklang.caption(lang),
        "caption_en": tasklang.caption("en"),
        "answer": tasklang.answer(q.question, q.lang or "en"),
        "detect": tasklang.detect(pic["labels"]),
        "segment": tasklang.segment([pic["labels"][0]]),
    }
    if lang == "en":
        prompts.pop("caption_en")
    return prompts


def build_gallery(study: Study, seed: int, cfg: ActTwoConfig) -> dict[str, Any]:
    """Every model's caption, answer, boxes and masks on the gallery pictures (drawn with
    the report's overlay)."""
    pics = gallery_pictures(study, cfg.gallery_cells)
    images = load_images([p["path"] for p in pics])
    cells: list[dict[str, Any]] = []
    for pic, im in zip(pics, images, strict=True):
        cells.append({k: v for k, v in pic.items() if k != "path"}
                     | {"image": Path(pic["path"]).name, "thumbnail": _picture_uri(im),
                        "question": pic["question"].question,
                        "answers": list(pic["question"].answers[:3]), "models": {}})  # fmt: skip
    for tower in cfg.towers:
        gen = load_generator(vlm_dir(study, tower, seed) / "model")
        pairs = [(i, task, prompt) for i, p in enumerate(pics)
                 for task, prompt in gallery_prompts(p).items()]  # fmt: skip
        outs = gen.generate(
            [images[i] for i, _, _ in pairs], [p for _, _, p in pairs],
            max_new_tokens=32, batch_size=cfg.gen_batch_size,
        )  # fmt: skip
        for (i, task, prompt), g in zip(pairs, outs, strict=True):
            im = images[i]
            entry = cells[i]["models"].setdefault(tower, {})
            if tasklang.answer_kind(task) != "text":
                parsed = tasklang.parse(prompt, g.text, im.width, im.height, codec=gen.codec)
                entry[task] = {
                    "prompt": prompt,
                    "found": [o.label for o in parsed.objects],
                    "invalid": len(parsed.invalid),
                    "drawing": _picture_uri(draw_parsed(im, parsed)),
                }
            else:
                entry[task] = {"prompt": prompt, "text": g.text}
    return {"seed": seed, "cells": cells}


# ------------------------------------------------------------------------------- summary


def _income_gap(r: dict[str, Any], metric: str) -> dict[str, Any] | None:
    """Best minus worst income bucket of ``metric`` (the generative disparity)."""
    rep = (r.get("groups") or {}).get("income_bucket") or {}
    metric = rep.get("metric", metric)
    groups = {k: finite(v.get(metric)) for k, v in (rep.get("groups") or {}).items()}
    groups = {k: v for k, v in groups.items() if v is not None}
    if len(groups) < 2:
        return None
    worst, best = min(groups, key=groups.get), max(groups, key=groups.get)
    return {"value": groups[best] - groups[worst], "worst": worst, "best": best,
            "worst_value": groups[worst], "ci95": rep.get("spread_ci95")}  # fmt: skip


def summarise_act_two(study: Study) -> dict[str, Any]:
    """The metrics table (per tower and benchmark: main metric with interval, income
    disparity, worst income bucket and region) and the findings."""
    cfg = act_two_config(study)
    seeds = act_two_seeds(study, cfg)
    per_seed = {s: load_results(results_dir(study, s)) for s in seeds}
    table: dict[str, dict[str, Any]] = {}
    for tower in cfg.towers:
        row: dict[str, Any] = {}
        for bench, (task, metric, label) in BENCHMARKS.items():
            found = [r for s in seeds for r in per_seed[s]
                     if r.get("model") == tower and r.get("dataset") == bench
                     and r.get("task") == task]  # fmt: skip
            if not found:
                row[bench] = {"label": label, "metric": metric, "value": None, "missing": True}
                continue
            vals = [finite(r["metrics"].get(metric)) for r in found]
            vals = [v for v in vals if v is not None]
            value, ci = mean_ci(vals) if vals else (None, None)
            interval = "t over seeds"
            if ci is None:
                ci, interval = (found[0].get("ci95") or {}).get(metric), "bootstrap over examples"
            gaps = [g for g in (_income_gap(r, metric) for r in found) if g]
            gap_values = [g["value"] for g in gaps]
            # one seed: the bootstrap interval over examples; several: t over seeds
            gap, gap_ci = mean_ci(gap_values) if gaps else (None, None)
            if len(gaps) == 1:
                gap_ci = gaps[0]["ci95"]
            region = (found[0].get("groups") or {}).get("region") or {}
            blank = _blank_value(per_seed, seeds, tower, f"{bench}?{BLANK}", task, metric)
            row[bench] = {
                "blank": blank,
                "blank_ratio": value / blank if value is not None and blank else None,
                "label": label, "metric": metric, "value": value, "ci95": ci,
                "interval": interval, "per_seed": vals, "n": found[0].get("n_evaluated"),
                "disparity": gap, "disparity_per_seed": gap_values, "disparity_ci95": gap_ci,
                "worst_income": gaps[0]["worst"] if gaps else None,
                "worst_region": region.get("worst"),
                "invalid_rate": finite(found[0]["metrics"].get("invalid_rate")),
            }  # fmt: skip
        table[tower] = row
    return {
        "seeds": seeds,
        "config": dataclasses.asdict(cfg),
        "table": table,
        "findings": generative_findings(table),
        "gallery_named": gallery_named(study.out / "gallery.json", cfg.towers),
    }


def names_an_object(caption: str, labels: list[str]) -> bool:
    """Whether an English caption says the name of one of the picture's objects."""
    words = f" {' '.join(caption.lower().split())} "
    return any(f" {label.lower()} " in words.replace(":", " ") for label in labels)


def gallery_named(path: Path, towers: tuple[str, ...]) -> dict[str, list[int]]:
    """Per tower, [pictures whose English caption names one of its objects, pictures] in
    the gallery (what a reader of the gallery sees at a glance, counted)."""
    if not path.is_file():
        return {}
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out: dict[str, list[int]] = {}
    for tower in towers:
        said = [(c["labels"], c["models"][tower]) for c in cells if tower in c["models"]]
        named = sum(
            names_an_object((m.get("caption_en") or m["caption"])["text"], labels)
            for labels, m in said
        )
        out[tower] = [named, len(said)]
    return out


def _blank_value(
    per_seed: dict[int, list[dict[str, Any]]],
    seeds: list[int],
    tower: str,
    dataset: str,
    task: str,
    metric: str,
) -> float | None:
    """The mean over seeds of ``tower``'s ``metric`` on blank pictures (the prior-only
    baseline), or None when it was not scored."""
    vals = [
        finite(r["metrics"].get(metric))
        for s in seeds
        for r in per_seed[s]
        if (r.get("model"), r.get("dataset"), r.get("task")) == (tower, dataset, task)
    ]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


#: below this a metric is at the floor: no model serves anyone, so no one is served better
FLOOR = 0.01


def generative_findings(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The No Filter question for generative models, from the results: does the tower's
    pretraining data change whom the captioner / answerer / detector serves?

    For each benchmark: does a globe tower's model do better overall, and does it have a
    smaller income gap, than the en tower's? The verdict is :func:`verdicts.judge`'s; "n/a"
    when the premise is absent: a model at the metric's floor (nothing to compare), or a gap
    that cannot be computed.
    """
    out: dict[str, dict[str, Any]] = {}
    for other in ("globe", "globe-tl"):
        if other not in table or "en" not in table:
            continue
        for bench, (_, metric, label) in BENCHMARKS.items():
            a, b = table[other].get(bench, {}), table["en"].get(bench, {})
            fields = {"benchmark": bench, "metric": metric, "a": other, "b": "en"}
            name = bench.split("/")[-1]
            out[f"{other}_beats_en_{name}"] = _beats(other, label, a, b, fields)
            out[f"{other}_smaller_income_gap_{name}"] = _narrows_gap(other, label, a, b, fields)
    return out


def _paired(a: Any, b: Any, margin: float) -> list[float]:
    """Per-seed margins a - b (the mean margin when the seeds do not pair up)."""
    if a and b and len(a) == len(b):
        return [x - y for x, y in zip(a, b, strict=True)]
    return [margin]


def _beats(
    other: str, label: str, a: dict[str, Any], b: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """ "``other``'s tower beats en's" on one benchmark's main metric."""
    statement = f"{other}'s tower beats en's on {label}"
    va, vb = finite(a.get("value")), finite(b.get("value"))
    if va is None or vb is None:
        return not_applicable(statement, "a model has no result", **fields)
    if max(va, vb) < FLOOR:
        why = f"both models are at the floor ({label} < {FLOOR:.0%})"
        return not_applicable(statement, why, va - vb, **fields)
    m = va - vb
    per_seed = _paired(a.get("per_seed"), b.get("per_seed"), m)
    return finding(statement, m, per_seed, within_noise=within_noise(m, a, b), **fields)


def _narrows_gap(
    other: str, label: str, a: dict[str, Any], b: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """ "``other``'s tower narrows the income gap" of one benchmark (en's gap minus its)."""
    statement = f"{other}'s tower narrows the income gap on {label}"
    va, vb = finite(a.get("value")), finite(b.get("value"))
    da, db = finite(a.get("disparity")), finite(b.get("disparity"))
    if da is None or db is None:
        return not_applicable(statement, "no income groups to compare", **fields)
    if va is None or vb is None or max(va, vb) < FLOOR:
        why = "both models are at the floor: a gap of nothing"
        return not_applicable(statement, why, db - da, **fields)
    m = db - da
    noise = within_noise(m, a, b, "disparity", "disparity_ci95")
    per_seed = _paired(b.get("disparity_per_seed"), a.get("disparity_per_seed"), m)
    return finding(statement, m, per_seed, within_noise=noise, **fields)


# -------------------------------------------------------------------------------- report


def _cell(c: dict[str, Any]) -> str:
    v = finite(c.get("value"))
    if v is None:
        return "missing" if c.get("missing") else "–"
    ci = c.get("ci95")
    # an interval that misses its own point estimate (a corpus metric beside a resampled
    # per-image one) is not shown as if it belonged to it
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci and ci[0] <= v <= ci[1]:
        return f"{pct(v)} [{pct(ci[0])}, {pct(ci[1])}]"
    return pct(v)


def table_rows(gen: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    cols = ["tower"]
    blank = gen["config"].get("blank_baseline", False)
    for _, _, label in BENCHMARKS.values():
        cols += [label, *([f"{label.split()[0]} on blank pictures"] if blank else []),
                 f"{label.split()[0]} income gap"]  # fmt: skip
    rows = []
    for tower, row in gen["table"].items():
        cells = [tower]
        for bench in BENCHMARKS:
            c = row.get(bench, {})
            base = [pct(finite(c.get("blank")), missing="–")] if blank else []
            cells += [_cell(c), *base, pct(finite(c.get("disparity")), missing="–")]
        rows.append(cells)
    return cols, rows


def finding_text(f: dict[str, Any]) -> tuple[str, str]:
    m = finite(f.get("margin"))
    margin = "–" if m is None else f"{pct(m, signed=True)} points"
    if m is not None and len(f.get("per_seed") or []) > 1:
        per = ", ".join(pct(x, signed=True) for x in f["per_seed"])
        margin += f" (per seed {per})"
    if f["status"] == NOT_APPLICABLE:
        return f"n/a: {f.get('reason', '')}", margin
    if f["status"] == NO_DIFFERENCE:
        return f"{NO_DIFFERENCE} (intervals overlap or under 2 points)", margin
    return f["status"], margin


def eval_pictures(gen: dict[str, Any]) -> str:
    """How many pictures of each benchmark were scored (from the summary's config)."""
    label = {bench: label.split()[0] for bench, (_, _, label) in BENCHMARKS.items()}
    parts = [
        f"{label.get(bench, bench)} {pictures or 'all'}"
        for bench, _, pictures in gen["config"].get("benchmarks", ())
    ]
    return "pictures scored: " + ", ".join(parts)


def markdown_act_two(summary: dict[str, Any]) -> str:
    gen = summary.get("generative")
    if not gen:
        return ""
    cols, rows = table_rows(gen)
    n = len(gen["seeds"])
    lines = [
        "",
        "## Act two: the same towers as the eyes of tiny PaliGemma models",
        "",
        f"Each tower (frozen) + a fresh tiny Gemma, {gen['config']['steps']} steps x "
        f"{gen['config']['batch_size']} on the world's scenes (captions, VQA, detection, "
        f"segmentation); {eval_pictures(gen)}; percentages, "
        + (f"mean over {n} seeds" if n > 1 else "one seed, 95% bootstrap interval")
        + "; income gap = best minus worst income bucket"
        + (
            "; on blank pictures = the same model shown a grey picture (the prior-only "
            "baseline: what it says without looking)."
            if gen["config"].get("blank_baseline")
            else "."
        ),
        "",
        "| " + " | ".join(cols) + " |",
        "|---|" + "---:|" * (len(cols) - 1),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    named = gen.get("gallery_named") or {}
    if named:
        counts = ", ".join(f"{t} {k} of {n}" for t, (k, n) in named.items())
        lines += ["", f"Gallery: the English caption names an object of the picture in {counts}."]
    lines += [
        "",
        "Does the tower's pretraining data change whom the generative model serves?",
        "",
        "| finding | here | margin |",
        "|---|---|---|",
    ]
    for f in gen["findings"].values():
        status, margin = finding_text(f)
        lines.append(f"| {f['statement']} | {status.replace('|', '/')} | {margin} |")
    if not gen["findings"]:
        lines.append(f"| {ONE_TOWER} | n/a | – |")
    return "\n".join(lines) + "\n"


def report_sections(study: Study, summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Act two's sections for the study's report (empty when act two has not run)."""
    gen = summary.get("generative")
    if not gen:
        return []
    cols, rows = table_rows(gen)
    findings = html_table(
        ["finding", "here", "margin"],
        [[esc(f["statement"]), *map(esc, finding_text(f))] for f in gen["findings"].values()]
        or [[esc(ONE_TOWER), "n/a", "–"]],
    )
    sections = [
        ("Act two: generative models on the same towers",
         pages.act_two_html(gen, eval_pictures(gen), cols, rows)),
        ("Act two: does the tower's data change whom the model serves?", findings),
    ]  # fmt: skip
    gpath = study.out / "gallery.json"
    if gpath.is_file():
        gallery = json.loads(gpath.read_text(encoding="utf-8"))
        named = gen.get("gallery_named")
        sections.append(("Act two: the gallery", pages.gallery_html(gallery, named)))
    results = load_results(results_dir(study, gen["seeds"][0]))
    sections.append(("Act two: per-group results", generative_sections(results)))
    return sections


def talk_to_the_models(study: Study) -> str:
    """What the end of the demo prints: the server command and one ``ask``."""
    cfg = act_two_config(study)
    seed = act_two_seeds(study, cfg)[0]
    model = vlm_dir(study, cfg.towers[-1], seed) / "model"
    pics = sorted((study.world / "benchmarks" / "vqa" / "val2014").glob("*.jpg"))
    pic = pics[0] if pics else Path("PICTURE.jpg")
    return (
        "\nTalk to the models (every generator and dual encoder under the folder):\n"
        f"  globelens serve {study.out}\n"
        f'  globelens ask {model} {pic} "caption en"\n'
    )


def _summary_part(study: Study) -> dict[str, Any] | None:
    return summarise_act_two(study) if has_results(study) else None


# Act two's part of the study: its stages, the settings they (and the summary and report,
# which read their results) depend on, and its parts of the summary, report and Markdown.
STUDY.settings.append(((*STAGES, "summarise", "report"), settings_fingerprint))
STUDY.summary_parts["generative"] = _summary_part
STUDY.report_parts.append(report_sections)
STUDY.markdown_parts.append(markdown_act_two)

__all__ = [
    "BENCHMARKS",
    "PROFILES",
    "STAGES",
    "ActTwoConfig",
    "act_two_config",
    "markdown_act_two",
    "report_sections",
    "summarise_act_two",
    "talk_to_the_models",
]
