"""Request bodies: their typed shapes and how JSON is read into them (every failure a 4xx)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError

from globelens.serve.errors import APIError
from globelens.serve.inputs import check_json


class _Native(BaseModel):
    # native routes refuse unknown fields, so a typo fails instead of being ignored
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ClassifyBody(_Native):
    model: str | None = None
    image: str
    labels: list[str]
    template: str = "{}"


class GenerateBody(_Native):
    model: str | None = None
    image: str
    prompt: str
    max_new_tokens: int = 32
    num_beams: int = 1


class _OpenAI(BaseModel):
    # clients send fields we do not use (user, temperature ...): accept them
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class EmbeddingsBody(_OpenAI):
    model: str | None = None
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    #: "image": every input is an image (base64 or data URI); default: data URIs are images
    modality: Literal["text", "image"] | None = None
    dimensions: int | None = None


class ChatMessage(_OpenAI):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatBody(_OpenAI):
    model: str | None = None
    messages: list[ChatMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int = 1
    stream: bool = False
    num_beams: int = 1


class HFParameters(_OpenAI):
    candidate_labels: list[str]
    hypothesis_template: str | None = None


class HFBody(_OpenAI):
    inputs: str
    parameters: HFParameters


def validate(cls: type[BaseModel], data: Any) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise validation_error(e.errors()) from None


def validation_error(errors: Sequence[Any]) -> APIError:
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    # pydantic names union members in the location ("input.str"); the field is what matters
    param = ".".join(p for p in loc if not p.startswith(("list[", "str", "int")))
    msg = first.get("msg", "invalid request")
    return APIError(422, "invalid_request", f"{param or 'body'}: {msg}", param=param or None)


async def read_json(request: Request, max_depth: int) -> Any:
    """The body parsed as JSON, nesting and text checked (``inputs.check_json``)."""
    try:
        data = json.loads(await request.body())
    except RecursionError:  # nesting deeper than the interpreter's stack
        raise APIError(
            400, "json_too_deep", f"the JSON body nests deeper than {max_depth} levels"
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise APIError(400, "invalid_json", f"the body is not valid JSON ({e})") from None
    return check_json(data, max_depth)


async def read_body(request: Request, cls: type[BaseModel], max_depth: int) -> Any:
    """The body as a ``cls``."""
    return validate(cls, await read_json(request, max_depth))
