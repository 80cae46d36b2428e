"""``globelens train-vlm``: PaliGemma-style training on a mixture of generative tasks."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("train-vlm")
    def train_vlm_cmd(
        data: list[str] = typer.Option(
            None,
            "--data",
            help="Shards whose .json carries captions/objects/qa/refs (a pattern, or "
            "NAME=PATTERN); repeat for several sources.",
        ),
        task: list[str] = typer.Option(
            None,
            "--task",
            help="A task of the mixture: KIND[@lang,lang][:WEIGHT] or NAME=KIND...; kinds: "
            "caption, answer, question, detect, segment, refer. Default: caption, answer, detect.",
        ),
        vision: Path = typer.Option(
            None, "--vision", help="SigLIP directory for the tower of a fresh PaliGemma."
        ),
        decoder: str = typer.Option(None, "--decoder", help="Gemma preset of a fresh model."),
        decoder_init: Path = typer.Option(
            None,
            "--decoder-init",
            help="Start a fresh model's decoder (and tokenizer) from this pretrained decoder "
            "folder (`globelens textpretrain`).",
        ),
        init_from: Path = typer.Option(
            None, "--init-from", help="Fine-tune this PaliGemma directory instead."
        ),
        lora_rank: int = typer.Option(None, "--lora-rank", help="Train LoRA adapters (peft)."),
        freeze_vision: bool = typer.Option(False, "--freeze-vision", help="Keep the tower fixed."),
        unfreeze_last_n: int = typer.Option(
            None, "--unfreeze-last-n", help="With --freeze-vision: train the last N layers."
        ),
        freeze_decoder: bool = typer.Option(
            False, "--freeze-decoder", help="Keep the Gemma decoder fixed."
        ),
        codec: Path = typer.Option(
            None,
            "--codec",
            help="Mask codec for segment/refer tasks: big_vision's vae-oid.npz or a codec "
            ".safetensors (default: the --init-from folder's own).",
        ),
        image_size: int = typer.Option(None, "--image-size", help="Tower resolution in px."),
        steps: int = typer.Option(None, "--steps", help="Optimizer steps."),
        batch_size: int = typer.Option(None, "--batch-size", help="Global batch size per step."),
        lr: float = typer.Option(None, "--lr", help="Peak learning rate."),
        seed: int = typer.Option(None, "--seed", help="Seed for init, data order, targets."),
        out: Path = typer.Option(None, "--out", help="Output folder (model, checkpoints, logs)."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint."),
        eval_data: str = typer.Option(
            None, "--eval", help="Held-out shards (same layout) scored during and after training."
        ),
        eval_every: int = typer.Option(None, "--eval-every", help="Steps between evaluations."),
        config: Path = typer.Option(None, "--config", help="TOML file with the other settings."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Train a PaliGemma (SigLIP tower + Gemma decoder); writes OUT/model, a Hugging Face
        PaliGemma directory that `globelens ask`, `eval` and `serve` load."""
        from globelens.train.config import (
            PhaseConfig,
            VLMTrainConfig,
            load_config,
            source_from_spec,
            task_from_spec,
        )
        from globelens.train.generative import GenerativeObjective
        from globelens.train.loop import train

        try:
            cfg = load_config(config, VLMTrainConfig)
            if task:
                specs = [task_from_spec(t) for t in task]
                cfg.tasks = [t for t, _ in specs]
                if any(w is not None for _, w in specs):
                    mix = {t.name: 1.0 if w is None else w for t, w in specs}
                    cfg.data.phases = [PhaseConfig(until=1.0, mix=mix)]
        except (OSError, ValueError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        top = {"steps": steps, "batch_size": batch_size, "seed": seed}
        for key, value in top.items():
            if value is not None:
                setattr(cfg, key, value)
        if out:
            cfg.out = str(out)
        if data:
            cfg.data.sources = [source_from_spec(s, i) for i, s in enumerate(data)]
        model = {
            "vision": str(vision) if vision else None,
            "decoder": decoder,
            "decoder_init": str(decoder_init) if decoder_init else None,
            "unfreeze_last_n": unfreeze_last_n,
            "init_from": str(init_from) if init_from else None,
            "lora_rank": lora_rank,
            "codec": str(codec) if codec else None,
            "image_size": image_size,
        }
        for key, value in model.items():
            if value is not None:
                setattr(cfg.model, key, value)
        cfg.model.freeze_vision = cfg.model.freeze_vision or freeze_vision
        cfg.model.freeze_decoder = cfg.model.freeze_decoder or freeze_decoder
        if lr is not None:
            cfg.optim.lr = lr
        if eval_data:
            cfg.eval.data = eval_data
        if eval_every is not None:
            cfg.eval.every = eval_every
        if quiet:
            cfg.progress = False
        try:
            model_dir = train(cfg, resume=resume, objective=GenerativeObjective)
        except (FileNotFoundError, ValueError, KeyError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(f"model: {model_dir}")
