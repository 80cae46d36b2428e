"""``globelens shards``: inspect WebDataset shards."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect WebDataset shards.", no_args_is_help=True)

    @group.command("stats")
    def stats(
        pattern: str = typer.Argument(..., help="Shard paths, glob or brace pattern."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a summary."),
        no_decode: bool = typer.Option(
            False, "--no-decode", help="Skip full image decoding (faster; misses corrupt pixels)."
        ),
    ) -> None:
        """Count samples, bytes, image sizes, caption lengths, metadata fields and problems."""
        from globelens.data.stats import format_stats, shard_stats

        try:
            result = shard_stats(pattern, decode=not no_decode)
        except FileNotFoundError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json else format_stats(result))

    app.add_typer(group, name="shards")
