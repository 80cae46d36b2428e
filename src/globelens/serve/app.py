"""The HTTP app: OpenAI- and Hugging Face-shaped routes, native routes, the page, health.

Routes (docs/serving.md has examples, docs/serving-limits.md the limits), one router per API
family (``globelens.serve.api``), each route declared once with its limits
(``globelens.serve.routes``):

- ``GET /health`` (liveness), ``GET /ready`` (503 until every model is loaded, warmed up and its
  batching worker alive), ``GET /metrics`` (Prometheus), ``GET /v1/models``;
- ``POST /v1/embeddings`` (OpenAI; texts, or images as data URIs) and ``POST /v1/chat/completions``
  (OpenAI; one image part + the task prompt; the parsed result rides along as ``globelens``);
- ``POST /models/{model}``: Hugging Face zero-shot image classification;
- ``POST /v1/classify`` and ``POST /v1/generate``: native, JSON or multipart;
- ``GET /``: the web page (assets under ``/static``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from globelens.serve.api import FAMILIES
from globelens.serve.api.page import STATIC_PATH, static
from globelens.serve.bodies import validation_error
from globelens.serve.config import ServeConfig
from globelens.serve.errors import APIError
from globelens.serve.guard import Guard
from globelens.serve.models import ModelSpec
from globelens.serve.routes import RouteTable
from globelens.serve.state import ServerState

log = logging.getLogger(__name__)


def _error_handlers(app: FastAPI, state: ServerState) -> None:
    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        state.metrics.refused.labels(exc.code).inc()
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await api_error(request, validation_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        err = APIError(exc.status_code, code, str(exc.detail), headers=exc.headers or None)
        return await api_error(request, err)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return await api_error(request, APIError(500, "internal_error", "internal server error"))


def create_app(state: ServerState) -> FastAPI:
    """The ASGI app over ``state``; its lifespan loads the models in the background (if nobody
    has yet) and stops every batching worker on shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start_loading()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(
        title="globelens",
        summary="Language as the API for vision: zero-shot classification, embeddings, "
        "captions, answers, boxes and masks.",
        lifespan=lifespan,
        # the interactive docs pull their scripts from a CDN; the schema is at /openapi.json
        docs_url=None,
        redoc_url=None,
    )
    app.state.globelens = state
    _error_handlers(app, state)
    for family in FAMILIES:
        app.include_router(family.router)
    app.mount(STATIC_PATH, static, name="static")
    app.add_middleware(Guard, state=state, routes=RouteTable(FAMILIES))
    if state.config.cors_origins:  # outermost: answers preflights, labels every response
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(state.config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


def build_app(specs: Sequence[ModelSpec], config: ServeConfig | None = None) -> FastAPI:
    """``create_app(ServerState(specs, config))``: the app uvicorn runs."""
    return create_app(ServerState(specs, config))


__all__ = ["ServerState", "build_app", "create_app"]
