"""What the routes of every API family share: finding the state, decoding pictures within the
decode budget, running a model's batcher under the request's deadline, classifying and
generating, and reading forms."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

import globelens.tasks  # noqa: F401  (registers the task verbs the prompts are read by)
from globelens.models import tasklang
from globelens.models.hf import ACTIVATIONS
from globelens.models.preprocess import Pixels
from globelens.serve.batching import BatcherStoppedError, QueueFullError
from globelens.serve.decode import Plan, decode, original_size, plan
from globelens.serve.errors import APIError
from globelens.serve.inputs import b64_image_bytes, check_prompt, check_texts, fill_template
from globelens.serve.models import EncodeJob, GenerateJob, ServedModel
from globelens.serve.state import ServerState

log = logging.getLogger(__name__)


def server_state(request: Request) -> ServerState:
    return request.app.state.globelens


async def submit(served: ServedModel, job: Any) -> Any:
    try:
        return await served.batcher.submit(job)
    except QueueFullError as e:
        raise APIError(429, "queue_full", str(e), headers={"Retry-After": "1"}) from None
    except BatcherStoppedError as e:
        raise APIError(503, "not_ready", str(e), headers={"Retry-After": "2"}) from None
    except APIError:
        raise
    except Exception as e:  # the model failed on this item (its batch-mates are unaffected)
        log.warning("model %s failed on an item: %s", served.name, e)
        raise APIError(500, "model_error", f"the model failed on this input: {e}") from None


async def with_deadline(state: ServerState, work: Any) -> Any:
    try:
        return await asyncio.wait_for(work, state.limits.request_timeout_s)
    except asyncio.TimeoutError:
        raise APIError(
            504,
            "timeout",
            f"the request took longer than {state.limits.request_timeout_s:g} s",
        ) from None


async def picture(
    state: ServerState, served: ServedModel, data: bytes, param: str
) -> tuple[Image.Image, tuple[int, int]]:
    """The picture decoded for ``served`` (JPEG drafted to its size) within the decode budget,
    and the picture's full size (what boxes are measured in)."""
    size = int(served.model.image_size)
    p = plan(data, state.limits, size, param)
    im = await state.decodes.run(p, decode, data, p, size, param)
    return im, original_size(p, im)


def _decode_pixels(served: ServedModel, data: bytes, p: Plan, size: int, param: str) -> Any:
    return served.model.preprocess([decode(data, p, size, param)])


async def pixels(state: ServerState, served: ServedModel, data: bytes, param: str) -> Pixels:
    """The picture as the dual encoder's input tensor: decoded and resized in one turn of the
    decode gate (resizing a large picture on the event loop would stall every request)."""
    size = int(served.model.image_size)
    p = plan(data, state.limits, size, param)
    return await state.decodes.run(p, _decode_pixels, served, data, p, size, param)


def reply(body: Any, status: int = 200) -> Response:
    # serialised once with the standard library (FastAPI's encoder walks every value first)
    return Response(json.dumps(body), status_code=status, media_type="application/json")


async def classify(
    state: ServerState,
    model: Any,
    image: bytes,
    labels: Any,
    template: Any,
    *,
    labels_param: str = "labels",
    image_param: str = "image",
) -> tuple[ServedModel, list[dict[str, Any]]]:
    served = state.get(model, "dual_encoder", "classification")
    lim = state.limits
    labels = check_texts(
        labels, param=labels_param, max_items=lim.max_labels, max_chars=lim.max_label_chars
    )
    if isinstance(template, str) and len(template) > lim.max_label_chars:
        raise APIError(422, "text_too_long", "template is too long", param="template")
    texts = fill_template(template, labels)
    tensor = await pixels(state, served, image, image_param)
    result = await submit(served, EncodeJob(tensor, tuple(texts), logits=True))
    scores = ACTIVATIONS[served.activation](result.logits[0]).tolist()
    ranked = sorted(
        ({"label": lab, "score": float(s)} for lab, s in zip(labels, scores, strict=True)),
        key=lambda r: -r["score"],
    )
    return served, ranked


def check_decoding(
    state: ServerState, max_new_tokens: Any, num_beams: Any, tokens_param: str
) -> None:
    for value, name, hi in (
        (max_new_tokens, tokens_param, state.limits.max_new_tokens),
        (num_beams, "num_beams", 8),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise APIError(
                422, "invalid_value", f"{name} must be an integer from 1 to {hi}", param=name
            )


async def generate(
    state: ServerState,
    model: Any,
    image: bytes,
    prompt: Any,
    max_new_tokens: Any,
    num_beams: Any,
    *,
    prompt_param: str = "prompt",
    tokens_param: str = "max_new_tokens",
) -> tuple[ServedModel, Any, dict[str, Any]]:
    served = state.get(model, "generator", "generation")
    prompt = check_prompt(prompt, state.limits, prompt_param)
    check_decoding(state, max_new_tokens, num_beams, tokens_param)
    im, (width, height) = await picture(state, served, image, "image")
    gen = await submit(served, GenerateJob(im, prompt, max_new_tokens, num_beams))
    parsed = await run_in_threadpool(
        tasklang.parse,
        prompt,
        gen.text,
        width,
        height,
        codec=getattr(served.model, "codec", None),
        score=float(gen.logprob),
    )
    return served, gen, parsed.to_json()


async def read_form(request: Request, max_fields: int) -> Any:
    try:
        return await request.form(max_files=2, max_fields=max_fields)
    except StarletteHTTPException:
        raise
    except Exception as e:
        raise APIError(400, "bad_multipart", f"cannot read the form ({e})") from None


async def form_image(form: Any, param: str = "image") -> bytes:
    value = form.get(param)
    if isinstance(value, UploadFile):
        return await value.read()
    if isinstance(value, str):
        return b64_image_bytes(value, param)
    raise APIError(422, "missing_field", f"the form needs an {param} file", param=param)


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


def int_field(value: Any, name: str, default: int) -> Any:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise APIError(422, "invalid_type", f"{name} must be an integer", param=name) from None


def token_count(model: Any, texts: Sequence[str]) -> int:
    tok = getattr(model, "tokenizer", None)
    if tok is None or not texts:
        return 0
    return int(sum(len(ids) for ids in tok(list(texts))["input_ids"]))
