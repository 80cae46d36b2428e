"""``globelens shards``: inspect WebDataset shards."""

from __future__ import annotations

import json

import typer

from globelens.data.stats import format_stats, shard_stats


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect WebDataset shards.", no_args_is_help=True)

    @group.command("stats")
    def stats(
        pattern: str = typer.Argument(
            ...,
            help="Shard paths, a glob, a brace pattern (shards/{00000..00099}.tar), a folder, "
            "or several joined with '::'.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a summary."),
        no_decode: bool = typer.Option(
            False, "--no-decode", help="Read image headers only (faster; misses corrupt pixels)."
        ),
        max_problems: int = typer.Option(
            10_000,
            "--max-problems",
            min=0,
            help="List at most this many problems in detail (all are counted by reason).",
        ),
        progress: bool | None = typer.Option(
            None,
            "--progress/--no-progress",
            help="Progress bar on stderr (default: when stderr is a terminal).",
        ),
    ) -> None:
        """Count samples, bytes, image sizes, caption lengths, metadata fields and problems.

        Reads every sample once, streaming (constant memory). Exit code 0 even when problems
        are found: they are reported, with their reasons, not fatal.
        """
        try:
            result = shard_stats(
                pattern, decode=not no_decode, max_problems=max_problems, progress=progress
            )
        except FileNotFoundError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        if as_json:
            typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        else:
            typer.echo(format_stats(result))

    app.add_typer(group, name="shards")
