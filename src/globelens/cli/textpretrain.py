"""``globelens textpretrain``: a decoder pretrained on a data set's task texts."""

from __future__ import annotations

import json

import typer

from globelens.train.textpretrain import TextPretrainConfig, pretrain_decoder


def register(app: typer.Typer) -> None:
    @app.command("textpretrain")
    def textpretrain_cmd(
        data: list[str] = typer.Option(
            ..., "--data", help="Shards whose .json carries captions/qa/objects; repeatable."
        ),
        out: str = typer.Option(..., "--out", help="Where to write the decoder folder."),
        decoder: str = typer.Option("tiny", "--decoder", help="Gemma preset."),
        kinds: str = typer.Option(
            "caption,answer,detect", "--kinds", help="Task kinds written as text."
        ),
        steps: int = typer.Option(600, "--steps", help="Optimizer steps."),
        batch_size: int = typer.Option(64, "--batch-size"),
        lr: float = typer.Option(3e-3, "--lr", help="Peak learning rate."),
        vocab: int = typer.Option(1024, "--vocab", help="Tokenizer vocabulary (bytes included)."),
        seed: int = typer.Option(0, "--seed"),
        threads: int = typer.Option(1, "--threads", help="torch CPU threads."),
    ) -> None:
        """Pretrain a Gemma decoder on the texts of the generative tasks (a causal LM); give
        the folder to `train-vlm --decoder-init`. Progress: JSON lines on stdout."""
        cfg = TextPretrainConfig(
            out=out,
            data=list(data),
            decoder=decoder,
            kinds=tuple(k for k in kinds.split(",") if k),
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            tokenizer_vocab=vocab,
            seed=seed,
            threads=threads,
        )
        pretrain_decoder(cfg, log=lambda record: typer.echo(json.dumps(record)))
