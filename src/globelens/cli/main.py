"""Entry point of the ``globelens`` command.

Commands load lazily (click's lazy-loading pattern): :data:`COMMANDS` maps each command name to
the module that defines it and the one line ``globelens --help`` lists for it, and a module is
imported only when its command runs or its own ``--help`` is asked for. Each module exposes
``register(app)`` and imports what it needs at its top, so ``globelens --help`` stays fast
however heavy a command is. A failure is one line on stderr and exit status 2, whatever raised
it; ``--debug`` (or ``GLOBELENS_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click
import typer
from typer.core import TyperGroup

from globelens import __version__
from globelens.cli import debugging


@dataclass(frozen=True)
class LazyCommand:
    """A top-level command: the module under ``globelens.cli`` that registers it, and its line
    in the listing of ``globelens --help`` (also its ``short_help`` once loaded)."""

    module: str
    summary: str


#: every top-level command, in the order ``globelens --help`` lists them
COMMANDS: dict[str, LazyCommand] = {
    "world": LazyCommand("world", "The embedded synthetic world (crawl, scenes, benchmarks)."),
    "curate": LazyCommand(
        "curate",
        "Curate WebDataset shards with a recipe: shards, manifest.json, kept_uids.npy out.",
    ),
    "audit": LazyCommand("curate", "Rebuild audit.json and audit.html from a curation's outputs."),
    "shards": LazyCommand("shards", "Inspect WebDataset shards."),
    "train": LazyCommand(
        "train", "Train a SigLIP/CLIP model; writes OUT/model (a Hugging Face model directory)."
    ),
    "train-vlm": LazyCommand(
        "train_vlm", "Train a PaliGemma (SigLIP tower + Gemma decoder); writes OUT/model."
    ),
    "textpretrain": LazyCommand(
        "textpretrain", "Pretrain a tiny Gemma decoder on a data set's task texts (--decoder-init)."
    ),
    "codec": LazyCommand("codec", "The mask codec that turns masks into 16 <seg> tokens and back."),
    "eval": LazyCommand(
        "eval",
        "Evaluate models on benchmarks; write one JSON per (model, benchmark, task) and "
        "results.csv.",
    ),
    "report": LazyCommand(
        "report",
        "Write an HTML report: tables, accuracy by income and region, disparity, confusions.",
    ),
    "classify": LazyCommand(
        "classify", "Zero-shot classification: each picture against each phrase."
    ),
    "ask": LazyCommand(
        "ask",
        "Ask a generative model: print its text and the parsed caption, answer, boxes or masks.",
    ),
    "serve": LazyCommand(
        "serve", "Serve models over HTTP (OpenAI- and Hugging Face-shaped APIs) and a web page."
    ),
    "demo": LazyCommand(
        "demo",
        "The No Filter study end to end on the embedded world: curate, train, evaluate, report.",
    ),
}

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


def load_commands(module: str) -> dict[str, click.Command]:
    """The top-level commands ``globelens.cli.<module>`` registers, by name."""
    app = typer.Typer()
    importlib.import_module(f"globelens.cli.{module}").register(app)
    group = typer.main.get_group(app)
    commands = dict(group.commands)
    for name, command in commands.items():
        if name in COMMANDS:
            command.short_help = COMMANDS[name].summary
    return commands


#: ``ctx.meta`` key set while the top-level help lists the commands
LISTING = "globelens.cli.listing"


class LazyGroup(TyperGroup):
    """The root group: commands of :data:`COMMANDS` are imported when resolved, and the
    top-level help lists them from their summaries without importing them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        entry = COMMANDS[cmd_name]
        if ctx is not None and ctx.meta.get(LISTING):
            return click.Command(cmd_name, short_help=entry.summary)
        for name, command in load_commands(entry.module).items():
            self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # typer suggests among the loaded commands only: suggest among all of them
        names = self.list_commands(ctx)
        if args and args[0] not in names and not args[0].startswith("-"):
            matches = difflib.get_close_matches(args[0], names)
            if matches:
                guesses = ", ".join(repr(m) for m in matches)
                ctx.fail(f"No such command {args[0]!r}. Did you mean {guesses}?")
        return super().resolve_command(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ctx.meta[LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            del ctx.meta[LISTING]


class OneLineErrors(LazyGroup):
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


def command_tree() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and group (each lazy one loaded) with its words after ``globelens``,
    depth first, the root first and each group's commands in alphabetical order."""
    root = typer.main.get_command(app)

    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, cmd
        if not hasattr(cmd, "list_commands"):  # duck-typed: typer vendors its own click
            return
        ctx = cmd.context_class(cmd, info_name=path[-1] if path else "globelens")
        for name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                yield from walk(sub, (*path, name))

    yield from walk(root, ())
