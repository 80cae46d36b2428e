"""``globelens curate`` and ``globelens audit``: filter shards with a recipe, see whom it drops."""

from __future__ import annotations

import json

import typer

from globelens.curate import audit_data, run_recipe, write_audit

# the command's options, declared once (typer reads them from the signature)
OPT_RECIPE = typer.Option(
    ...,
    "--recipe",
    "-r",
    help="Recipe TOML file, or a name in configs/ (e.g. english_only).",
)
OPT_IN_PATTERN = typer.Option(
    ...,
    "--in",
    "-i",
    help="Input shards: paths, glob, {00000..00009} braces, folder; '::' joins several.",
)
OPT_OUT = typer.Option(..., "--out", "-o", help="Output folder (re-running it resumes).")
OPT_ENGINE = typer.Option("local", "--engine", help="local (process pool) or ray (Ray Data).")
OPT_WORKERS = typer.Option(2, "--workers", "-w", help="Parallel workers (processes or Ray tasks).")
OPT_AUDIT = typer.Option(False, "--audit", help="Also write audit.json and audit.html.")
OPT_SHARD_SIZE = typer.Option(10_000, "--shard-size", help="Samples per output shard.")
OPT_ADDRESS = typer.Option(None, "--address", help="Ray cluster address (ray engine only).")
OPT_KEEP_STAGING = typer.Option(
    False,
    "--keep-staging",
    help="Keep _work/stage/ (each input shard's locally kept samples) after the run.",
)
OPT_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def register(app: typer.Typer) -> None:
    @app.command("curate")
    def curate(
        recipe: str = OPT_RECIPE,
        in_pattern: str = OPT_IN_PATTERN,
        out: str = OPT_OUT,
        engine: str = OPT_ENGINE,
        workers: int = OPT_WORKERS,
        audit: bool = OPT_AUDIT,
        shard_size: int = OPT_SHARD_SIZE,
        address: str = OPT_ADDRESS,
        keep_staging: bool = OPT_KEEP_STAGING,
        quiet: bool = OPT_QUIET,
    ) -> None:
        """Curate WebDataset shards with a recipe: shards, manifest.json, kept_uids.npy out."""
        try:
            manifest = run_recipe(
                recipe,
                in_pattern,
                out,
                engine=engine,
                workers=workers,
                audit=audit,
                shard_size=shard_size,
                address=address,
                progress=not quiet,
                keep_staging=keep_staging,
            )
        except (FileNotFoundError, ValueError, ImportError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        c = manifest["counts"]
        typer.echo(
            f"{manifest['recipe']}: in {c['in']}, kept {c['kept']}, dropped {c['dropped_total']}, "
            f"corrupt {c['corrupt_total']} ({manifest['throughput_samples_per_s']} samples/s) -> {out}"
        )
        for step, reasons in c["dropped"].items():
            typer.echo(f"  {step}: {json.dumps(reasons)}")
        if c["corrupt"]:
            typer.echo(f"  corrupt: {json.dumps(c['corrupt'])}")
        if audit:
            typer.echo(audit_data(out)["headline"])
            typer.echo(f"audit: {out}/audit.html")

    @app.command("audit")
    def audit_cmd(
        out: str = typer.Argument(..., help="Output folder of `globelens curate`."),
        as_json: bool = typer.Option(False, "--json", help="Print the audit JSON."),
    ) -> None:
        """Rebuild audit.json and audit.html (whom each step keeps, by language, script,
        country, region and income) from a curation's outputs."""
        try:
            paths = write_audit(out)
        except FileNotFoundError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
        data = audit_data(out)
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else data["headline"])
        typer.echo(f"audit: {paths['html']}")
