"""The OpenAI API: embeddings of texts and pictures, chat completions with one picture.

Generation is greedy (or beam search with ``num_beams``): ``temperature``, ``top_p``, ``seed``
and the penalties are accepted, as the openai client sends them, and have no effect.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from globelens.models.preprocess import cat_pixels
from globelens.serve.bodies import ChatBody, EmbeddingsBody, read_body
from globelens.serve.errors import APIError
from globelens.serve.inputs import b64_image_bytes, check_texts, is_data_uri
from globelens.serve.models import EncodeJob
from globelens.serve.routes import MODEL_JSON, Family
from globelens.serve.state import ServerState
from globelens.serve.tasks import (
    generate,
    pixels,
    server_state,
    submit,
    token_count,
    with_deadline,
)

family = Family("openai")
#: ``max_tokens`` when a chat request names none
DEFAULT_MAX_TOKENS = 32


@family.route("POST", "/v1/embeddings", MODEL_JSON)
async def embeddings(request: Request) -> dict[str, Any]:
    state = server_state(request)
    body = await read_body(request, EmbeddingsBody, state.limits.max_json_depth)
    return await with_deadline(state, _embeddings(state, body))


def _inputs(state: ServerState, body: EmbeddingsBody) -> tuple[list[str], list[bool]]:
    """The inputs, and which are pictures; texts checked against the limits."""
    lim = state.limits
    inputs = [body.input] if isinstance(body.input, str) else body.input
    inputs = check_texts(
        inputs, param="input", max_items=lim.max_inputs, max_chars=lim.max_body_bytes
    )
    is_image = [
        body.modality == "image" or (body.modality is None and is_data_uri(s)) for s in inputs
    ]
    for i, (s, im) in enumerate(zip(inputs, is_image, strict=True)):
        if not im and len(s) > lim.max_prompt_chars:
            raise APIError(
                422,
                "text_too_long",
                f"input[{i}] has {len(s)} characters; the limit is {lim.max_prompt_chars}",
                param=f"input[{i}]",
            )
    return inputs, is_image


async def _embeddings(state: ServerState, body: EmbeddingsBody) -> dict[str, Any]:
    served = state.get(body.model, "dual_encoder", "/v1/embeddings")
    inputs, is_image = _inputs(state, body)
    texts = [s for s, im in zip(inputs, is_image, strict=True) if not im]
    tensors = await asyncio.gather(
        *(
            pixels(state, served, b64_image_bytes(s, f"input[{i}]"), f"input[{i}]")
            for i, (s, im) in enumerate(zip(inputs, is_image, strict=True))
            if im
        )
    )
    images = cat_pixels(tensors) if tensors else None
    result = await submit(served, EncodeJob(images, tuple(texts)))
    dim = max(result.image_embeds.shape[-1], result.text_embeds.shape[-1])
    if body.dimensions is not None and body.dimensions != dim:
        raise APIError(
            422,
            "unsupported_dimensions",
            f"this model's embeddings have {dim} dimensions",
            param="dimensions",
        )
    it_img, it_txt = iter(result.image_embeds), iter(result.text_embeds)
    data = []
    for i, im in enumerate(is_image):
        vec = (next(it_img) if im else next(it_txt)).numpy().astype("<f4")
        emb: Any = (
            base64.b64encode(vec.tobytes()).decode()
            if body.encoding_format == "base64"
            else vec.tolist()
        )
        data.append({"object": "embedding", "index": i, "embedding": emb})
    tokens = await run_in_threadpool(token_count, served.model, texts)
    return {
        "object": "list",
        "data": data,
        "model": served.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


@family.route("POST", "/v1/chat/completions", MODEL_JSON)
async def chat(request: Request) -> Any:
    state = server_state(request)
    body = await read_body(request, ChatBody, state.limits.max_json_depth)
    reply = await with_deadline(state, _chat(state, body))
    return _stream_chat(reply) if body.stream else reply


def _user_parts(body: ChatBody) -> tuple[list[bytes], list[str]]:
    """The pictures and texts of the last user message."""
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise APIError(422, "missing_field", "messages need a user message", param="messages")
    images, texts = [], []
    content = users[-1].content
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    for i, part in enumerate(parts):
        param = f"messages.content[{i}]"
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and isinstance(part.get("image_url"), dict | str):
            url = part["image_url"]
            url = url.get("url") if isinstance(url, dict) else url
            if not isinstance(url, str):
                raise APIError(422, "invalid_type", "image_url.url must be a string", param=param)
            images.append(b64_image_bytes(url, param))
        else:
            raise APIError(
                422, "invalid_content_part", f"unsupported content part {kind!r}", param=param
            )
    return images, texts


def _max_tokens(body: ChatBody) -> tuple[Any, str]:
    """The token limit the request sets, and its field; 0 is a value (refused as out of
    range), not "unset"."""
    for name in ("max_completion_tokens", "max_tokens"):
        if getattr(body, name) is not None:
            return getattr(body, name), name
    return DEFAULT_MAX_TOKENS, "max_tokens"


async def _chat(state: ServerState, body: ChatBody) -> dict[str, Any]:
    if body.n != 1:
        raise APIError(400, "unsupported_parameter", "n must be 1", param="n")
    images, texts = _user_parts(body)
    if len(images) != 1:
        raise APIError(
            422,
            "one_image_required",
            f"the user message needs exactly one image_url part (got {len(images)})",
            param="messages",
        )
    max_new, tokens_param = _max_tokens(body)
    served, gen, parsed = await generate(
        state,
        body.model,
        images[0],
        " ".join(texts).strip(),
        max_new,
        body.num_beams,
        prompt_param="messages",
        tokens_param=tokens_param,
    )
    prompt_tokens = await run_in_threadpool(token_count, served.model, [" ".join(texts)])
    n_out = len(gen.token_ids)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": served.name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": gen.text},
                "finish_reason": "length" if n_out >= max_new else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": n_out,
            "total_tokens": prompt_tokens + n_out,
        },
        "globelens": {"logprob": float(gen.logprob), **parsed},
    }


def _stream_chat(reply: dict[str, Any]) -> StreamingResponse:
    """A finished completion as the server-sent events of ``stream=True``: the whole text in
    one chunk (generation is not incremental here), then the finish reason, the usage and the
    parsed result, then ``[DONE]``, as the openai client reads them."""
    choice = reply["choices"][0]
    head = {k: reply[k] for k in ("id", "created", "model")}
    chunks = [
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": choice["message"]["content"]},
                    "finish_reason": None,
                }
            ],
        },
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
            "usage": reply["usage"],
            "globelens": reply["globelens"],
        },
    ]

    async def events():
        for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
