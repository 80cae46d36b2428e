"""``globelens eval``: zero-shot, retrieval and few-shot evaluation of dual encoders, and
captioning, VQA, detection, referring segmentation and classification by generation of
generative models, with group metrics."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        model: list[str] = typer.Option(
            [],
            "--model",
            "-m",
            help="Model directory or Hub id (HF SigLIP/CLIP, or PaliGemma for generative "
            "tasks); repeat for several.",
        ),
        benchmarks: str = typer.Option(
            "world/western,world/dollarstreet,world/geode,world/landmarks,world/xm3600",
            "--benchmarks",
            "-b",
            help="Comma-separated benchmark names (see --list), FORMAT:PATH or folders, each "
            "optionally with loader options: NAME?key=value&key=value (list items joined by +).",
        ),
        out: Path = typer.Option(
            Path("results"), "--out", "-o", help="Folder for JSONs + results.csv."
        ),
        data_root: Path | None = typer.Option(
            None,
            "--data-root",
            help="Folder holding named benchmarks (for world/*: the world dir).",
        ),
        tasks: str | None = typer.Option(
            None,
            "--tasks",
            help="Comma-separated tasks (zeroshot, retrieval, fewshot; captioning, vqa, detection, "
            "segmentation, refseg, genclassify); default: each benchmark's own for each model kind.",
        ),
        templates: Path | None = typer.Option(
            None,
            "--templates",
            help="Prompt template file ({c} per line) replacing every benchmark's.",
        ),
        cache_dir: Path | None = typer.Option(
            None,
            "--cache-dir",
            help="Cache folder for embeddings and generations (default "
            "~/.cache/globelens/{embeddings,generations}).",
        ),
        no_cache: bool = typer.Option(
            False, "--no-cache", help="Do not read or write cached embeddings."
        ),
        batch_size: int = typer.Option(64, "--batch-size", help="Images per forward pass."),
        gen_batch_size: int = typer.Option(
            16, "--gen-batch-size", help="(image, prompt) pairs per generate call."
        ),
        max_new_tokens: int | None = typer.Option(
            None,
            "--max-new-tokens",
            help="Generated tokens per answer (default per task: 32 captions, 16 answers, "
            "64 detections, 32 segmentations).",
        ),
        num_beams: int = typer.Option(1, "--num-beams", help="Beam search width (1: greedy)."),
        classes_per_prompt: int | None = typer.Option(
            None,
            "--classes-per-prompt",
            help="Detection: ask for the benchmark's classes N at a time (default: all in one "
            "prompt).",
        ),
        limit: int | None = typer.Option(
            None, "--limit", help="Evaluate only the first N images of every benchmark."
        ),
        workers: int | None = typer.Option(
            None,
            "--workers",
            help="Worker threads (default: one per CPU; on CPU each decodes and encodes "
            "whole batches with one torch thread).",
        ),
        device: str = typer.Option("cpu", "--device", help="torch device (cpu, cuda, cuda:1 ...)."),
        codec: Path | None = typer.Option(
            None,
            "--codec",
            help="Mask codec for generators' referring segmentation: big_vision's vae-oid.npz "
            "or a codec .safetensors (default: the model folder's own).",
        ),
        bootstrap: int = typer.Option(
            1000, "--bootstrap", help="Bootstrap resamples for 95% CIs (0: none)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of bootstrap and few-shot splits."),
        list_benchmarks: bool = typer.Option(
            False, "--list", help="List benchmark names and formats, then exit."
        ),
    ) -> None:
        """Evaluate models on benchmarks; write one JSON per (model, benchmark, task) and results.csv."""
        from globelens.evaluate.benchmarks import FORMATS, NAMED

        if list_benchmarks:
            for name, n in sorted(NAMED.items()):
                opts = "&".join(f"{k}={v}" for k, v in n.options.items())
                typer.echo(f"{name:22s} {n.format:13s} <data-root>/{n.relpath}  {opts}".rstrip())
            typer.echo(
                "formats: " + ", ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
            )
            raise typer.Exit()
        if not model:
            typer.echo("error: give at least one --model DIR", err=True)
            raise typer.Exit(2)
        from globelens.evaluate.benchmarks.base import BenchmarkFormatError, read_lines
        from globelens.evaluate.distributed import RankFailure, init_from_env
        from globelens.evaluate.suite import SuiteOptions, format_table, run_suite

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
        from globelens.models.hf import TRAIN_MODEL_SUBDIR, resolve_model_dir
        from globelens.models.hub import is_hub_id

        dirs = []
        for m in model:
            if is_hub_id(m):  # kept as given: results are named by the id, loaded from the cache
                dirs.append(m)
                continue
            resolved = resolve_model_dir(m)
            if resolved == Path(m) / TRAIN_MODEL_SUBDIR:  # a ``globelens train`` output folder
                typer.echo(f"{m} is a training output folder: evaluating {resolved}", err=True)
            dirs.append(str(resolved))
        names = [b.strip() for b in benchmarks.split(",") if b.strip()]
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
