"""The study machinery: a folder, a log, the settings, the registry of stages and the runner.

A study is a sequence of named stages, each a function of the :class:`Study` that reads what
earlier stages wrote and returns a few numbers for the log. Each act of the study is a module
that registers its stages in :data:`STUDY` (act one, the No Filter study:
:mod:`globelens.experiments.nofilter`; act two, its generative models:
:mod:`globelens.experiments.generative_act`; the languages pack:
:mod:`globelens.experiments.languages_study`), and may add settings its stages depend on,
a part of ``summary.json``, report sections and Markdown.

A stage that has finished with the same settings is skipped when the study is run again into
the same folder; a stage that runs again makes every later stage stale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch

from globelens.evaluate import load_results
from globelens.experiments.settings import StudyConfig, data_variants, model_variants

#: a stage's function: the study in, a few numbers for the log out
StageFn = Callable[["Study"], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Stage:
    """One registered stage: ``order`` places it in the study (act one's stages are 10-50,
    act two's 60-80, the summary and report 90-100); an ``optional`` stage runs only when
    named."""

    name: str
    run: StageFn
    order: int
    optional: bool = False


@dataclass
class StudyRegistry:
    """Everything the acts add to the study: stages, the settings some stages depend on,
    parts of ``summary.json``, report sections and Markdown."""

    stages: dict[str, Stage] = field(default_factory=dict)
    #: (stages, study -> fingerprint of the settings those stages depend on)
    settings: list[tuple[tuple[str, ...], Callable[[Study, str], str]]] = field(
        default_factory=list
    )
    #: key of ``summary.json`` -> study -> its content (None: nothing to add)
    summary_parts: dict[str, Callable[[Study], dict[str, Any] | None]] = field(default_factory=dict)
    #: (study, summary) -> report sections, (title, trusted HTML)
    report_parts: list[Callable[[Study, dict[str, Any]], list[tuple[str, str]]]] = field(
        default_factory=list
    )
    #: summary -> Markdown appended to ``summary.md``
    markdown_parts: list[Callable[[dict[str, Any]], str]] = field(default_factory=list)

    def stage(self, name: str, order: int, optional: bool = False) -> Callable[[StageFn], StageFn]:
        """Register the decorated function as the stage ``name``."""

        def register(fn: StageFn) -> StageFn:
            if name in self.stages and self.stages[name].run is not fn:
                raise ValueError(f"stage {name!r} is registered twice")
            self.stages[name] = Stage(name, fn, order, optional)
            return fn

        return register

    def names(self, optional: bool = False) -> tuple[str, ...]:
        """The stages in the order they run (with ``optional``: those too)."""
        ordered = sorted(self.stages.values(), key=lambda s: s.order)
        return tuple(s.name for s in ordered if optional or not s.optional)

    def get(self, name: str) -> Stage:
        if name not in self.stages:
            raise ValueError(f"unknown stage {name!r}; stages: {', '.join(self.names(True))}")
        return self.stages[name]


#: The study's one registry: importing an act registers its stages here.
STUDY = StudyRegistry()


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


class Study:
    """One run of the study into ``out``: its folders, settings, seeds and log, and the
    runner of the stages registered in ``registry``."""

    def __init__(
        self,
        out: str | os.PathLike,
        config: StudyConfig,
        seed: int = 0,
        progress: bool = True,
        stream: TextIO | None = sys.stderr,
        registry: StudyRegistry = STUDY,
    ) -> None:
        self.out = Path(out)
        self.config = config
        self.seed = seed
        self.progress = progress
        self.registry = registry
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

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages a plain :meth:`run` runs, in order."""
        return self.registry.names()

    def model_dir(self, variant: str, seed: int) -> Path:
        """The trained tower of model variant ``variant`` and training seed ``seed``."""
        return self.runs / f"{slug(variant)}_seed{seed}" / "model"

    def load_results(self) -> dict[int, list[dict[str, Any]]]:
        """Act one's evaluation results by training seed."""
        return {s: load_results(self.results / f"seed{s}") for s in self.seeds}

    # -- bookkeeping ---------------------------------------------------------------------
    def _marker(self, stage: str) -> Path:
        return self.out / "stages" / f"{stage}.json"

    def fingerprint(self, stage: str) -> str:
        """The settings ``stage``'s result depends on: the study's, and those an act
        registered for it."""
        fp = self.config.fingerprint(self.seed)
        for stages, settings in self.registry.settings:
            if stage in stages:
                blob = f"{fp}:{settings(self, stage)}"
                fp = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return fp

    def _done(self, stage: str) -> bool:
        m = self._marker(stage)
        if not m.is_file():
            return False
        try:
            return json.loads(m.read_text())["fingerprint"] == self.fingerprint(stage)
        except (ValueError, KeyError):
            return False

    def run_stage(self, stage: str, index: int, total: int) -> None:
        """Run ``stage`` (shown as number ``index`` of ``total``) unless it is done."""
        fn = self.registry.get(stage).run
        label = f"[{index}/{total}] {stage}"
        if self._done(stage):
            self.log.say(f"{label}: done before, skipped")
            self.log.event("stage_skipped", stage=stage)
            return
        self.log.say(f"{label} ...")
        self.log.event("stage_start", stage=stage)
        t = time.perf_counter()
        info = fn(self) or {}
        dt = time.perf_counter() - t
        self.timings[stage] = round(dt, 2)
        self.log.event("stage_end", stage=stage, seconds=round(dt, 2), **info)
        self.log.say(f"{label}: finished in {dt:.1f}s")
        m = self._marker(stage)
        m.parent.mkdir(parents=True, exist_ok=True)
        m.write_text(json.dumps({"fingerprint": self.fingerprint(stage), "seconds": dt}) + "\n")

    def _invalidate_later(self, stage: str, order: Sequence[str]) -> None:
        """A stage that re-runs makes every later stage stale."""
        for later in order[order.index(stage) + 1 :]:
            self._marker(later).unlink(missing_ok=True)

    def run(self, stages: Sequence[str] | None = None, force: bool = False) -> dict[str, Any]:
        """Run ``stages`` (default: every stage that is not optional) in the study's order;
        finished ones are skipped unless ``force``. Returns ``summary.json``'s content."""
        order = self.registry.names(optional=True)
        chosen = self.stages if stages is None else tuple(stages)
        unknown = [s for s in chosen if s not in order]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; stages: {', '.join(order)}")
        self.out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        self.log.event("study_start", seed=self.seed, seeds=self.seeds,
                       config=dataclasses.asdict(self.config), cpus=os.cpu_count(),
                       load_average=load_average())  # fmt: skip
        numbered = [s for s in order if s in chosen or s in self.stages]
        with single_threaded_torch():
            for i, stage in enumerate(numbered, 1):
                if stage not in chosen:
                    continue
                if force:
                    self._marker(stage).unlink(missing_ok=True)
                if not self._done(stage):
                    self._invalidate_later(stage, order)
                self.run_stage(stage, i, len(numbered))
        total = time.perf_counter() - t0
        self.log.event("study_end", seconds=round(total, 2), stages=self.timings,
                       load_average=load_average())  # fmt: skip
        summary_path = self.out / "summary.json"
        return json.loads(summary_path.read_text()) if summary_path.is_file() else {}


@contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Small models on a shared CPU: single-threaded ops in parallel processes/threads beat
    multi-threaded ops, which stall at every barrier when other jobs hold the cores."""
    quiet_libraries()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------- utilities


def quiet_libraries() -> None:
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


def slug(name: str) -> str:
    """A model variant's name as a folder name (``globe→en`` -> ``globe-then-en``)."""
    return name.replace("→", "-then-").replace("/", "_")


def last_metrics(path: Path) -> dict[str, Any]:
    """The last record of a training run's ``metrics.jsonl`` ({} before the first)."""
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the training workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: StageFn) -> StageFn:
    """The stage, with its CPU seconds in the log (the wall clock on a shared machine
    says little)."""

    def run(study: Study) -> dict[str, Any]:
        t = cpu_seconds()
        info = fn(study) or {}
        return {**info, "cpu_s": round(cpu_seconds() - t, 1)}

    return run


__all__ = [
    "STUDY",
    "Stage",
    "Study",
    "StudyLog",
    "StudyRegistry",
    "cpu_seconds",
    "last_metrics",
    "load_average",
    "quiet_libraries",
    "slug",
    "timed",
]
