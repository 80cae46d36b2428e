"""The No Filter study (Pouget, Beyer et al. 2024) on the embedded world: ``globelens demo``.

Act one of the study registers these stages (:mod:`globelens.experiments.study` runs them),
each reading what the previous ones wrote and recording its own outputs::

    world      build the synthetic world (training crawl + five benchmarks)
    curate     curate the crawl three ways: en (English only), globe (no filter), globe-tl
    tokenizer  one multilingual tokenizer, trained once on all captions, shared by every model
    train      tiny SigLIP models: en, globe, globe-tl, globe->en; same preset, steps, seeds
    evaluate   every model on the Western, Dollar Street, GeoDE, landmark and XM3600 sets
    codec, vlm_train, vlm_evaluate
               act two (``globelens.experiments.generative_act``): each tower becomes the
               vision tower of a tiny PaliGemma, trained and evaluated on generative tasks
    summarise  summary.json: per model, each benchmark's main metric, disparity, worst group
    report     one self-contained HTML report and a Markdown summary

Nothing here knows the expected answer: the models differ only in their training data, and
the findings in ``summary.json`` are computed from the evaluation results. A stage that has
finished (same settings) is skipped when the study is run again into the same folder.

Python API::

    from globelens.experiments.nofilter import run_study
    summary = run_study("out/demo", profile="quick", seed=0)
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from tqdm import tqdm

from globelens.curate import run_recipe
from globelens.data import read_shards
from globelens.evaluate import run_suite

# Act two and the languages pack register their stages and parts on import.
from globelens.experiments import generative_act, languages_study  # noqa: F401
from globelens.experiments.nofilter_summary import summarise
from globelens.experiments.scheduler import Job, run_jobs
from globelens.experiments.settings import (
    ALT_TEXT_TEMPLATES,
    DATA_VARIANTS,
    DEMO_PRESET,
    LADDER,
    PROFILES,
    DataVariant,
    ModelVariant,
    StudyConfig,
    data_variants,
    model_variants,
    resolve_config,
)
from globelens.experiments.study import STUDY, Study, last_metrics, quiet_libraries, slug
from globelens.experiments.study_report import markdown_summary, write_study_report
from globelens.models.tokenizer import bytes_per_token, save_token_report, train_tokenizer
from globelens.train.config import PhaseConfig, SourceConfig, TrainConfig
from globelens.train.data import Plan
from globelens.train.loop import train
from globelens.world import SIZES, WorldConfig, build_world

#: The benchmarks (registered names under the world folder) and how the report calls them.
BENCHMARKS: dict[str, str] = {
    "world/western": "Western",
    "world/dollarstreet": "Dollar Street",
    "world/geode": "GeoDE",
    "world/landmarks": "Landmarks",
    "world/xm3600": "XM3600",
}


class TrainRun(NamedTuple):
    """One training run of the study: ``split`` is the step it continues its parent's
    checkpoint from (None: trained from scratch)."""

    variant: ModelVariant
    seed: int
    cfg: TrainConfig
    split: int | None

    @property
    def key(self) -> str:
        return f"{self.variant.name}/seed{self.seed}"

    @property
    def parent(self) -> str | None:
        """The key of the run this one continues."""
        return f"{self.variant.continues}/seed{self.seed}" if self.variant.continues else None

    @property
    def steps(self) -> int:
        """Steps this run trains itself (after the split)."""
        return int(self.cfg.steps) - (self.split or 0)


# -------------------------------------------------------------------------------- stages


@STUDY.stage("world", 10)
def stage_world(study: Study) -> dict[str, Any]:
    if study.world.exists() and not (study.world / "world.json").exists():
        shutil.rmtree(study.world)
    # The crawl as configured; benchmarks at a fixed size, so the precision of the
    # evaluation does not shrink with the crawl.
    size = dataclasses.replace(SIZES[study.config.benchmark_size], crawl=study.config.world_size)
    summary = build_world(
        study.world,
        seed=study.seed,
        size=size,
        workers=study.config.workers,
        config=WorldConfig(**study.config.world),
        progress=study.progress,
    )
    crawl = summary["counts"]["crawl"]
    study.log.say(
        f"world: {crawl['total']} crawl samples, {len(crawl['by_language'])} languages, "
        f"{len(crawl['by_country'])} countries"
    )
    return {"crawl": crawl["total"]}


@STUDY.stage("curate", 20)
def stage_curate(study: Study) -> dict[str, Any]:
    kept = {}
    for name, dv in study.data_variants.items():
        out = study.data / name
        shutil.rmtree(out, ignore_errors=True)
        # The world's images are valid by construction: check headers, skip full decoding.
        recipe = dataclasses.replace(dv.build_recipe(study.world), decode="header")
        study.log.say(f"curate: {name} ({dv.recipe}: {dv.description})")
        manifest = run_recipe(
            recipe,
            str(study.world / "crawl" / "*.tar"),
            out,
            workers=study.config.workers,
            audit=True,
            progress=study.progress,
        )
        kept[name] = manifest["counts"]["kept"]
        study.log.event("curated", data=name, recipe=dv.recipe, counts=manifest["counts"])
    study.log.say("curate: kept " + ", ".join(f"{k} {v}" for k, v in kept.items()))
    return {"kept": kept}


def _captions(study: Study, names: Sequence[str]) -> tuple[list[str], list[str]]:
    captions, languages = [], []
    for name in names:
        for s in read_shards(str(study.data / name / "*.tar")):
            if s.caption:
                captions.append(s.caption)
                languages.append(str(s.meta.get("lang") or s.meta.get("language") or "und"))
    return captions, languages


@STUDY.stage("tokenizer", 30)
def stage_tokenizer(study: Study) -> dict[str, Any]:
    # All captions the models will see: the originals (globe) and the translations
    # (globe-tl); en is a subset of globe. One tokenizer for every model.
    captions, languages = _captions(study, ["globe", "globe-tl"])
    pairs = list(zip(captions, languages, strict=True))
    random.Random(study.seed).shuffle(pairs)
    pairs = pairs[: study.config.tokenizer_captions]
    caps, langs = [c for c, _ in pairs], [lang for _, lang in pairs]
    shutil.rmtree(study.tokenizer_dir, ignore_errors=True)
    preset = study.config.preset
    tok = train_tokenizer(
        caps, preset["vocab_size"], study.tokenizer_dir, languages=langs,
        model_max_length=preset["text"]["context"], seed=study.seed,
    )  # fmt: skip
    report = bytes_per_token(tok, caps, langs)
    save_token_report(report, study.tokenizer_dir / "bytes_per_token.json")
    worst = max(report.items(), key=lambda kv: kv[1].get("tokens_per_caption", 0))
    return {"captions": len(caps), "vocab": len(tok), "most_tokens_per_caption": worst[0]}


def train_config(study: Study, variant: ModelVariant, seed: int) -> TrainConfig:
    """The training settings of one (variant, seed) run of the study."""
    c = study.config
    cfg = TrainConfig(
        out=str(study.runs / f"{slug(variant.name)}_seed{seed}"),
        steps=c.steps,
        batch_size=c.batch_size,
        seed=seed,
        progress=study.progress,
        log_every=10,
    )
    cfg.optim.lr = c.lr
    cfg.optim.warmup_frac = c.warmup_frac
    cfg.optim.weight_decay = c.weight_decay
    cfg.optim.logit_lr_mult = c.logit_lr_mult
    cfg.optim.min_lr_ratio = c.min_lr_ratio
    cfg.model.preset = dict(c.preset)
    cfg.model.tokenizer = str(study.tokenizer_dir)
    cfg.data.workers = c.data_workers
    # Every run goes over its data several times: decode each picture once.
    cfg.data.decoded_cache_mb = c.decoded_cache_mb
    cfg.threads = 1
    cfg.progress = False
    # Source names are the data variants', so a source's sample order is the same in
    # every run with this seed (globe and globe->en share their first 80% exactly).
    cfg.data.sources = [
        SourceConfig(name, str(study.data / name / "*.tar")) for name in variant.sources()
    ]
    cfg.data.phases = [PhaseConfig(until=u, mix={d: 1.0}) for u, d in variant.phases]
    cfg.checkpoint.keep = 2
    cfg.checkpoint.every = 0
    return cfg


def split_step(study: Study, variant: ModelVariant) -> int:
    """Steps of ``variant`` before its last phase starts."""
    steps = study.config.steps
    phases = [PhaseConfig(until=u, mix={d: 1.0}) for u, d in variant.phases]
    plan = Plan(variant.sources(), phases, steps, study.config.batch_size)
    return sum(1 for s in range(steps) if plan.phase_of(s) < len(phases) - 1)


def train_jobs(study: Study) -> list[TrainRun]:
    """Every (variant, seed) run with its continue-from step, parents first."""
    saves: dict[str, set[int]] = {}
    for v in study.variants.values():
        if v.continues:
            saves.setdefault(v.continues, set()).add(split_step(study, v))
    jobs = []
    order = sorted(
        study.variants.values(), key=lambda v: (v.continues is not None, v.name not in saves)
    )
    for seed in study.seeds:
        for v in order:
            cfg = train_config(study, v, seed)
            split = None
            if v.continues:
                split = split_step(study, v)
            elif v.name in saves:
                (at,) = saves[v.name]  # one continuation point per variant
                cfg.checkpoint.every, cfg.checkpoint.keep = at, 3
            jobs.append(TrainRun(v, seed, cfg, split))
    return jobs


def _prepare_continuation(study: Study, run: TrainRun) -> None:
    """Copy the parent run's checkpoint at the split into this run, to resume from."""
    v, seed, cfg, split = run
    src = study.runs / f"{slug(v.continues or '')}_seed{seed}"
    ckpt = src / "checkpoints" / f"step_{split:06d}"
    if not ckpt.is_dir():
        raise FileNotFoundError(f"{ckpt} missing: cannot continue {v.continues}")
    dst = Path(cfg.out) / "checkpoints" / ckpt.name
    shutil.rmtree(dst, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ckpt, dst)


@STUDY.stage("train", 40)
def stage_train(study: Study) -> dict[str, Any]:
    """Train every (variant, seed); ``parallel`` runs at a time, one thread each; a
    continued run starts when its parent has finished."""
    shutil.rmtree(study.runs, ignore_errors=True)
    runs = train_jobs(study)
    progress = _TrainProgress(sum(r.steps for r in runs), enabled=study.progress)
    secs: dict[str, float] = {}

    def start(job: Job) -> None:
        run: TrainRun = job.payload
        if run.split is not None:
            _prepare_continuation(study, run)
        progress.write(
            f"  train {run.variant.name} seed {run.seed}: {run.variant.description}, "
            f"{run.steps} steps"
        )
        study.log.event("train_start", variant=run.variant.name, seed=run.seed, steps=run.steps)

    def finish(job: Job, _: Any, seconds: float) -> None:
        run: TrainRun = job.payload
        progress.finished(run)
        secs[run.key] = round(seconds, 2)
        last = last_metrics(Path(run.cfg.out) / "metrics.jsonl")
        study.log.event(
            "trained", variant=run.variant.name, seed=run.seed, seconds=round(seconds, 2),
            steps=run.steps, loss=last.get("loss"), samples_per_s=last.get("samples_per_s"),
        )  # fmt: skip

    jobs = [Job(r.key, (r.cfg, r.split is not None), r.parent, r) for r in runs]
    try:
        run_jobs(
            jobs, _train_one, study.config.parallel, on_start=start, on_finish=finish,
            on_tick=lambda running: progress.poll([j.payload for j in running]),
        )  # fmt: skip
    finally:
        progress.close()
    return {"runs": secs}


@STUDY.stage("evaluate", 50)
def stage_evaluate(study: Study) -> dict[str, Any]:
    shutil.rmtree(study.results, ignore_errors=True)
    n = 0
    for seed in study.seeds:
        names = list(study.variants)
        study.log.say(f"evaluate: seed {seed}: {', '.join(names)} on {len(BENCHMARKS)} sets")
        res = run_suite(
            [str(study.model_dir(v, seed)) for v in names],
            list(BENCHMARKS),
            study.results / f"seed{seed}",
            model_names=names,
            data_root=str(study.world),
            n_bootstrap=study.config.n_bootstrap,
            seed=seed,
            cache_dir=str(study.cache),
            templates=list(study.config.templates),
            progress=False,
        )
        n += len(res)
    return {"results": n}


@STUDY.stage("summarise", 90)
def stage_summarise(study: Study) -> dict[str, Any]:
    """``summary.json``: act one's table and findings, and each act's own part."""
    summary = summarise(
        study.load_results(),
        list(study.variants.values()),
        config=dataclasses.asdict(study.config),
        seed=study.seed,
        data=study.data,
    )
    for key, part in study.registry.summary_parts.items():
        content = part(study)
        if content is not None:
            summary[key] = content
    summary["timings_s"] = dict(study.timings)
    (study.out / "summary.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return {"findings": {k: v["holds"] for k, v in summary["findings"].items()}}


@STUDY.stage("report", 100)
def stage_report(study: Study) -> dict[str, Any]:
    """``report.html`` and ``summary.md``, from ``summary.json`` and the results."""
    summary = json.loads((study.out / "summary.json").read_text(encoding="utf-8"))
    path = write_study_report(study, summary)
    md = markdown_summary(summary, path)
    md += "".join(part(summary) for part in study.registry.markdown_parts)
    (study.out / "summary.md").write_text(md, encoding="utf-8")
    return {"report": str(path)}


#: The stages of a plain run, in order (act one's, act two's, the summary and the report).
STAGES: tuple[str, ...] = STUDY.names()


# ---------------------------------------------------------------------------- utilities


class _TrainProgress:
    """One progress bar over the steps of every run, fed from each run's ``metrics.jsonl``
    (the runs are other processes)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = tqdm(total=total, desc="train", unit="step", disable=not enabled,
                        dynamic_ncols=True, smoothing=0.05)  # fmt: skip
        self.counted: dict[str, int] = {}

    def _advance(self, run: TrainRun, step: int) -> None:
        if step > self.counted.get(run.key, 0):
            self.bar.update(step - self.counted.get(run.key, 0))
            self.counted[run.key] = step

    def poll(self, running: Sequence[TrainRun]) -> None:
        for run in running:
            step = int(last_metrics(Path(run.cfg.out) / "metrics.jsonl").get("step", 0) or 0)
            self._advance(run, max(0, step - (run.split or 0)))

    def finished(self, run: TrainRun) -> None:
        self._advance(run, run.steps)

    def write(self, message: str) -> None:
        if self.enabled:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()


def _train_one(cfg: TrainConfig, resume: bool) -> str:
    """One training run in a worker process (one torch thread: small models on a shared CPU
    run faster as parallel single-threaded processes than as one multi-threaded one)."""
    quiet_libraries()
    torch.set_num_threads(max(1, cfg.threads))
    return str(train(cfg, resume=resume))


def run_study(
    out: str | os.PathLike = "out/demo",
    profile: str = "full",
    seed: int = 0,
    progress: bool = True,
    stages: Sequence[str] | None = None,
    force: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Run the study (or the given stages; ``force`` re-runs finished ones) into ``out``;
    returns ``summary.json``'s content. ``overrides`` change :class:`StudyConfig` fields."""
    config = resolve_config(profile, **overrides)
    return Study(out, config, seed=seed, progress=progress).run(stages, force=force)


__all__ = [
    "ALT_TEXT_TEMPLATES",
    "BENCHMARKS",
    "DATA_VARIANTS",
    "DEMO_PRESET",
    "LADDER",
    "PROFILES",
    "STAGES",
    "DataVariant",
    "ModelVariant",
    "Study",
    "StudyConfig",
    "TrainRun",
    "data_variants",
    "model_variants",
    "resolve_config",
    "run_study",
    "split_step",
    "train_config",
    "train_jobs",
]
