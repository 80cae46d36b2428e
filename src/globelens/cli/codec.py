"""``globelens codec``: the mask codec behind ``<segDDD>`` tokens (convert, train)."""

from __future__ import annotations

import json

import typer

from globelens.models.maskcodec import convert_vae_oid, load_codec
from globelens.models.maskcodec_train import CodecTrainConfig, evaluate_codec, train_codec_files


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The mask codec that turns masks into 16 <seg> tokens and back.",
        no_args_is_help=True,
    )

    @group.command("convert")
    def convert(
        npz: str = typer.Argument(..., help="big_vision's vae-oid.npz."),
        out: str = typer.Argument(..., help="Where to write the codec (.safetensors)."),
    ) -> None:
        """Convert the official vae-oid.npz weights into a codec safetensors file."""
        path = convert_vae_oid(npz, out)  # a failure: one line, exit 2 (``cli.main``)
        typer.echo(f"wrote {path}")

    @group.command("train")
    def train(
        out: str = typer.Option(..., "--out", help="Where to write the codec (.safetensors)."),
        coco: str | None = typer.Option(
            None, "--coco", help="Train on a COCO instances JSON's masks."
        ),
        scenes: str | None = typer.Option(
            None, "--scenes", help="Or on scene shards' object masks, e.g. 'OUT/scenes/*.tar'."
        ),
        heldout_coco: str | None = typer.Option(
            None,
            "--heldout-coco",
            help="Score on this COCO JSON's masks (default: a tenth of the training masks).",
        ),
        steps: int = typer.Option(400, "--steps", help="Training steps (at most)."),
        batch_size: int = typer.Option(32, "--batch-size"),
        target_iou: float | None = typer.Option(
            None, "--target-iou", help="Stop once the held-out round-trip IoU reaches this."
        ),
        limit: int | None = typer.Option(None, "--limit", help="Use at most this many masks."),
        seed: int = typer.Option(0, "--seed"),
        threads: int = typer.Option(
            1, "--threads", help="torch CPU threads (one is fastest on a shared machine)."
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Train a small codec on instance masks; prints its held-out round-trip IoU."""
        cfg = CodecTrainConfig(
            steps=steps, batch_size=batch_size, target_iou=target_iou, seed=seed, threads=threads
        )
        report = train_codec_files(
            out,
            coco=coco,
            scenes=scenes,
            heldout_coco=heldout_coco,
            config=cfg,
            limit=limit,
            progress=not quiet,
        )
        summary = {k: v for k, v in report.to_dict().items() if k != "history"}
        typer.echo(json.dumps({"out": out, **summary}))

    @group.command("eval")
    def evaluate(
        codec_path: str = typer.Argument(..., help="A codec (.safetensors)."),
        coco: str = typer.Option(..., "--coco", help="A COCO instances JSON with masks."),
        limit: int | None = typer.Option(None, "--limit", help="Score at most this many masks."),
    ) -> None:
        """Encode-then-decode IoU of a codec on a COCO file's masks, at full resolution."""
        codec = load_codec(codec_path)
        result = evaluate_codec(codec, coco, limit=limit)
        typer.echo(json.dumps({"codec": codec_path, "coco": coco, **result}))

    app.add_typer(group, name="codec")
