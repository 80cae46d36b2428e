"""Entry point of the ``globelens`` command.

Each module named in ``COMMAND_MODULES`` exposes ``register(app)`` and adds its commands;
heavy imports (torch, transformers) stay inside the command functions so ``--help`` is fast.
A failure is one line on stderr and exit status 2, whatever raised it; ``--debug`` (or
``GLOBELENS_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
import typer
from typer.core import TyperGroup

from globelens import __version__
from globelens.cli import debugging

COMMAND_MODULES: tuple[str, ...] = (
    "shards",
    "world",
    "curate",
    "eval",
    "report",
    "train",
    "train_vlm",
    "textpretrain",
    "demo",
    "serve",
    "classify",
    "ask",
    "codec",
)

#: failures whose message says it all (a missing file, a bad value, a missing package): the
#: one line is the message; any other exception's line also names its type
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, ImportError, LookupError)
EXIT_ERROR = 2


def error_line(error: BaseException) -> str:
    """The one line a failure is reported as."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, KeyError) or not isinstance(error, EXPECTED_ERRORS):
        text = f"{type(error).__name__}: {text}"
    return f"error: {text} (--debug shows the traceback)"


class OneLineErrors(TyperGroup):
    """Turns an exception escaping a command into one line and exit 2 (``--debug``: raise)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (
            typer.Exit,
            typer.Abort,
            click.exceptions.Exit,
            click.exceptions.Abort,
            click.ClickException,
        ):
            raise
        except Exception as e:
            if debugging(ctx):
                raise
            typer.echo(error_line(e), err=True)
            raise typer.Exit(EXIT_ERROR) from e


app = typer.Typer(
    name="globelens",
    cls=OneLineErrors,
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
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of a failure (default: one line, exit 2)."
    ),
) -> None:
    """globelens: data-centric vision-language work, from shards to disparity reports."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"globelens.cli.{_name}").register(app)
