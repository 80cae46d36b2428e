"""Safe image decoding: pixel limits, EXIF orientation, RGB, fast downscaled JPEG decoding."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterable
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# Larger than any real photo we expect, far below what a decompression bomb asks for.
DEFAULT_MAX_PIXELS = 64_000_000

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")


class ImageDecodeError(ValueError):
    """An image could not be decoded; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _open(data: bytes) -> Image.Image:
    """Open (header only); PIL's own bomb check becomes ``too_many_pixels``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise ImageDecodeError("too_many_pixels", str(e)) from e
    except UnidentifiedImageError as e:
        raise ImageDecodeError("corrupt_image", "not a recognised image format") from e
    except Exception as e:  # PIL raises many types on malformed headers
        raise ImageDecodeError("corrupt_image", f"{type(e).__name__}: {e}") from e


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height read from the header only (no pixel decoding)."""
    with _open(data) as im:
        return im.size


def decode_image(
    data: bytes,
    target_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Decode ``data`` into an RGB image with EXIF orientation applied.

    ``target_size``: the shorter side the caller will resize to. For JPEG it lets the decoder
    skip work with ``draft`` (DCT scaling), keeping both sides at least ``target_size``.
    Raises :class:`ImageDecodeError` for corrupt data and for images above ``max_pixels``.
    """
    im = _open(data)
    width, height = im.size
    if width * height > max_pixels:
        im.close()
        raise ImageDecodeError(
            "too_many_pixels", f"{width}x{height} exceeds the limit of {max_pixels} pixels"
        )
    try:
        if target_size and im.format == "JPEG":
            im.draft("RGB", (target_size, target_size))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
            im = ImageOps.exif_transpose(im)
        if im.mode != "RGB":
            im = _to_rgb(im)
    except Image.DecompressionBombError as e:
        raise ImageDecodeError("too_many_pixels", str(e)) from e
    except Exception as e:  # truncated data, bad EXIF, broken palettes: all "corrupt"
        raise ImageDecodeError("corrupt_image", f"{type(e).__name__}: {e}") from e
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    # 16/32-bit greyscale would clip to white in convert("RGB"): rescale to 8 bits first.
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        hi = 65535 if im.mode.startswith("I;16") or (im.getextrema()[1] or 0) > 255 else 255
        im = im.convert("I").point(lambda v: v * 255 / hi).convert("L")
    elif im.mode == "F":
        im = im.convert("L")
    # Transparent pixels go on white, as a browser shows them, not on black.
    if (im.mode in ("P", "L") and "transparency" in im.info) or im.mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im.convert("RGB")


def encode_image(im: Image.Image, fmt: str = "jpg", quality: int = 90) -> bytes:
    """Encode an image deterministically (no timestamps, fixed settings)."""
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt in ("jpg", "jpeg"):
        im.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=False)
    elif fmt == "png":
        im.save(buf, format="PNG", optimize=False)
    elif fmt == "webp":
        im.save(buf, format="WEBP", quality=quality)
    else:
        raise ValueError(f"unknown image format {fmt!r}; use one of {IMAGE_EXTENSIONS}")
    return buf.getvalue()


def data_uri(payload: bytes, mime: str) -> str:
    """A base64 ``data:`` URI, for self-contained HTML (reports, audits, thumbnails)."""
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def thumbnail_data_uri(data: bytes, size: int = 96, quality: int = 80) -> str:
    """A small JPEG ``data:`` URI of an encoded image, for self-contained HTML reports."""
    im = decode_image(data, target_size=size)
    im.thumbnail((size, size))
    return data_uri(encode_image(im, quality=quality), "image/jpeg")


def blend_masks(
    image: Image.Image,
    masks: Iterable[tuple[Any, tuple[int, int, int]]],
    alpha: float,
) -> Image.Image:
    """An RGB copy of ``image`` with every ``(mask, colour)`` painted over it translucently
    (``alpha`` of the colour). A (H, W) bool mask of another size than the picture is skipped:
    it belongs to another resolution and would land in the wrong place."""
    import numpy as np

    out = np.asarray(image.convert("RGB"), dtype=np.float32).copy()
    for mask, colour in masks:
        m = np.asarray(mask, dtype=bool)
        if m.shape != out.shape[:2]:
            continue
        out[m] = out[m] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def figure_to_data_uri(fig: Any, dpi: int = 110, tight: bool = True) -> str:
    """Render a matplotlib figure to a PNG ``data:`` URI and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)
    return data_uri(buf.getvalue(), "image/png")
