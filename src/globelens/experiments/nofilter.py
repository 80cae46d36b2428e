"""The No Filter study (Pouget, Beyer et al. 2024) on the embedded world: ``globelens demo``.

The study is a sequence of named stages, each a method of :class:`Study` that reads what the
previous ones wrote and records its own outputs::

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
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from globelens.experiments import generative_act as act_two

# ----------------------------------------------------------------------------- settings

#: The demo's model: a tiny SigLIP small enough to train 12 times on 2 CPU cores in minutes.
#: 32 px input (the world draws 96 px pictures), 16 patches, 16 text tokens (alt text is short).
DEMO_PRESET: dict[str, Any] = {
    "description": "demo SigLIP: 32 px, patch 8, width 64, 2+2 layers, 16 text tokens",
    "image_size": 32,
    "patch_size": 8,
    "vision": {"width": 64, "layers": 2, "heads": 2, "mlp": 256},
    "text": {"width": 64, "layers": 2, "heads": 2, "mlp": 256, "context": 16},
    "embed_dim": 64,
    "vocab_size": 4096,
    # SigLIP starts at t = 10, b = -10 for batches of 32k; b = -5 suits a batch of 128.
    "init": {"logit_scale": 10.0, "logit_bias": -5.0},
}

#: Prompts for zero-shot classification: a handful in the style of the OpenAI set, so that
#: twelve models evaluate in seconds (the same prompts for every model).
DEMO_TEMPLATES: tuple[str, ...] = (
    "a photo of a {c}.",
    "a photo of the {c}.",
    "a bad photo of a {c}.",
    "a close-up photo of the {c}.",
    "a bright photo of a {c}.",
    "a cropped photo of the {c}.",
)

#: Prompts written as the crawl's English alt text is (the world's
#: ``globelens.world.lexicon.TEMPLATES["en"]``), as CLIP's prompts mirror web alt text. Every
#: token of :data:`DEMO_TEMPLATES` beyond the class name is rare or absent in the training
#: captions ("." is ``<unk>``; "bad", "bright", "cropped", "close-up" split into pieces that
#: never occur), so its embedding stays at the training seed's random initialisation and
#: each seed answers differently; with these prompts the same models agree more closely
#: (benchmarks/RESULTS.md, "Seeds that agree"). ``run_study(..., templates=ALT_TEXT_TEMPLATES)``.
ALT_TEXT_TEMPLATES: tuple[str, ...] = (
    "{c}",
    "{c} at home",
    "photo: {c}",
    "{c} for sale",
    "{c} in our house",
)


@dataclass(frozen=True)
class StudyConfig:
    """Everything that sets the size of the study (the seed is given separately)."""

    profile: str
    #: crawl samples of the world
    world_size: int
    #: training seeds per model variant (intervals over seeds need at least 3)
    seeds: int
    steps: int
    batch_size: int
    lr: float
    warmup_frac: float = 0.05
    weight_decay: float = 1e-4
    #: learning-rate multiplier of SigLIP's temperature and bias. At 10 the temperature fell
    #: from 10 to 4-6 in the first 130 steps, further for some seeds than others, and the
    #: seeds disagreed most; at 1 it stays at 8.5-9 and every metric's seed spread is smaller
    #: (benchmarks/RESULTS.md, "Seeds that agree")
    logit_lr_mult: float = 1.0
    #: the cosine schedule ends at this fraction of the peak (the last phase still learns)
    min_lr_ratio: float = 0.2
    #: share of the steps that "globe->en" spends on en, at the end
    finetune_frac: float = 0.2
    preset: dict[str, Any] = field(default_factory=lambda: dict(DEMO_PRESET))
    tokenizer_captions: int = 40_000
    #: bootstrap resamples for per-benchmark intervals (used as the interval with one seed)
    n_bootstrap: int = 1000
    templates: tuple[str, ...] = DEMO_TEMPLATES
    #: image-decoding workers per training run (0: decode in the training process)
    data_workers: int = 0
    #: MiB of decoded pictures each training run keeps in memory (0: decode every time)
    decoded_cache_mb: int = 512
    #: training runs at a time (each on one thread)
    parallel: int = 2
    #: benchmark sizes: those of this world size (``globelens world build --size``)
    benchmark_size: str = "default"
    #: curation and world-drawing processes
    workers: int = 2
    #: :class:`globelens.world.WorldConfig` fields that differ from the world's defaults
    world: dict[str, Any] = field(default_factory=dict)
    #: also run MetaCLIP 2's ablation ladder: the data variants of :data:`LADDER` (metadata
    #: balancing over the world's own lists) and a model trained on each
    ladder: bool = False

    def fingerprint(self, seed: int) -> str:
        fields = dataclasses.asdict(self)
        if not self.ladder:  # studies from before the option keep their fingerprints
            del fields["ladder"]
        blob = json.dumps({"seed": seed, **fields}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


PROFILES: dict[str, StudyConfig] = {
    "full": StudyConfig(profile="full", world_size=30_000, seeds=3, steps=800, batch_size=128,
                        lr=3e-3),
    "quick": StudyConfig(profile="quick", world_size=15_000, seeds=1, steps=800,
                         batch_size=128, lr=3e-3, n_bootstrap=500),
    # the quick study plus MetaCLIP 2's ladder, over 3 seeds (about 3x the quick study's time)
    "ladder": StudyConfig(profile="ladder", world_size=15_000, seeds=3, steps=800,
                          batch_size=128, lr=3e-3, n_bootstrap=500, ladder=True),
}  # fmt: skip


@dataclass(frozen=True)
class DataVariant:
    """A curated version of the crawl: a curation recipe from ``configs/``, or, with
    ``balance``, MetaCLIP metadata balancing (``metadata_balance`` with these settings) over
    the world's own lists (``world/metadata``)."""

    name: str
    recipe: str
    description: str
    balance: dict[str, Any] | None = None

    def build_recipe(self, world: Path) -> Any:
        from globelens.curate import load_recipe

        if self.balance is None:
            return load_recipe(self.recipe)
        step = {"type": "metadata_balance", "metadata": str(world / "metadata"), **self.balance}
        return load_recipe({"name": self.recipe, "description": self.description,
                            "steps": [{"type": "langid"}, step]})  # fmt: skip


DATA_VARIANTS: dict[str, DataVariant] = {
    v.name: v
    for v in (
        DataVariant("en", "english_only", "captions that fastText lid.176 calls English"),
        DataVariant("globe", "no_filter", "every readable pair, in every language"),
        DataVariant(
            "globe-tl", "globe_tl", "every pair; non-English captions replaced by caption_en"
        ),
    )
}


#: The English tail mass of the ladder's balancing: the published thresholds (t_en = 20,000
#: or 170,000 matches) exceed every count of the world's crawl, so the tail mass is given.
LADDER_TAIL_MASS = 0.5

#: MetaCLIP 2's ablation ladder (their Table on metadata and thresholds), on the world's crawl.
LADDER: dict[str, DataVariant] = {
    v.name: v
    for v in (
        DataVariant("mc2-en-metadata", "metaclip2_english", "every caption against the English "
                    "list", {"scope": "english", "tail_mass": LADDER_TAIL_MASS}),
        DataVariant("mc2-merged", "metaclip2_merged", "every caption against all lists merged",
                    {"scope": "merged", "tail_mass": LADDER_TAIL_MASS}),
        DataVariant("mc2-one-t", "metaclip2_one_threshold", "per-language lists, English's "
                    "threshold for all", {"threshold": "shared", "tail_mass": LADDER_TAIL_MASS}),
        DataVariant("metaclip2", "metaclip2", "per-language lists and thresholds (MetaCLIP 2)",
                    {"threshold": "per_language", "tail_mass": LADDER_TAIL_MASS}),
    )
}  # fmt: skip


def data_variants(ladder: bool = False) -> dict[str, DataVariant]:
    """The study's curated data: en, globe, globe-tl, and the ladder's when asked."""
    return {**DATA_VARIANTS, **(LADDER if ladder else {})}


@dataclass(frozen=True)
class ModelVariant:
    """A training recipe over the curated data: phases of (until fraction, data variant).

    ``continues``: a variant whose run is identical up to the last phase; its checkpoint at
    the phase boundary is continued instead of recomputing those steps (same batches, same
    learning-rate schedule, so the result is the same as training from scratch).
    """

    name: str
    phases: tuple[tuple[float, str], ...]
    description: str
    continues: str | None = None

    def sources(self) -> list[str]:
        return list(dict.fromkeys(d for _, d in self.phases))


def model_variants(finetune_frac: float, ladder: bool = False) -> dict[str, ModelVariant]:
    """en, globe, globe-tl, and globe->en / globe-tl->en (then en for the last
    ``finetune_frac`` of the same number of steps); with ``ladder``, one model per rung of
    :data:`LADDER` too."""
    split = round(1.0 - finetune_frac, 6)
    rungs = {
        name: ModelVariant(name, ((1.0, name),), f"MetaCLIP 2 ladder: {dv.description}")
        for name, dv in (LADDER.items() if ladder else ())
    }
    base = {
        v.name: v
        for v in (
            ModelVariant("en", ((1.0, "en"),), "English-only data"),
            ModelVariant("globe", ((1.0, "globe"),), "all data, no filter"),
            ModelVariant("globe-tl", ((1.0, "globe-tl"),), "all data, translated to English"),
            ModelVariant(
                "globe→en",
                ((split, "globe"), (1.0, "en")),
                f"globe, then en for the last {finetune_frac:.0%} of the steps",
                continues="globe",
            ),
            ModelVariant(
                "globe-tl→en",
                ((split, "globe-tl"), (1.0, "en")),
                f"globe-tl, then en for the last {finetune_frac:.0%} of the steps",
                continues="globe-tl",
            ),
        )
    }
    return base | rungs


class TrainRun(NamedTuple):
    """One training run of the study: ``split`` is the step it continues its parent's
    checkpoint from (None: trained from scratch)."""

    variant: ModelVariant
    seed: int
    cfg: Any  # globelens.train.config.TrainConfig (imported lazily: torch is heavy)
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


#: The benchmarks (registered names under the world folder) and how the report calls them.
BENCHMARKS: dict[str, str] = {
    "world/western": "Western",
    "world/dollarstreet": "Dollar Street",
    "world/geode": "GeoDE",
    "world/landmarks": "Landmarks",
    "world/xm3600": "XM3600",
}

STAGES: tuple[str, ...] = (
    "world",
    "curate",
    "tokenizer",
    "train",
    "evaluate",
    *act_two.STAGES,
    "summarise",
    "report",
)


def resolve_config(profile: str, **overrides: Any) -> StudyConfig:
    """A profile's settings with field overrides (``steps=50``); unknown names fail."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; available: {', '.join(PROFILES)}")
    names = {f.name for f in dataclasses.fields(StudyConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown study setting(s) {unknown}; valid: {sorted(names)}")
    return dataclasses.replace(PROFILES[profile], **overrides)


# ------------------------------------------------------------------------------ logging


class StudyLog:
    """Progress for people (stderr) and a JSON-lines log for machines (``demo_log.jsonl``)."""

    def __init__(self, path: Path, stream: TextIO | None = sys.stderr) -> None:
        self.path = path
        self.stream = stream
        self.t0 = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)

    def event(self, event: str, **fields: Any) -> None:
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "elapsed_s": round(time.perf_counter() - self.t0, 2),
            "event": event,
            **fields,
        }
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    def say(self, message: str) -> None:
        if self.stream is not None:
            elapsed = time.perf_counter() - self.t0
            print(f"[demo {elapsed:6.1f}s] {message}", file=self.stream, flush=True)


# -------------------------------------------------------------------------------- study


class Study:
    """One run of the study into ``out``; each stage is a method named in :data:`STAGES`."""

    def __init__(
        self,
        out: str | os.PathLike,
        config: StudyConfig,
        seed: int = 0,
        progress: bool = True,
        stream: TextIO | None = sys.stderr,
    ) -> None:
        self.out = Path(out)
        self.config = config
        self.seed = seed
        self.progress = progress
        self.seeds = [seed + k for k in range(config.seeds)]
        self.variants = model_variants(config.finetune_frac, ladder=config.ladder)
        self.data_variants = data_variants(config.ladder)
        self.world = self.out / "world"
        self.data = self.out / "data"
        self.tokenizer_dir = self.out / "tokenizer"
        self.runs = self.out / "runs"
        self.results = self.out / "results"
        self.cache = self.out / "cache"
        self.log = StudyLog(self.out / "demo_log.jsonl", stream if progress else None)
        self.timings: dict[str, float] = {}

    # -- bookkeeping ---------------------------------------------------------------------
    def _marker(self, stage: str) -> Path:
        return self.out / "stages" / f"{stage}.json"

    def _fingerprint(self, stage: str) -> str:
        """The settings a stage's result depends on (act two's stages: its own as well)."""
        fp = self.config.fingerprint(self.seed)
        return act_two.stage_fingerprint(self, stage, fp)

    def _done(self, stage: str) -> bool:
        m = self._marker(stage)
        if not m.is_file():
            return False
        try:
            return json.loads(m.read_text())["fingerprint"] == self._fingerprint(stage)
        except (ValueError, KeyError):
            return False

    def run_stage(self, stage: str, index: int) -> None:
        fn: Callable[[], Any] = act_two.stage_function(self, stage) or getattr(
            self, f"stage_{stage}"
        )
        label = f"[{index}/{len(STAGES)}] {stage}"
        if self._done(stage):
            self.log.say(f"{label}: done before, skipped")
            self.log.event("stage_skipped", stage=stage)
            return
        self.log.say(f"{label} ...")
        self.log.event("stage_start", stage=stage)
        t = time.perf_counter()
        info = fn() or {}
        dt = time.perf_counter() - t
        self.timings[stage] = round(dt, 2)
        self.log.event("stage_end", stage=stage, seconds=round(dt, 2), **info)
        self.log.say(f"{label}: finished in {dt:.1f}s")
        m = self._marker(stage)
        m.parent.mkdir(parents=True, exist_ok=True)
        m.write_text(json.dumps({"fingerprint": self._fingerprint(stage), "seconds": dt}) + "\n")

    def _invalidate_later(self, stage: str) -> None:
        """A stage that re-runs makes every later stage stale."""
        for later in STAGES[STAGES.index(stage) + 1 :]:
            self._marker(later).unlink(missing_ok=True)

    def run(self, stages: Sequence[str] = STAGES, force: bool = False) -> dict[str, Any]:
        """Run ``stages`` in order; finished ones are skipped unless ``force``."""
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; stages: {', '.join(STAGES)}")
        self.out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        self.log.event(
            "study_start",
            seed=self.seed,
            seeds=self.seeds,
            config=dataclasses.asdict(self.config),
            cpus=os.cpu_count(),
            load_average=_load_average(),
        )
        import torch

        _quiet_libraries()
        # Small models on a shared CPU: single-threaded ops in parallel processes/threads beat
        # multi-threaded ops, which stall at every barrier when other jobs hold the cores.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for i, stage in enumerate(STAGES, 1):
                if stage not in stages:
                    continue
                if force:
                    self._marker(stage).unlink(missing_ok=True)
                if not self._done(stage):
                    self._invalidate_later(stage)
                self.run_stage(stage, i)
        finally:
            torch.set_num_threads(threads)
        total = time.perf_counter() - t0
        self.log.event(
            "study_end", seconds=round(total, 2), stages=self.timings, load_average=_load_average()
        )
        summary_path = self.out / "summary.json"
        return json.loads(summary_path.read_text()) if summary_path.is_file() else {}

    # -- stages --------------------------------------------------------------------------
    def stage_world(self) -> dict[str, Any]:
        from globelens.world import SIZES, WorldConfig, build_world

        if self.world.exists() and not (self.world / "world.json").exists():
            shutil.rmtree(self.world)
        # The crawl as configured; benchmarks at a fixed size, so the precision of the
        # evaluation does not shrink with the crawl.
        size = dataclasses.replace(SIZES[self.config.benchmark_size], crawl=self.config.world_size)
        summary = build_world(
            self.world,
            seed=self.seed,
            size=size,
            workers=self.config.workers,
            config=WorldConfig(**self.config.world),
            progress=self.progress,
        )
        crawl = summary["counts"]["crawl"]
        self.log.say(
            f"world: {crawl['total']} crawl samples, {len(crawl['by_language'])} languages, "
            f"{len(crawl['by_country'])} countries"
        )
        return {"crawl": crawl["total"]}

    def stage_curate(self) -> dict[str, Any]:
        from globelens.curate import run_recipe

        kept = {}
        for name, dv in self.data_variants.items():
            out = self.data / name
            shutil.rmtree(out, ignore_errors=True)
            # The world's images are valid by construction: check headers, skip full decoding.
            recipe = dataclasses.replace(dv.build_recipe(self.world), decode="header")
            self.log.say(f"curate: {name} ({dv.recipe}: {dv.description})")
            manifest = run_recipe(
                recipe,
                str(self.world / "crawl" / "*.tar"),
                out,
                workers=self.config.workers,
                audit=True,
                progress=self.progress,
            )
            kept[name] = manifest["counts"]["kept"]
            self.log.event("curated", data=name, recipe=dv.recipe, counts=manifest["counts"])
        self.log.say("curate: kept " + ", ".join(f"{k} {v}" for k, v in kept.items()))
        return {"kept": kept}

    def _captions(self, names: Sequence[str]) -> tuple[list[str], list[str]]:
        from globelens.data import read_shards

        captions, languages = [], []
        for name in names:
            for s in read_shards(str(self.data / name / "*.tar")):
                if s.caption:
                    captions.append(s.caption)
                    languages.append(str(s.meta.get("lang") or s.meta.get("language") or "und"))
        return captions, languages

    def stage_tokenizer(self) -> dict[str, Any]:
        import random

        from globelens.models.tokenizer import bytes_per_token, save_token_report, train_tokenizer

        # All captions the models will see: the originals (globe) and the translations
        # (globe-tl); en is a subset of globe. One tokenizer for every model.
        captions, languages = self._captions(["globe", "globe-tl"])
        pairs = list(zip(captions, languages, strict=True))
        random.Random(self.seed).shuffle(pairs)
        pairs = pairs[: self.config.tokenizer_captions]
        caps, langs = [c for c, _ in pairs], [lang for _, lang in pairs]
        shutil.rmtree(self.tokenizer_dir, ignore_errors=True)
        tok = train_tokenizer(
            caps, self.config.preset["vocab_size"], self.tokenizer_dir, languages=langs,
            model_max_length=self.config.preset["text"]["context"], seed=self.seed,
        )  # fmt: skip
        report = bytes_per_token(tok, caps, langs)
        save_token_report(report, self.tokenizer_dir / "bytes_per_token.json")
        worst = max(report.items(), key=lambda kv: kv[1].get("tokens_per_caption", 0))
        return {"captions": len(caps), "vocab": len(tok), "most_tokens_per_caption": worst[0]}

    def model_dir(self, variant: str, seed: int) -> Path:
        return self.runs / f"{_slug(variant)}_seed{seed}" / "model"

    def _train_config(self, variant: ModelVariant, seed: int) -> Any:
        from globelens.train.config import PhaseConfig, SourceConfig, TrainConfig

        c = self.config
        cfg = TrainConfig(
            out=str(self.runs / f"{_slug(variant.name)}_seed{seed}"),
            steps=c.steps,
            batch_size=c.batch_size,
            seed=seed,
            progress=self.progress,
            log_every=10,
        )
        cfg.optim.lr = c.lr
        cfg.optim.warmup_frac = c.warmup_frac
        cfg.optim.weight_decay = c.weight_decay
        cfg.optim.logit_lr_mult = c.logit_lr_mult
        cfg.optim.min_lr_ratio = c.min_lr_ratio
        cfg.model.preset = dict(c.preset)
        cfg.model.tokenizer = str(self.tokenizer_dir)
        cfg.data.workers = c.data_workers
        # Every run goes over its data several times: decode each picture once.
        cfg.data.decoded_cache_mb = c.decoded_cache_mb
        cfg.threads = 1
        cfg.progress = False
        # Source names are the data variants', so a source's sample order is the same in
        # every run with this seed (globe and globe->en share their first 80% exactly).
        cfg.data.sources = [
            SourceConfig(name, str(self.data / name / "*.tar")) for name in variant.sources()
        ]
        cfg.data.phases = [PhaseConfig(until=u, mix={d: 1.0}) for u, d in variant.phases]
        cfg.checkpoint.keep = 2
        cfg.checkpoint.every = 0
        return cfg

    def _split_step(self, variant: ModelVariant) -> int:
        """Steps of ``variant`` before its last phase starts."""
        from globelens.train.config import PhaseConfig
        from globelens.train.data import Plan

        phases = [PhaseConfig(until=u, mix={d: 1.0}) for u, d in variant.phases]
        plan = Plan(variant.sources(), phases, self.config.steps, self.config.batch_size)
        return sum(1 for s in range(self.config.steps) if plan.phase_of(s) < len(phases) - 1)

    def _train_jobs(self) -> list[TrainRun]:
        """Every (variant, seed) run with its continue-from step, parents first."""
        saves: dict[str, set[int]] = {}
        for v in self.variants.values():
            if v.continues:
                saves.setdefault(v.continues, set()).add(self._split_step(v))
        jobs = []
        order = sorted(
            self.variants.values(), key=lambda v: (v.continues is not None, v.name not in saves)
        )
        for seed in self.seeds:
            for v in order:
                cfg = self._train_config(v, seed)
                split = None
                if v.continues:
                    split = self._split_step(v)
                elif v.name in saves:
                    (at,) = saves[v.name]  # one continuation point per variant
                    cfg.checkpoint.every, cfg.checkpoint.keep = at, 3
                jobs.append(TrainRun(v, seed, cfg, split))
        return jobs

    def _prepare_continuation(self, run: TrainRun) -> None:
        """Copy the parent run's checkpoint at the split into this run, to resume from."""
        v, seed, cfg, split = run
        src = self.runs / f"{_slug(v.continues or '')}_seed{seed}"
        ckpt = src / "checkpoints" / f"step_{split:06d}"
        if not ckpt.is_dir():
            raise FileNotFoundError(f"{ckpt} missing: cannot continue {v.continues}")
        dst = Path(cfg.out) / "checkpoints" / ckpt.name
        shutil.rmtree(dst, ignore_errors=True)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(ckpt, dst)

    def stage_train(self) -> dict[str, Any]:
        """Train every (variant, seed); ``parallel`` runs at a time, one thread each; a
        continued run starts when its parent has finished."""
        from globelens.experiments.scheduler import Job, run_jobs

        shutil.rmtree(self.runs, ignore_errors=True)
        runs = self._train_jobs()
        progress = _TrainProgress(sum(r.steps for r in runs), enabled=self.progress)
        secs: dict[str, float] = {}

        def start(job: Job) -> None:
            run: TrainRun = job.payload
            if run.split is not None:
                self._prepare_continuation(run)
            progress.write(
                f"  train {run.variant.name} seed {run.seed}: {run.variant.description}, "
                f"{run.steps} steps"
            )
            self.log.event("train_start", variant=run.variant.name, seed=run.seed, steps=run.steps)

        def finish(job: Job, _: Any, seconds: float) -> None:
            run: TrainRun = job.payload
            progress.finished(run)
            secs[run.key] = round(seconds, 2)
            last = _last_metrics(Path(run.cfg.out) / "metrics.jsonl")
            self.log.event(
                "trained", variant=run.variant.name, seed=run.seed, seconds=round(seconds, 2),
                steps=run.steps, loss=last.get("loss"), samples_per_s=last.get("samples_per_s"),
            )  # fmt: skip

        jobs = [Job(r.key, (r.cfg, r.split is not None), r.parent, r) for r in runs]
        try:
            run_jobs(
                jobs, _train_one, self.config.parallel, on_start=start, on_finish=finish,
                on_tick=lambda running: progress.poll([j.payload for j in running]),
            )  # fmt: skip
        finally:
            progress.close()
        return {"runs": secs}

    def stage_evaluate(self) -> dict[str, Any]:
        from globelens.evaluate import run_suite

        shutil.rmtree(self.results, ignore_errors=True)
        n = 0
        for seed in self.seeds:
            names = list(self.variants)
            self.log.say(f"evaluate: seed {seed}: {', '.join(names)} on {len(BENCHMARKS)} sets")
            res = run_suite(
                [str(self.model_dir(v, seed)) for v in names],
                list(BENCHMARKS),
                self.results / f"seed{seed}",
                model_names=names,
                data_root=str(self.world),
                n_bootstrap=self.config.n_bootstrap,
                seed=seed,
                cache_dir=str(self.cache),
                templates=list(self.config.templates),
                progress=False,
            )
            n += len(res)
        return {"results": n}

    def load_results(self) -> dict[int, list[dict[str, Any]]]:
        from globelens.evaluate import load_results

        return {s: load_results(self.results / f"seed{s}") for s in self.seeds}

    def stage_summarise(self) -> dict[str, Any]:
        from globelens.experiments.nofilter_summary import summarise

        summary = summarise(
            self.load_results(),
            list(self.variants.values()),
            config=dataclasses.asdict(self.config),
            seed=self.seed,
            data=self.data,
        )
        if act_two.has_results(self):
            summary["generative"] = act_two.summarise_act_two(self)
        summary["timings_s"] = dict(self.timings)
        (self.out / "summary.json").write_text(
            json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return {"findings": {k: v["holds"] for k, v in summary["findings"].items()}}

    def stage_report(self) -> dict[str, Any]:
        from globelens.experiments.nofilter_report import markdown_summary, write_study_report

        summary = json.loads((self.out / "summary.json").read_text(encoding="utf-8"))
        path = write_study_report(self, summary)
        md = markdown_summary(summary, path) + act_two.markdown_act_two(summary)
        (self.out / "summary.md").write_text(md, encoding="utf-8")
        return {"report": str(path)}


# ------------------------------------------------------------------------------ helpers


class _TrainProgress:
    """One progress bar over the steps of every run, fed from each run's ``metrics.jsonl``
    (the runs are other processes)."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm import tqdm

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
            step = int(_last_metrics(Path(run.cfg.out) / "metrics.jsonl").get("step", 0) or 0)
            self._advance(run, max(0, step - (run.split or 0)))

    def finished(self, run: TrainRun) -> None:
        self._advance(run, run.steps)

    def write(self, message: str) -> None:
        if self.enabled:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()


def _quiet_libraries() -> None:
    """Keep the study's own progress readable: no per-file progress bars or config warnings
    from transformers (also in the training processes, which inherit the environment)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


def _train_one(cfg: Any, resume: bool) -> str:
    """One training run in a worker process (one torch thread: small models on a shared CPU
    run faster as parallel single-threaded processes than as one multi-threaded one)."""
    import torch

    from globelens.train.loop import train

    _quiet_libraries()
    torch.set_num_threads(max(1, cfg.threads))
    return str(train(cfg, resume=resume))


def _slug(name: str) -> str:
    return name.replace("→", "-then-").replace("/", "_")


def _last_metrics(path: Path) -> dict[str, Any]:
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_study(
    out: str | os.PathLike = "out/demo",
    profile: str = "full",
    seed: int = 0,
    progress: bool = True,
    stages: Sequence[str] = STAGES,
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
]
