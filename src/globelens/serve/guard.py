"""The ASGI layer in front of every route: auth, concurrency, body size, request metrics.

Pure ASGI (not a Starlette ``BaseHTTPMiddleware``) so the body is counted chunk by chunk as it
streams in: a body over the limit is refused with 413 without ever being held whole in memory,
and the rest of it is drained (up to a cap) so the client reads the 413 instead of a reset
connection.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from globelens.serve.errors import APIError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: routes that need no bearer token: liveness, and the page shell and its static assets (they
#: hold no data; the page sends the token the user types with every API call it makes)
PUBLIC_PATHS = frozenset({"/health", "/", "/favicon.ico"})
STATIC_PREFIX = "/static/"
#: routes that run models: the concurrency limit and body limit apply to them
MODEL_PREFIXES = ("/v1/embeddings", "/v1/chat/", "/v1/classify", "/v1/generate", "/models/")
KNOWN_ROUTES = frozenset(
    {"/", "/health", "/ready", "/metrics", "/v1/models", "/v1/embeddings"}
    | {"/v1/chat/completions", "/v1/classify", "/v1/generate"}
)
#: how much of an oversized body is read and thrown away before answering 413
DRAIN_FACTOR = 8


def route_label(path: str) -> str:
    """A bounded set of metric labels (model names in paths would be unbounded)."""
    if path in KNOWN_ROUTES:
        return path
    if path.startswith("/models/"):
        return "/models/{model}"
    if path.startswith("/v1/models/"):
        return "/v1/models/{model}"
    if path.startswith(STATIC_PREFIX):
        return "/static"
    return "other"


class Guard:
    def __init__(self, app: Any, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        status = {"code": 500}

        async def send_tracked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        t0 = time.perf_counter()
        metrics = self.state.metrics
        try:
            await self._handle(scope, receive, send_tracked, path)
        finally:
            label = route_label(path)
            metrics.requests.labels(label, str(status["code"])).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - t0)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        cfg = self.state.config
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if cfg.api_key and not _public(path) and not _authorized(headers, cfg.api_key):
            err = APIError(
                401,
                "invalid_api_key",
                "missing or wrong API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await self._refuse(send, err)
            return
        if not path.startswith(MODEL_PREFIXES) or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        limits = cfg.limits
        if self.state.inflight >= limits.max_concurrency:
            await self._refuse(
                send,
                APIError(
                    429,
                    "too_many_requests",
                    f"the server is at its limit of {limits.max_concurrency} concurrent requests",
                    headers={"Retry-After": "1"},
                ),
            )
            return
        self.state.inflight += 1
        self.state.metrics.inflight.inc()
        try:
            body = await _read_body(receive, headers, limits.max_body_bytes)
            if isinstance(body, APIError):
                await self._refuse(send, body)
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.state.inflight -= 1
            self.state.metrics.inflight.dec()

    async def _refuse(self, send: Send, err: APIError) -> None:
        self.state.metrics.refused.labels(err.code).inc()
        payload = json.dumps(err.body()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in err.headers.items()),
        ]
        await send({"type": "http.response.start", "status": err.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(STATIC_PREFIX)


def _authorized(headers: dict[str, str], key: str) -> bool:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    # constant-time comparison: the time taken says nothing about the key
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes | APIError:
    too_big = APIError(
        413, "body_too_large", f"request body is larger than the limit of {limit} bytes"
    )
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(receive, limit * DRAIN_FACTOR)
        return too_big
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return APIError(400, "client_disconnected", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _drain(receive, limit * DRAIN_FACTOR - size)
            return too_big
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect as usual

    return replay
