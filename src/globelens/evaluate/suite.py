"""The suite runner: models x benchmarks x tasks -> one JSON per result, results.csv, table.

Result JSON keys follow CLIP_benchmark (``dataset``, ``model``, ``task``, ``language``,
``metrics`` with ``acc1``, ``acc5``, ``mean_per_class_recall``, ``image_retrieval_recall@k``,
``text_retrieval_recall@k``) and add globelens' group metrics (``disparity``, ``acc_wg``,
``acc_top5_wg``), 95% bootstrap intervals (``ci95``), per-group tables (``groups``) and the top
confusions with example thumbnails (``confusions``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import globelens.tasks  # noqa: F401  (the generative tasks register into TASKS)
from globelens.data.images import ImageDecodeError, thumbnail_data_uri
from globelens.evaluate.cache import EmbeddingCache
from globelens.evaluate.datasets import Benchmark, load_benchmark
from globelens.evaluate.datasets.registry import check_spec
from globelens.evaluate.distributed import Dist, current, follow, lead, using
from globelens.evaluate.generate import GenerationCache
from globelens.evaluate.tasks import TASKS, check_forced, task_name, tasks_for
from globelens.models.base import DualEncoder, Generator
from globelens.models.hf import TRAIN_MODEL_SUBDIR, check_model_dir
from globelens.models.kinds import kind_of_model, load_model

log = logging.getLogger("globelens.evaluate")

# Columns of results.csv and the printed table, in order; other metrics follow.
LEAD_COLUMNS = ("model", "dataset", "protocol", "task", "language", "n")
TABLE_METRICS = (
    "acc1",
    "acc5",
    "mean_per_class_recall",
    "disparity",
    "acc_wg",
    "acc_top5_wg",
    "text_retrieval_recall@1",
    "image_retrieval_recall@1",
    "country_10shot",
    "region_10shot",
    # languages and cultures: Babel-ImageNet, CVQA (both model kinds), GlobalRG grounding
    "worst_language_acc1",
    "acc_local",
    "acc_en",
    "grounding_acc",
    # generative tasks
    "CIDEr",
    "Bleu_4",
    "ROUGE_L",
    "vqa_acc",
    "mAP",
    "AP50",
    "miou",
    "boxacc@0.5",
    "invalid_rate",
)
THUMB_SIZE = 96


@dataclass
class SuiteOptions:
    """Settings shared by every (model, benchmark) pair of a run."""

    data_root: str | None = None
    tasks: Sequence[str] | None = None  # default: each benchmark's own tasks
    cache_dir: str | None = None  # None: the default cache; "" disables caching
    batch_size: int = 64
    workers: int | None = None
    device: str = "cpu"
    n_bootstrap: int = 1000
    seed: int = 0
    progress: bool = True
    templates: Sequence[str] | None = None  # override every benchmark's templates
    draft: bool = True  # JPEG DCT-domain downscaling while decoding (fast, standard in PIL)
    gen_batch_size: int = 16  # (image, prompt) pairs per generate call of generative tasks
    limit: int | None = None  # evaluate only the first N records of every benchmark
    codec: str | None = None  # generators' mask codec (vae-oid.npz or .safetensors)
    #: per-task settings of generative tasks, e.g. {"max_new_tokens": 64}
    task_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Caches:
    """Where a run keeps image/text embeddings and generated answers (None: not cached)."""

    embeddings: EmbeddingCache | None = None
    generations: GenerationCache | None = None

    @classmethod
    def from_option(cls, cache_dir: str | None) -> Caches:
        """``""`` disables caching; None uses the default folders; a folder holds both."""
        if cache_dir == "":
            return cls()
        if cache_dir is None:
            return cls(EmbeddingCache(), GenerationCache())
        return cls(EmbeddingCache(cache_dir), GenerationCache(Path(cache_dir) / "generations"))


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_") or "x"


def _model_name(model: str | DualEncoder | Generator, names: set[str]) -> str:
    path = model if isinstance(model, str) else getattr(model, "path", "")
    named = Path(str(path or "model"))
    if path and named.name == TRAIN_MODEL_SUBDIR:  # a trainer writes RUN/model: the run names it
        named = named.absolute().parent
    name = named.name or str(path)
    base, k = name, 2
    while name in names:  # two dirs named "final" under different runs
        name = f"{named.parent.name}/{base}" if k == 2 else f"{base}-{k}"
        k += 1
    names.add(name)
    return name


def _attach_examples(result: dict[str, Any], bench: Benchmark) -> None:
    """Replace confusion example indices with paths, groups and inline thumbnails."""
    confusions = result.get("confusions") or []
    wanted = sorted({i for c in confusions for i in c["examples"]})
    try:
        images = bench.read_images(wanted) if wanted else {}
    except OSError:
        images = {}
    for c in confusions:
        examples = []
        for i in c["examples"]:
            meta = bench.records[i].meta
            ex = {
                "image": bench.image_label(i),
                "country": meta.get("country", ""),
                "region": meta.get("region", ""),
                "income_bucket": meta.get("income_bucket", ""),
            }
            if i in images:
                with contextlib.suppress(ImageDecodeError):
                    ex["thumbnail"] = thumbnail_data_uri(images[i], THUMB_SIZE)
            examples.append(ex)
        c["examples"] = examples


def evaluate_model_on_benchmark(
    model: DualEncoder | Generator,
    bench: Benchmark,
    tasks: Sequence[str],
    opts: SuiteOptions,
    cache: EmbeddingCache | Caches | None,
) -> list[dict[str, Any]]:
    """Run ``tasks`` for one model on one loaded benchmark (the work its protocol shares,
    image embeddings or generation, is prepared once)."""
    caches = cache if isinstance(cache, Caches) else Caches(embeddings=cache)
    kind = kind_of_model(model)
    prepared = kind.prepare.get()(model, bench, opts, caches)
    out = []
    for name in tasks:
        task = TASKS[name]
        if task.protocol != kind.name:
            raise ValueError(f"task {name!r} needs a {task.protocol} model, not a {kind.name}")
        t1 = time.perf_counter()
        for res in task(prepared.ctx):
            res.setdefault("n_images", len(bench.records))
            skipped = dict(prepared.skipped)
            for reason, n in res.pop("skipped_extra", {}).items():
                skipped[reason] = skipped.get(reason, 0) + n
            res["skipped"] = skipped
            res["timing"] = {
                **prepared.timing,
                **res.get("timing", {}),
                "task_s": round(time.perf_counter() - t1, 3),
            }
            if res.get("confusions"):
                _attach_examples(res, bench)
            out.append(res)
    return out


def run_suite(
    models: Sequence[str | os.PathLike | DualEncoder],
    benchmarks: Sequence[str],
    out_dir: str | os.PathLike | None = None,
    options: SuiteOptions | None = None,
    model_names: Sequence[str] | None = None,
    dist: Dist | None = None,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Evaluate every model on every benchmark; write JSONs + results.csv to ``out_dir``.

    ``models`` are model directories or loaded :class:`DualEncoder` objects; ``benchmarks``
    are names (``world/geode``), ``FORMAT:PATH`` or folders. ``overrides`` set
    :class:`SuiteOptions` fields. Returns the result dicts (also written as files).

    ``dist``: this process's rank under ``torchrun`` (``distributed.init_from_env``): rank 0
    returns and writes the results; the other ranks do their shares and return nothing.
    """
    opts = options or SuiteOptions()
    for k, v in overrides.items():
        if not hasattr(opts, k):
            raise TypeError(f"run_suite got an unknown option {k!r}")
        setattr(opts, k, v)
    with using(dist or current()) as d:
        results = _run(models, benchmarks, opts, model_names, d)
    if out_dir is not None and d.is_main:
        write_results(results, out_dir)
    return results


def _run(
    models: Sequence[str | os.PathLike | DualEncoder],
    benchmarks: Sequence[str],
    opts: SuiteOptions,
    model_names: Sequence[str] | None,
    dist: Dist,
) -> list[dict[str, Any]]:
    # Fail fast, before any model is loaded: every benchmark, its options and task must resolve.
    for spec in benchmarks:
        check_spec(spec, opts.data_root)
    forced = [task_name(t) for t in opts.tasks] if opts.tasks else None
    # Only rank 0 reads and writes caches: the others are told what is left to compute.
    caches = Caches.from_option(opts.cache_dir) if dist.is_main else Caches()
    for m in models:
        if isinstance(m, str | os.PathLike):
            check_model_dir(m)
    loaded_benches = {spec: load_benchmark(spec, opts.data_root) for spec in benchmarks}
    if forced:
        check_forced(forced, list(loaded_benches.values()))
    if opts.limit:
        for b in loaded_benches.values():
            b.records = b.records[: opts.limit]
    for spec, b in loaded_benches.items():
        if b.report.problems and dist.is_main:
            log.warning(
                json.dumps({"event": "benchmark_problems", "benchmark": spec, **b.report.counts()})
            )
    names: set[str] = set()
    results: list[dict[str, Any]] = []
    for i, m in enumerate(models):
        mname = (
            model_names[i]
            if model_names
            else _model_name(m if not isinstance(m, os.PathLike) else str(m), names)
        )
        device = dist.device(opts.device)
        model = load_model(m, device, opts.codec) if isinstance(m, str | os.PathLike) else m
        proto = kind_of_model(model).name
        for bench in loaded_benches.values():
            tasks = tasks_for(bench, proto, forced)
            if not tasks:
                log.info(
                    json.dumps({"event": "no_task", "benchmark": bench.name, "protocol": proto})
                )
                continue
            if not dist.is_main:
                follow(dist, model, bench)
                continue
            with lead(dist):
                done = evaluate_model_on_benchmark(model, bench, tasks, opts, caches)
            for res in done:
                res = {
                    "dataset": bench.name,
                    "protocol": bench.protocol,
                    "model": mname,
                    "model_path": str(getattr(model, "path", m if isinstance(m, str) else "")),
                    "model_fingerprint": model.fingerprint,
                    **res,
                }
                results.append(res)
                if opts.progress:
                    log.info(json.dumps({"event": "result", **_row(res)}, ensure_ascii=False))
    return results


def _row(res: dict[str, Any]) -> dict[str, Any]:
    row = {k: res.get(k, "") for k in LEAD_COLUMNS if k != "n"}
    row["n"] = res.get("n_evaluated", "")
    row.update(res.get("metrics", {}))
    return row


def result_filename(res: dict[str, Any]) -> str:
    return f"{_slug(res['model'])}__{_slug(res['dataset'])}__{res['task']}.json"


def write_results(results: Sequence[dict[str, Any]], out_dir: str | os.PathLike) -> Path:
    """One JSON per result plus ``results.csv``; returns the CSV path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for res in results:
        (out / result_filename(res)).write_text(
            json.dumps(res, indent=1, ensure_ascii=False, allow_nan=True)
        )
    rows = [_row(r) for r in results]
    cols = list(LEAD_COLUMNS)
    for r in rows:
        cols.extend(k for k in r if k not in cols)
    path = out / "results.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
    return path


def load_results(results_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every result JSON in a folder (files with ``dataset``, ``model``, ``task`` keys)."""
    out = []
    for p in sorted(Path(results_dir).glob("*.json")):
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(obj, dict) and {"dataset", "model", "task", "metrics"} <= obj.keys():
            out.append(obj)
    return out


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """A fixed-width table of the main metrics (percentages), one row per result."""
    cols = [c for c in TABLE_METRICS if any(c in r.get("metrics", {}) for r in results)]
    short = {
        "mean_per_class_recall": "mpcr",
        "text_retrieval_recall@1": "i2t@1",
        "image_retrieval_recall@1": "t2i@1",
        "acc_top5_wg": "top5_wg",
        "country_10shot": "ctry10",
        "region_10shot": "reg10",
        "boxacc@0.5": "box@.5",
        "invalid_rate": "invalid%",
        "worst_language_acc1": "worst_lang",
        "grounding_acc": "ground@.5",
    }
    header = ["model", "dataset", "task", *[short.get(c, c) for c in cols]]
    task_short = {
        "zeroshot_classification": "zeroshot",
        "zeroshot_retrieval": "retrieval",
        "fewshot_geolocalization": "fewshot",
        "referring_segmentation": "refseg",
        "classification_by_generation": "genclassify",
        "multiple_choice_by_generation": "mcq_letter",
        "multilingual_zeroshot": "multilingual",
    }
    lines = []
    for r in results:
        m = r.get("metrics", {})
        dataset = f"{r['dataset']} [{r['protocol']}]" if r.get("protocol") else r["dataset"]
        cells = [r["model"], dataset, task_short.get(r["task"], r["task"])]
        cells += [f"{100 * m[c]:.1f}" if c in m else "" for c in cols]
        lines.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), *(fmt.format(*ln) for ln in lines)])
