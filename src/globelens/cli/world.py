"""``globelens world``: build the embedded synthetic world."""

from __future__ import annotations

import typer

from globelens.world.builder import build_world, format_summary, resolve_size


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The embedded synthetic world (crawl, scenes, benchmarks).", no_args_is_help=True
    )

    @group.command("build")
    def build(
        out: str = typer.Argument(..., help="Output folder (replaced if it holds a world)."),
        seed: int = typer.Option(
            0, "--seed", help="Random seed; the same seed gives identical bytes."
        ),
        size: str = typer.Option(
            "default", "--size", help="tiny (tests), small, default, or a number of crawl samples."
        ),
        workers: int = typer.Option(
            None,
            "--workers",
            help="Drawing processes (default: up to 2); output does not depend on it.",
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Write OUT/crawl and OUT/scenes shards, OUT/benchmarks/*, OUT/metadata/{lang}.txt
        (MetaCLIP metadata lists, one entry a line, for the metaclip recipes), OUT/world.json
        and OUT/contact_sheet.png."""
        try:
            resolve_size(size)
            summary = build_world(out, seed=seed, size=size, workers=workers, progress=not quiet)
        except (ValueError, FileExistsError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(format_summary(summary, out))

    app.add_typer(group, name="world")
