"""The Hugging Face Inference API's zero-shot image classification (its only route here)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from globelens.serve.bodies import HFBody, read_body
from globelens.serve.inputs import b64_image_bytes
from globelens.serve.routes import JSON, MODEL_JSON_OR_IMAGE, Family
from globelens.serve.tasks import classify, reply, server_state, with_deadline

family = Family("huggingface")
#: the Hugging Face zero-shot pipeline's default
HF_TEMPLATE = "This is a photo of {}."


@family.route("POST", "/models/{model:path}", MODEL_JSON_OR_IMAGE)
async def zero_shot(model: str, request: Request) -> Response:
    state = server_state(request)
    if request.headers.get("content-type", "").startswith(JSON):
        body = await read_body(request, HFBody, state.limits.max_json_depth)
        image = b64_image_bytes(body.inputs, "inputs")
        labels = body.parameters.candidate_labels
        template = body.parameters.hypothesis_template or HF_TEMPLATE
    else:  # raw image bytes; labels in the query string
        image = await request.body()
        labels = request.query_params.getlist("candidate_labels")
        if len(labels) == 1 and "," in labels[0]:
            labels = [s.strip() for s in labels[0].split(",")]
        template = request.query_params.get("hypothesis_template") or HF_TEMPLATE
    _, ranked = await with_deadline(
        state,
        classify(
            state,
            model,
            image,
            labels,
            template,
            labels_param="parameters.candidate_labels",
            image_param="inputs",
        ),
    )
    return reply(ranked)
