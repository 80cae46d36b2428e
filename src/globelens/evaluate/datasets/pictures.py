"""What a benchmark's pictures are replaced by before a model sees them (``?pictures=``).

``blank`` is the prior-only baseline of a generative model: every picture becomes a flat grey
one of the same size (grey is 0 after SigLIP's [-1, 1] normalisation: no signal at all), so
the same model, prompts and scoring measure what the decoder says without looking. A metric
beside its blank baseline shows how much of it the picture earned.

A picture whose header cannot be read is passed on unchanged, so the decoder counts it as
corrupt exactly as it would without the option.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from PIL import Image

from globelens.data.images import DEFAULT_MAX_PIXELS

Source = str | bytes
#: name -> the replacement of one picture (path or bytes -> path or bytes); None: as stored
PICTURES: dict[str, Callable[[Source], Source] | None] = {}
ORIGINAL = "original"
GREY = (128, 128, 128)


@lru_cache(maxsize=64)
def _grey_png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), GREY).save(buf, format="PNG")
    return buf.getvalue()


def blank_like(source: Source) -> Source:
    """A grey PNG of ``source``'s size, read from its header alone (no pixel is decoded)."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source)) as im:
            width, height = im.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return source
    if width * height > DEFAULT_MAX_PIXELS or width < 1 or height < 1:
        return source  # the decoder refuses it with its own reason
    return _grey_png(width, height)


PICTURES[ORIGINAL] = None
PICTURES["blank"] = blank_like


def check_pictures(mode: str) -> str:
    if mode not in PICTURES:
        raise ValueError(f"pictures={mode!r}: choose one of {', '.join(sorted(PICTURES))}")
    return mode


def replace_picture(mode: str, source: Source) -> Source:
    fn = PICTURES[mode]
    return source if fn is None else fn(source)
