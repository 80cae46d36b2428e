"""``globelens demo``: the No Filter study end to end on the embedded world."""

from __future__ import annotations

from pathlib import Path

import typer

from globelens.experiments.generative_act import talk_to_the_models
from globelens.experiments.nofilter import Study, resolve_config


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("out/demo"), "--out", help="Output folder of the study."),
        quick: bool = typer.Option(
            False,
            "--quick",
            help="A smaller world and one training seed (intervals by bootstrap): ~7 min "
            "instead of ~13 on 2 CPU cores.",
        ),
        seed: int = typer.Option(
            0, "--seed", help="World seed and first training seed (the full study uses 3)."
        ),
        steps: int | None = typer.Option(
            None,
            "--steps",
            min=1,
            help="Training steps per model (default 800). More steps show more of the "
            "pattern and take proportionally longer (docs/study.md).",
        ),
        ladder: bool = typer.Option(
            False,
            "--ladder",
            help="Also run MetaCLIP 2's ablation ladder: four metadata-balanced data variants "
            "and a model on each (see docs/worldwide-curation.md); about 2x the training time.",
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress output on stderr."),
        languages: bool = typer.Option(
            False,
            "--languages",
            help="Also score every tower on the world's Babel-ImageNet (per language) and "
            "CVQA (LOCAL and English); writes OUT/languages.md (docs/languages.md).",
        ),
    ) -> None:
        """Build the world, curate it (en / globe / globe-tl), train tiny SigLIP models on
        each (and globe / globe-tl continued on en), evaluate them on Western and global benchmarks;
        then give each tower a tiny Gemma decoder, train the pairs on the world's captions, questions,
        boxes and masks, and evaluate them by income, region and language. Writes
        OUT/report.html, OUT/summary.json and OUT/demo_log.jsonl.

        Re-running into the same folder with the same settings skips finished stages.
        """

        profile = "quick" if quick else "full"
        overrides: dict = {} if steps is None else {"steps": steps}
        if ladder:
            overrides["ladder"] = True
        config = resolve_config(profile, **overrides)
        study = Study(out, config, seed=seed, progress=not quiet)
        study.run([*study.stages, "languages"] if languages else None)
        typer.echo((out / "summary.md").read_text(encoding="utf-8"), nl=False)
        if languages:
            typer.echo("\n" + (out / "languages.md").read_text(encoding="utf-8"), nl=False)
        typer.echo(f"\nThe report is at {(out / 'report.html').resolve()}")
        typer.echo(f"Machine-readable summary: {(out / 'summary.json').resolve()}")
        typer.echo(talk_to_the_models(study), nl=False)
