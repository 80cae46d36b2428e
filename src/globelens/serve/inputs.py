"""Request inputs made safe: images (bytes, base64, data URIs) and text fields, with limits.

Image bytes are taken from base64 or data URIs here (``globelens.serve.decode`` decodes them);
every refusal is an :class:`APIError` with a reason.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

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


def check_unicode(value: str, param: str) -> str:
    """``value`` if it is valid Unicode text: JSON's ``\\ud800`` escapes decode to lone
    surrogates, which no tokenizer or encoder accepts (400 ``invalid_unicode``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise APIError(
            400,
            "invalid_unicode",
            f"{param} holds a lone surrogate at character {e.start} (not valid Unicode text)",
            param=param,
        ) from None
    return value


def check_json(value: Any, max_depth: int) -> Any:
    """``value`` (parsed JSON) if it nests at most ``max_depth`` deep and every string in it
    is valid Unicode; walked without recursion, so no input can exhaust the stack."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "body")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            check_unicode(item, path)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= max_depth:
            raise APIError(
                400, "json_too_deep", f"the JSON body nests deeper than {max_depth} levels"
            )
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(key, str):
                check_unicode(key, path)
            if isinstance(item, list):
                stack.append((child, depth + 1, f"{path}[{key}]"))
            else:
                stack.append((child, depth + 1, key if path == "body" else f"{path}.{key}"))
    return value


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
        out.append(check_unicode(v, f"{param}[{i}]"))
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
    return check_unicode(value, param)


def fill_template(template: str, labels: Sequence[str], param: str = "template") -> list[str]:
    """``{}`` or ``{c}`` replaced by each label (plain replacement: ``str.format`` would let a
    request reach attributes through ``{0.__class__}``)."""
    if not isinstance(template, str):
        raise APIError(422, "invalid_type", f"{param} must be a string", param=param)
    mark = "{c}" if "{c}" in template else "{}" if "{}" in template else None
    if mark is None:
        raise APIError(422, "bad_template", f"{param} must contain {{}} or {{c}}", param=param)
    return [template.replace(mark, label) for label in labels]
