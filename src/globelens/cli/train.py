"""``globelens train``: contrastive training of SigLIP/CLIP models on WebDataset shards."""

from __future__ import annotations

from pathlib import Path

import typer

from globelens.train.config import load_config, source_from_spec
from globelens.train.loop import train


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        data: list[str] = typer.Option(
            None,
            "--data",
            help="Shard pattern, or NAME=PATTERN or NAME=PATTERN@caption_field; repeat for several sources "
            "(mix them with data.phases in --config).",
        ),
        preset: str = typer.Option(None, "--preset", help="Model size: tiny, small, B/16."),
        steps: int = typer.Option(None, "--steps", help="Optimizer steps."),
        batch_size: int = typer.Option(None, "--batch-size", help="Global batch size per step."),
        loss: str = typer.Option(
            None, "--loss", help="sigmoid or softmax (default: the model family's own)."
        ),
        lr: float = typer.Option(None, "--lr", help="Peak learning rate."),
        seed: int = typer.Option(None, "--seed", help="Seed for init, data order, augmentation."),
        out: Path = typer.Option(
            None, "--out", help="Output folder (checkpoints, model, metrics)."
        ),
        resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint."),
        init_from: Path = typer.Option(
            None, "--init-from", help="Fine-tune this HF model directory."
        ),
        tokenizer: Path = typer.Option(None, "--tokenizer", help="Tokenizer directory to use."),
        model_type: str = typer.Option(None, "--model-type", help="siglip (default) or clip."),
        eval_benchmark: Path = typer.Option(
            None, "--eval", help="CLIP_benchmark folder for zero-shot eval during/after training."
        ),
        config: Path = typer.Option(None, "--config", help="TOML file with the other settings."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Train a SigLIP/CLIP model; writes OUT/model (a Hugging Face model directory)."""
        try:
            cfg = load_config(config)
        except (OSError, ValueError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        overrides = {
            "steps": steps,
            "batch_size": batch_size,
            "loss": loss,
            "seed": seed,
            "out": str(out) if out else None,
        }
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        if data:
            cfg.data.sources = [source_from_spec(s, i) for i, s in enumerate(data)]
        if preset:
            cfg.model.preset = preset
        if model_type:
            cfg.model.model_type = model_type
        if tokenizer:
            cfg.model.tokenizer = str(tokenizer)
        if init_from:
            cfg.model.init_from = str(init_from)
        if lr is not None:
            cfg.optim.lr = lr
        if eval_benchmark:
            cfg.eval.benchmark = str(eval_benchmark)
        if quiet:
            cfg.progress = False
        try:
            model_dir = train(cfg, resume=resume)
        except (FileNotFoundError, ValueError, KeyError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(f"model: {model_dir}")
