"""Entry point of the ``globelens`` command.

Each module named in ``COMMAND_MODULES`` exposes ``register(app)`` and adds its commands;
heavy imports (torch, transformers) stay inside the command functions so ``--help`` is fast.
"""

from __future__ import annotations

import importlib

import typer

from globelens import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "shards",
    "world",
    "curate",
    "eval",
    "report",
    "train",
    "train_vlm",
    "demo",
    "serve",
    "classify",
    "ask",
    "codec",
)

app = typer.Typer(
    name="globelens",
    help="Curate image-text data, train SigLIP-style models, and see who they work for.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"globelens {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """globelens: data-centric vision-language work, from shards to disparity reports."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"globelens.cli.{_name}").register(app)
