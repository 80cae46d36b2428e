"""``globelens ask``: prompt a PaliGemma model about pictures in the task language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from PIL import Image

import globelens.tasks  # noqa: F401  (registers the task verbs prompts are read by)
from globelens.cli.imagelist import ImageErrors, decoded_batches
from globelens.models import tasklang
from globelens.models.paligemma import load_generator
from globelens.report.overlay import draw_parsed


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


# the command's options, declared once (typer reads them from the signature)
OPT_MODEL = typer.Argument(
    ..., help="PaliGemma model directory, or a Hub id (org/name) in the local cache."
)
OPT_IMAGES_AND_PROMPT = typer.Argument(
    ...,
    metavar="IMAGE... PROMPT",
    help='One or more pictures, then the prompt: "caption en", "answer en what is '
    'this?", "detect stove ; lamp", "segment bed" (any registered task\'s verb).',
)
OPT_AS_JSON = typer.Option(False, "--json", help="Print one JSON document.")
OPT_DRAW = typer.Option(
    None,
    "--draw",
    help="Write the picture with boxes, masks and labels drawn (out.png; several "
    "pictures: out-0.png, out-1.png ...).",
)
OPT_MAX_NEW_TOKENS = typer.Option(64, "--max-new-tokens", help="Longest answer.")
OPT_NUM_BEAMS = typer.Option(1, "--num-beams", help="Beam search width (1: greedy).")
OPT_BATCH_SIZE = typer.Option(8, "--batch-size", help="Pictures per generate call.")
OPT_DEVICE = typer.Option("cpu", "--device", help="torch device (bf16 on cuda).")
OPT_CODEC = typer.Option(
    None,
    "--codec",
    help="Mask codec for segment answers: big_vision's vae-oid.npz or a codec "
    ".safetensors (default: the model folder's own; without one, boxes only).",
)


def register(app: typer.Typer) -> None:
    @app.command("ask")
    def ask_cmd(
        model: str = OPT_MODEL,
        images_and_prompt: list[str] = OPT_IMAGES_AND_PROMPT,
        as_json: bool = OPT_AS_JSON,
        draw: Path | None = OPT_DRAW,
        max_new_tokens: int = OPT_MAX_NEW_TOKENS,
        num_beams: int = OPT_NUM_BEAMS,
        batch_size: int = OPT_BATCH_SIZE,
        device: str = OPT_DEVICE,
        codec: Path | None = OPT_CODEC,
    ) -> None:
        """Ask a generative model: print its text and the parsed caption, answer, boxes or masks.

        Boxes and masks are in pixels of each original picture; an object's score is the
        answer's log-probability (a generative detector has no per-box confidence). Text
        that does not parse is counted as invalid with a reason, never dropped silently.
        """
        if len(images_and_prompt) < 2:
            typer.echo("error: give at least one IMAGE and then the PROMPT", err=True)
            raise typer.Exit(2)
        *paths, prompt = images_and_prompt
        gen = load_generator(model, device=device, codec=codec)  # failing: one line, exit 2
        parsed_prompt = tasklang.parse_prompt(prompt)
        errors = ImageErrors()
        results: list[dict[str, Any]] = []
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
                    result["drawn"] = _draw(image, parsed, draw_path(draw, index, len(paths)))
                results.append(result)
        _print(model, prompt, parsed_prompt, results, errors, as_json)
        if errors.items:
            raise typer.Exit(1)


def _draw(image: Image.Image, parsed: tasklang.Parsed, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    draw_parsed(image, parsed).save(target)
    return str(target)


def _print(
    model: str,
    prompt: str,
    parsed_prompt: tasklang.Prompt,
    results: list[dict[str, Any]],
    errors: ImageErrors,
    as_json: bool,
) -> None:
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
        for r in results:
            if "drawn" in r:
                typer.echo(f"drew {r['drawn']}")
    for e in errors.items:
        typer.echo(f"skipped {e['image']}: {e['reason']} ({e['detail']})", err=True)
