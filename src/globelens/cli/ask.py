"""``globelens ask``: prompt a PaliGemma model about pictures in the task language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def draw_path(out: Path, index: int, total: int) -> Path:
    """``out`` for one picture; ``out-<i>.png`` style names for several."""
    return out if total == 1 else out.with_name(f"{out.stem}-{index}{out.suffix or '.png'}")


def _describe(result: dict[str, Any]) -> list[str]:
    lines = [
        f"{result['image']}  ({result['width']}x{result['height']})",
        f"  text: {result['text']}",
    ]
    if result["answer"] is not None:  # None where the answer is boxes or masks
        lines.append(f"  answer: {result['answer']}")
    for obj in result["objects"]:
        box = ", ".join(f"{v:.1f}" for v in obj["box"])
        mask = f"  mask {obj['mask']['size'][1]}x{obj['mask']['size'][0]}" if "mask" in obj else ""
        lines.append(f"  {obj['label']}: box [{box}]{mask}  score {obj['score']:.3f}")
    for reason, n in sorted(result["invalid_counts"].items()):
        lines.append(f"  invalid: {reason} x{n}")
    return lines


def register(app: typer.Typer) -> None:
    @app.command("ask")
    def ask_cmd(
        model: str = typer.Argument(
            ..., help="PaliGemma model directory, or a Hub id (org/name) in the local cache."
        ),
        images_and_prompt: list[str] = typer.Argument(
            ...,
            metavar="IMAGE... PROMPT",
            help='One or more pictures, then the prompt: "caption en", "answer en what is '
            'this?", "detect stove ; lamp", "segment bed" (any registered task\'s verb).',
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
        draw: Path | None = typer.Option(
            None,
            "--draw",
            help="Write the picture with boxes, masks and labels drawn (out.png; several "
            "pictures: out-0.png, out-1.png ...).",
        ),
        max_new_tokens: int = typer.Option(64, "--max-new-tokens", help="Longest answer."),
        num_beams: int = typer.Option(1, "--num-beams", help="Beam search width (1: greedy)."),
        batch_size: int = typer.Option(8, "--batch-size", help="Pictures per generate call."),
        device: str = typer.Option("cpu", "--device", help="torch device (bf16 on cuda)."),
        codec: Path | None = typer.Option(
            None,
            "--codec",
            help="Mask codec for segment answers: big_vision's vae-oid.npz or a codec "
            ".safetensors (default: the model folder's own; without one, boxes only).",
        ),
    ) -> None:
        """Ask a generative model: print its text and the parsed caption, answer, boxes or masks.

        Boxes and masks are in pixels of each original picture; an object's score is the
        answer's log-probability (a generative detector has no per-box confidence). Text
        that does not parse is counted as invalid with a reason, never dropped silently.
        """
        import globelens.tasks  # noqa: F401  (the task verbs prompts are read by)
        from globelens.cli.imagelist import ImageErrors, decoded_batches
        from globelens.models import tasklang
        from globelens.models.paligemma import load_generator

        if len(images_and_prompt) < 2:
            typer.echo("error: give at least one IMAGE and then the PROMPT", err=True)
            raise typer.Exit(2)
        *paths, prompt = images_and_prompt
        gen = load_generator(model, device=device, codec=codec)  # failing: one line, exit 2
        parsed_prompt = tasklang.parse_prompt(prompt)
        errors = ImageErrors()
        results: list[dict[str, Any]] = []
        drawn: list[str] = []
        for batch in decoded_batches([Path(p) for p in paths], batch_size, errors, "ask"):
            outs = gen.generate(
                [im for _, _, im in batch],
                [prompt] * len(batch),
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                batch_size=batch_size,
            )
            for (index, path, image), out in zip(batch, outs, strict=True):
                width, height = image.size
                parsed = tasklang.parse(
                    parsed_prompt, out.text, width, height, codec=gen.codec, score=out.logprob
                )
                result = {
                    "image": path,
                    "width": width,
                    "height": height,
                    "logprob": out.logprob,
                    **parsed.to_json(),
                }
                if draw is not None:
                    from globelens.report.overlay import draw_parsed

                    target = draw_path(draw, index, len(paths))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    draw_parsed(image, parsed).save(target)
                    result["drawn"] = str(target)
                    drawn.append(str(target))
                results.append(result)
        if as_json:
            doc = {
                "model": str(model),
                "prompt": prompt,
                "task": parsed_prompt.task,
                "results": results,
                "errors": errors.items,
            }
            typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        else:
            typer.echo(f"prompt: {prompt}  (task: {parsed_prompt.task})")
            for r in results:
                typer.echo("\n".join(_describe(r)))
            for d in drawn:
                typer.echo(f"drew {d}")
        for e in errors.items:
            typer.echo(f"skipped {e['image']}: {e['reason']} ({e['detail']})", err=True)
        if errors.items:
            raise typer.Exit(1)
