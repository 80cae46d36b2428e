"""Request inputs made safe: images (bytes, base64, data URIs) and text fields, with limits.

Images are sized from their header before any pixel is decoded, then decoded by
``globelens.data.images.decode_image``; every refusal is an :class:`APIError` with a reason.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from PIL import Image

from globelens.data.images import ImageDecodeError, decode_image, image_size
from globelens.serve.config import Limits
from globelens.serve.errors import APIError

DATA_URI_PREFIX = "data:"


def is_data_uri(value: str) -> bool:
    return value[:32].lower().startswith("data:image/")


def b64_image_bytes(value: str, param: str) -> bytes:
    """Bytes of a ``data:image/...;base64,`` URI or of plain base64 text."""
    if value.startswith(DATA_URI_PREFIX):
        header, sep, payload = value.partition(",")
        if not sep or not header.endswith(";base64"):
            raise APIError(
                400,
                "bad_data_uri",
                "expected a data URI like data:image/png;base64,...",
                param=param,
            )
        value = payload
    elif value.startswith(("http://", "https://", "file:")):
        raise APIError(
            400,
            "remote_image_unsupported",
            "image URLs are not fetched; send the image bytes as a data URI or base64",
            param=param,
        )
    try:
        # validate=True refuses non-alphabet characters instead of silently skipping them
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise APIError(400, "bad_base64", f"image is not valid base64 ({e})", param=param) from e
    if not data:
        raise APIError(400, "empty_image", "image is empty", param=param)
    return data


def load_image(data: bytes, limits: Limits, param: str = "image") -> Image.Image:
    """Decode image bytes to RGB, refusing corrupt, tiny and oversized pictures."""
    if not data:
        raise APIError(400, "empty_image", "image is empty", param=param)
    try:
        width, height = image_size(data)
    except ImageDecodeError as e:
        raise _decode_error(e, param) from e
    if width * height > limits.max_pixels:
        raise APIError(
            413,
            "too_many_pixels",
            f"image is {width}x{height}; the limit is {limits.max_pixels} pixels",
            param=param,
        )
    if min(width, height) < limits.min_image_side:
        raise APIError(
            400,
            "image_too_small",
            f"image is {width}x{height}; both sides must be at least {limits.min_image_side} px",
            param=param,
        )
    try:
        return decode_image(data, max_pixels=limits.max_pixels)
    except ImageDecodeError as e:
        raise _decode_error(e, param) from e


def _decode_error(e: ImageDecodeError, param: str) -> APIError:
    status = 413 if e.reason == "too_many_pixels" else 400
    return APIError(status, e.reason, f"cannot read the image: {e.detail}", param=param)


def check_texts(
    values: Any, *, param: str, max_items: int, max_chars: int, min_items: int = 1
) -> list[str]:
    """A list of non-empty strings within the limits (422 naming the field otherwise)."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise APIError(422, "invalid_type", f"{param} must be a list of strings", param=param)
    if len(values) < min_items:
        raise APIError(
            422, "too_few_items", f"{param} needs at least {min_items} item(s)", param=param
        )
    if len(values) > max_items:
        raise APIError(
            422,
            "too_many_items",
            f"{param} has {len(values)} items; the limit is {max_items}",
            param=param,
        )
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise APIError(
                422, "invalid_type", f"{param}[{i}] must be a string", param=f"{param}[{i}]"
            )
        if not v.strip():
            raise APIError(422, "empty_text", f"{param}[{i}] is empty", param=f"{param}[{i}]")
        if len(v) > max_chars:
            raise APIError(
                422,
                "text_too_long",
                f"{param}[{i}] has {len(v)} characters; the limit is {max_chars}",
                param=f"{param}[{i}]",
            )
        out.append(v)
    return out


def check_prompt(value: Any, limits: Limits, param: str = "prompt") -> str:
    if not isinstance(value, str):
        raise APIError(422, "invalid_type", f"{param} must be a string", param=param)
    if not value.strip():
        raise APIError(422, "empty_text", f"{param} is empty", param=param)
    if len(value) > limits.max_prompt_chars:
        raise APIError(
            422,
            "text_too_long",
            f"{param} has {len(value)} characters; the limit is {limits.max_prompt_chars}",
            param=param,
        )
    return value


def fill_template(template: str, labels: Sequence[str], param: str = "template") -> list[str]:
    """``{}`` or ``{c}`` replaced by each label (plain replacement: ``str.format`` would let a
    request reach attributes through ``{0.__class__}``)."""
    if not isinstance(template, str):
        raise APIError(422, "invalid_type", f"{param} must be a string", param=param)
    mark = "{c}" if "{c}" in template else "{}" if "{}" in template else None
    if mark is None:
        raise APIError(422, "bad_template", f"{param} must contain {{}} or {{c}}", param=param)
    return [template.replace(mark, label) for label in labels]
