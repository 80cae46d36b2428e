"""``globelens train-vlm``: PaliGemma-style training on a mixture of generative tasks."""

from __future__ import annotations

from pathlib import Path

import typer

from globelens.train.config import (
    PhaseConfig,
    VLMTrainConfig,
    load_config,
    source_from_spec,
    task_from_spec,
)
from globelens.train.generative import GenerativeObjective
from globelens.train.loop import train

# the command's options, declared once (typer reads them from the signature)
OPT_DATA = typer.Option(
    None,
    "--data",
    help="Shards whose .json carries captions/objects/qa/refs (a pattern, or "
    "NAME=PATTERN); repeat for several sources.",
)
OPT_TASK = typer.Option(
    None,
    "--task",
    help="A task of the mixture: KIND[@lang,lang][:WEIGHT] or NAME=KIND...; kinds: the "
    "registered tasks (caption, answer, question, detect, segment, refer). Default: "
    "caption, answer, detect.",
)
OPT_VISION = typer.Option(
    None, "--vision", help="SigLIP directory for the tower of a fresh PaliGemma."
)
OPT_DECODER = typer.Option(None, "--decoder", help="Gemma preset of a fresh model.")
OPT_DECODER_INIT = typer.Option(
    None,
    "--decoder-init",
    help="Start a fresh model's decoder (and tokenizer) from this pretrained decoder "
    "folder (`globelens textpretrain`).",
)
OPT_UNFREEZE_LAST_N = typer.Option(
    None, "--unfreeze-last-n", help="With --freeze-vision: train the tower's last N layers."
)
OPT_INIT_FROM = typer.Option(
    None, "--init-from", help="Fine-tune this PaliGemma directory instead."
)
OPT_LORA_RANK = typer.Option(None, "--lora-rank", help="Train LoRA adapters (peft).")
OPT_FREEZE_VISION = typer.Option(False, "--freeze-vision", help="Keep the tower fixed.")
OPT_FREEZE_DECODER = typer.Option(False, "--freeze-decoder", help="Keep the Gemma decoder fixed.")
OPT_CODEC = typer.Option(
    None,
    "--codec",
    help="Mask codec for segment/refer tasks: big_vision's vae-oid.npz or a codec "
    ".safetensors (default: the --init-from folder's own).",
)
OPT_IMAGE_SIZE = typer.Option(None, "--image-size", help="Tower resolution in px.")
OPT_STEPS = typer.Option(None, "--steps", help="Optimizer steps.")
OPT_BATCH_SIZE = typer.Option(None, "--batch-size", help="Global batch size per step.")
OPT_LR = typer.Option(None, "--lr", help="Peak learning rate.")
OPT_SEED = typer.Option(None, "--seed", help="Seed for init, data order, targets.")
OPT_OUT = typer.Option(None, "--out", help="Output folder (model, checkpoints, logs).")
OPT_RESUME = typer.Option(False, "--resume", help="Continue from the latest checkpoint.")
OPT_EVAL_DATA = typer.Option(
    None,
    "--eval",
    help="Held-out benchmark scored during and after training by the evaluator's tasks: "
    "scene shards (folder or glob) or a benchmark spec (world/vqa, coco_det:DIR).",
)
OPT_EVAL_DATA_ROOT = typer.Option(
    None, "--data-root", help="Where named --eval benchmarks (world/...) live."
)
OPT_EVAL_EVERY = typer.Option(None, "--eval-every", help="Steps between evaluations.")
OPT_CONFIG = typer.Option(None, "--config", help="TOML file with the other settings.")
OPT_QUIET = typer.Option(False, "--quiet", help="No progress bar.")


def register(app: typer.Typer) -> None:
    @app.command("train-vlm")
    def train_vlm_cmd(
        data: list[str] = OPT_DATA,
        task: list[str] = OPT_TASK,
        vision: Path = OPT_VISION,
        decoder: str = OPT_DECODER,
        decoder_init: Path = OPT_DECODER_INIT,
        init_from: Path = OPT_INIT_FROM,
        lora_rank: int = OPT_LORA_RANK,
        freeze_vision: bool = OPT_FREEZE_VISION,
        unfreeze_last_n: int = OPT_UNFREEZE_LAST_N,
        freeze_decoder: bool = OPT_FREEZE_DECODER,
        codec: Path = OPT_CODEC,
        image_size: int = OPT_IMAGE_SIZE,
        steps: int = OPT_STEPS,
        batch_size: int = OPT_BATCH_SIZE,
        lr: float = OPT_LR,
        seed: int = OPT_SEED,
        out: Path = OPT_OUT,
        resume: bool = OPT_RESUME,
        eval_data: str = OPT_EVAL_DATA,
        eval_data_root: str = OPT_EVAL_DATA_ROOT,
        eval_every: int = OPT_EVAL_EVERY,
        config: Path = OPT_CONFIG,
        quiet: bool = OPT_QUIET,
    ) -> None:
        """Train a PaliGemma (SigLIP tower + Gemma decoder); writes OUT/model, a Hugging Face
        PaliGemma directory that `globelens ask`, `eval` and `serve` load."""
        cfg = _load(config, task)
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
        if eval_data_root:
            cfg.eval.data_root = eval_data_root
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


def _load(config: Path | None, task: list[str] | None) -> VLMTrainConfig:
    """The settings of ``--config``, with ``--task``'s mixture (an error: one line, exit 2)."""
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
    return cfg
