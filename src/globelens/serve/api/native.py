"""globelens's own routes: classification and generation, from JSON or a multipart form."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from globelens.serve.bodies import ClassifyBody, GenerateBody, read_body
from globelens.serve.errors import APIError
from globelens.serve.inputs import b64_image_bytes
from globelens.serve.routes import MODEL_JSON_OR_FORM, Family
from globelens.serve.tasks import (
    classify,
    form_image,
    generate,
    int_field,
    is_multipart,
    read_form,
    reply,
    server_state,
    with_deadline,
)

family = Family("native")
CLASSIFY_FIELDS = frozenset({"model", "image", "labels", "template"})
GENERATE_FIELDS = frozenset({"model", "image", "prompt", "max_new_tokens", "num_beams"})


def _known_fields(form: Any, known: frozenset[str]) -> None:
    unknown = set(form.keys()) - known
    if unknown:
        raise APIError(422, "unknown_field", f"unknown fields {sorted(unknown)}")


@family.route("POST", "/v1/classify", MODEL_JSON_OR_FORM)
async def classify_route(request: Request) -> Response:
    state = server_state(request)
    if is_multipart(request):
        form = await read_form(request, state.limits.max_labels + 8)
        _known_fields(form, CLASSIFY_FIELDS)
        labels = [v for v in form.getlist("labels") if isinstance(v, str)]
        if len(labels) == 1 and "\n" in labels[0]:
            labels = [s for s in labels[0].splitlines() if s.strip()]
        model, image = form.get("model"), await form_image(form)
        template = form.get("template") or "{}"
    else:
        body = await read_body(request, ClassifyBody, state.limits.max_json_depth)
        model, labels, template = body.model, body.labels, body.template
        image = b64_image_bytes(body.image, "image")
    served, ranked = await with_deadline(state, classify(state, model, image, labels, template))
    return reply({"model": served.name, "activation": served.activation, "scores": ranked})


@family.route("POST", "/v1/generate", MODEL_JSON_OR_FORM)
async def generate_route(request: Request) -> dict[str, Any]:
    state = server_state(request)
    if is_multipart(request):
        form = await read_form(request, 16)
        _known_fields(form, GENERATE_FIELDS)
        model, prompt = form.get("model"), form.get("prompt")
        max_new = int_field(form.get("max_new_tokens"), "max_new_tokens", 32)
        beams = int_field(form.get("num_beams"), "num_beams", 1)
        image = await form_image(form)
    else:
        body = await read_body(request, GenerateBody, state.limits.max_json_depth)
        model, prompt = body.model, body.prompt
        max_new, beams = body.max_new_tokens, body.num_beams
        image = b64_image_bytes(body.image, "image")
    served, gen, parsed = await with_deadline(
        state, generate(state, model, image, prompt, max_new, beams)
    )
    return {
        "model": served.name,
        "prompt": prompt,
        "text": gen.text,
        "logprob": float(gen.logprob),
        "tokens": len(gen.token_ids),
        "result": parsed,
    }
