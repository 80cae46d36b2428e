"""``globelens report``: one self-contained HTML report from a results folder."""

from __future__ import annotations

from pathlib import Path

import typer

from globelens.report import write_report


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        results_dir: Path = typer.Argument(..., help="Folder written by `globelens eval`."),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="HTML file to write (default RESULTS_DIR/report.html)."
        ),
        title: str = typer.Option("globelens evaluation report", "--title", help="Report title."),
    ) -> None:
        """Write an HTML report: tables, accuracy by income and region, disparity, confusions."""
        try:
            path = write_report(results_dir, out, title=title)
        except FileNotFoundError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        typer.echo(f"report: {path}")
