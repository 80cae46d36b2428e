"""``globelens classify``: score pictures against any phrases with a SigLIP or CLIP model."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from globelens.cli.imagelist import ImageErrors, decoded_batches
from globelens.models.classify import classify_images, split_labels
from globelens.models.hf import load_dual_encoder
from globelens.models.prompts import BARE_TEMPLATE


def _templates(value: str | None) -> list[str]:
    """A file with one template per line, or templates separated by ``|``; ``{c}`` marks the
    label (a template without it gets the label appended)."""
    if not value:
        return list(BARE_TEMPLATE)
    path = Path(value)
    parts = path.read_text(encoding="utf-8").splitlines() if path.is_file() else value.split("|")
    out = [t.strip() for t in parts if t.strip()]
    return [t if ("{c}" in t or "{}" in t) else f"{t} {{c}}" for t in out] or list(BARE_TEMPLATE)


def register(app: typer.Typer) -> None:
    @app.command("classify")
    def classify_cmd(
        model: str = typer.Argument(
            ..., help="SigLIP or CLIP model directory, or a Hub id (org/name) in the local cache."
        ),
        images: list[Path] = typer.Argument(..., help="One or more pictures."),
        labels: str = typer.Option(
            ..., "--labels", "-l", help='Comma-separated phrases, e.g. "a stove, a lamp".'
        ),
        templates: str | None = typer.Option(
            None,
            "--templates",
            "-t",
            help='Prompt templates: a file with one per line, or "a photo of {c}.|a {c}" '
            "({c} marks the label); several are averaged. Default: the labels as given.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
        top_k: int = typer.Option(0, "--top-k", "-k", help="Show the best K labels (0: all)."),
        batch_size: int = typer.Option(32, "--batch-size", help="Pictures per forward pass."),
        device: str = typer.Option("cpu", "--device", help="torch device (cpu, cuda ...)."),
    ) -> None:
        """Zero-shot classification: each picture against each phrase.

        Probabilities as the model was trained: sigmoid per phrase for SigLIP (they need not
        sum to 1), softmax over the phrases for CLIP.
        """
        names = split_labels(labels)
        if not names:
            typer.echo("error: --labels needs at least one phrase", err=True)
            raise typer.Exit(2)
        encoder = load_dual_encoder(model, device=device)  # a failure: one line, exit 2
        tpl = _templates(templates)
        errors = ImageErrors()
        results = []
        for batch in decoded_batches(images, batch_size, errors, "classify"):
            probs = classify_images(encoder, [im for _, _, im in batch], names, tpl)
            for (_, path, _), row in zip(batch, probs, strict=True):
                order = sorted(range(len(names)), key=lambda j: -row[j])
                order = order[:top_k] if top_k > 0 else order
                results.append(
                    {
                        "image": path,
                        "scores": [{"label": names[j], "score": float(row[j])} for j in order],
                    }
                )
        if as_json:
            doc = {
                "model": str(model),
                "family": encoder.family.name,
                "labels": names,
                "templates": tpl,
                "results": results,
                "errors": errors.items,
            }
            typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        else:
            for r in results:
                typer.echo(r["image"])
                for s in r["scores"]:
                    typer.echo(f"  {s['score']:.4f}  {s['label']}")
        for e in errors.items:
            typer.echo(f"skipped {e['image']}: {e['reason']} ({e['detail']})", err=True)
        if errors.items:
            raise typer.Exit(1)
