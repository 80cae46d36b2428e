"""``globelens eval``: zero-shot, retrieval and few-shot evaluation of dual encoders, and
captioning, VQA, detection, referring segmentation and classification by generation of
generative models, with group metrics."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from globelens.evaluate.datasets import FORMATS, NAMED
from globelens.evaluate.datasets.base import BenchmarkFormatError, read_lines
from globelens.evaluate.distributed import Dist, RankFailure, init_from_env
from globelens.evaluate.suite import SuiteOptions, format_table, run_suite
from globelens.models.hf import TRAIN_MODEL_SUBDIR, resolve_model_dir
from globelens.models.hub import is_hub_id

# the command's options, declared once (typer reads them from the signature)
OPT_MODEL = typer.Option(
    [],
    "--model",
    "-m",
    help="Model directory or Hub id (HF SigLIP/CLIP, or PaliGemma for generative "
    "tasks); repeat for several.",
)
OPT_BENCHMARKS = typer.Option(
    "world/western,world/dollarstreet,world/geode,world/landmarks,world/xm3600",
    "--benchmarks",
    "-b",
    help="Comma-separated benchmark names (see --list), FORMAT:PATH or folders, each "
    "optionally with loader options: NAME?key=value&key=value (list items joined by +).",
)
OPT_OUT = typer.Option(Path("results"), "--out", "-o", help="Folder for JSONs + results.csv.")
OPT_DATA_ROOT = typer.Option(
    None,
    "--data-root",
    help="Folder holding named benchmarks (for world/*: the world dir).",
)
OPT_TASKS = typer.Option(
    None,
    "--tasks",
    help="Comma-separated tasks (zeroshot, retrieval, fewshot; captioning, vqa, detection, "
    "segmentation, refseg, genclassify); default: each benchmark's own for each model kind.",
)
OPT_TEMPLATES = typer.Option(
    None,
    "--templates",
    help="Prompt template file ({c} per line) replacing every benchmark's.",
)
OPT_CACHE_DIR = typer.Option(
    None,
    "--cache-dir",
    help="Cache folder for embeddings and generations (default "
    "~/.cache/globelens/{embeddings,generations}).",
)
OPT_NO_CACHE = typer.Option(False, "--no-cache", help="Do not read or write cached embeddings.")
OPT_BATCH_SIZE = typer.Option(64, "--batch-size", help="Images per forward pass.")
OPT_GEN_BATCH_SIZE = typer.Option(
    16, "--gen-batch-size", help="(image, prompt) pairs per generate call."
)
OPT_MAX_NEW_TOKENS = typer.Option(
    None,
    "--max-new-tokens",
    help="Generated tokens per answer (default per task: 32 captions, 16 answers, "
    "64 detections, 32 segmentations).",
)
OPT_NUM_BEAMS = typer.Option(1, "--num-beams", help="Beam search width (1: greedy).")
OPT_CLASSES_PER_PROMPT = typer.Option(
    None,
    "--classes-per-prompt",
    help="Detection: ask for the benchmark's classes N at a time (default: all in one prompt).",
)
OPT_LIMIT = typer.Option(
    None, "--limit", help="Evaluate only the first N images of every benchmark."
)
OPT_WORKERS = typer.Option(
    None,
    "--workers",
    help="Worker threads (default: one per CPU; on CPU each decodes and encodes "
    "whole batches with one torch thread).",
)
OPT_DEVICE = typer.Option("cpu", "--device", help="torch device (cpu, cuda, cuda:1 ...).")
OPT_CODEC = typer.Option(
    None,
    "--codec",
    help="Mask codec for generators' referring segmentation: big_vision's vae-oid.npz "
    "or a codec .safetensors (default: the model folder's own).",
)
OPT_BOOTSTRAP = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for 95% CIs (0: none).")
OPT_SEED = typer.Option(0, "--seed", help="Seed of bootstrap and few-shot splits.")
OPT_LIST_BENCHMARKS = typer.Option(
    False, "--list", help="List benchmark names and formats, then exit."
)


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        model: list[str] = OPT_MODEL,
        benchmarks: str = OPT_BENCHMARKS,
        out: Path = OPT_OUT,
        data_root: Path | None = OPT_DATA_ROOT,
        tasks: str | None = OPT_TASKS,
        templates: Path | None = OPT_TEMPLATES,
        cache_dir: Path | None = OPT_CACHE_DIR,
        no_cache: bool = OPT_NO_CACHE,
        batch_size: int = OPT_BATCH_SIZE,
        gen_batch_size: int = OPT_GEN_BATCH_SIZE,
        max_new_tokens: int | None = OPT_MAX_NEW_TOKENS,
        num_beams: int = OPT_NUM_BEAMS,
        classes_per_prompt: int | None = OPT_CLASSES_PER_PROMPT,
        limit: int | None = OPT_LIMIT,
        workers: int | None = OPT_WORKERS,
        device: str = OPT_DEVICE,
        codec: Path | None = OPT_CODEC,
        bootstrap: int = OPT_BOOTSTRAP,
        seed: int = OPT_SEED,
        list_benchmarks: bool = OPT_LIST_BENCHMARKS,
    ) -> None:
        """Evaluate models on benchmarks; write one JSON per (model, benchmark, task) and results.csv."""
        if list_benchmarks:
            _list_benchmarks()
            raise typer.Exit()
        if not model:
            typer.echo("error: give at least one --model DIR", err=True)
            raise typer.Exit(2)
        dist = init_from_env()  # under torchrun: this process's rank; else one process
        # Rank 0 speaks for the run; the other ranks only warn.
        logging.basicConfig(level=logging.INFO if dist.is_main else logging.WARNING,
                            format="%(message)s")  # fmt: skip
        opts = SuiteOptions(
            data_root=str(data_root) if data_root else None,
            tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else None,
            cache_dir="" if no_cache else (str(cache_dir) if cache_dir else None),
            batch_size=batch_size,
            workers=workers,
            device=device,
            n_bootstrap=bootstrap,
            seed=seed,
            templates=read_lines(templates) if templates else None,
            gen_batch_size=gen_batch_size,
            limit=limit,
            codec=str(codec) if codec else None,
            task_options={"num_beams": num_beams}
            | ({"max_new_tokens": max_new_tokens} if max_new_tokens else {})
            | ({"classes_per_prompt": classes_per_prompt} if classes_per_prompt else {}),
        )
        names = [b.strip() for b in benchmarks.split(",") if b.strip()]
        _run(_model_dirs(model), names, out, opts, dist)


def _list_benchmarks() -> None:
    for name, n in sorted(NAMED.items()):
        opts = "&".join(f"{k}={v}" for k, v in n.options.items())
        typer.echo(f"{name:22s} {n.format:13s} <data-root>/{n.relpath}  {opts}".rstrip())
    typer.echo("formats: " + ", ".join(f"{f.name} ({f.description})" for f in FORMATS.values()))


def _model_dirs(models: list[str]) -> list[str]:
    """Each ``--model`` as the suite loads it: a Hub id as given (results are named by the id,
    loaded from the cache), a training output folder as its model inside."""
    dirs = []
    for m in models:
        if is_hub_id(m):
            dirs.append(m)
            continue
        resolved = resolve_model_dir(m)
        if resolved == Path(m) / TRAIN_MODEL_SUBDIR:  # a ``globelens train`` output folder
            typer.echo(f"{m} is a training output folder: evaluating {resolved}", err=True)
        dirs.append(str(resolved))
    return dirs


def _run(dirs: list[str], names: list[str], out: Path, opts: SuiteOptions, dist: Dist) -> None:
    try:
        results = run_suite(dirs, names, out, opts, dist=dist)
    except (ValueError, FileNotFoundError, BenchmarkFormatError, RankFailure) as e:
        dist.report_failure(e)
        rank = f"rank {dist.rank}: " if dist.active else ""
        typer.echo(f"error: {rank}{e}", err=True)
        raise typer.Exit(2) from e
    except BaseException as e:  # the other ranks name this one when they find it gone
        dist.report_failure(e)
        raise
    finally:
        dist.close()
    if not dist.is_main:
        return
    typer.echo(format_table(results))
    typer.echo(f"\nwrote {len(results)} result files and {out / 'results.csv'}")
