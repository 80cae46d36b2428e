"""Operations: liveness, readiness, Prometheus metrics, the model list."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from globelens.serve.errors import APIError
from globelens.serve.routes import PUBLIC, READ, Family
from globelens.serve.tasks import server_state

family = Family("operations")


@family.route("GET", "/health", PUBLIC)
async def health(request: Request) -> JSONResponse:
    """200 while the process can serve; 503 once its models failed to load."""
    state = server_state(request)
    if state.phase == "failed":
        return JSONResponse({"status": "failed", "error": state.error}, status_code=503)
    return JSONResponse({"status": "ok"})


@family.route("GET", "/ready", READ)
async def ready(request: Request) -> JSONResponse:
    ok, detail = server_state(request).readiness()
    return JSONResponse(detail, status_code=200 if ok else 503)


@family.route("GET", "/metrics", READ)
async def metrics(request: Request) -> Response:
    state = server_state(request)
    ok, _ = state.readiness()
    state.metrics.ready.set(1 if ok else 0)
    state.metrics.body_readers.set(state.readers)
    state.metrics.decode_bytes.set(state.decodes.in_use)
    for name, served in state.models.items():
        state.metrics.queue_depth.labels(name).set(served.batcher.qsize())
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")


@family.route("GET", "/v1/models", READ)
async def list_models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": [m.info() for m in server_state(request).models.values()]}


@family.route("GET", "/v1/models/{model:path}", READ)
async def get_model(model: str, request: Request) -> dict[str, Any]:
    state = server_state(request)
    served = state.models.get(model)
    if served is None:
        raise APIError(
            404,
            "model_not_found",
            f"model {model!r} does not exist; available: {sorted(state.models)}",
            param="model",
        )
    return served.info()
