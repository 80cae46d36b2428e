"""The ASGI layer in front of every route: posture, auth, body deadline and size, concurrency,
request metrics, each as the route's declaration (``globelens.serve.routes``) says.

Pure ASGI (not a Starlette ``BaseHTTPMiddleware``) so the body is counted chunk by chunk as it
streams in: a body over the limit is refused with 413 without ever being held whole in memory,
and the rest of it is drained (up to a cap) so the client reads the 413 instead of a reset
connection.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from globelens.serve.errors import APIError
from globelens.serve.routes import Route, RouteTable

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: how much of an oversized body is read and thrown away before answering 413
DRAIN_FACTOR = 8


class Guard:
    """Before a request reaches its route: the ``Host`` and ``Origin`` checks, the bearer
    token, then for a route that runs a model (its declared :class:`~globelens.serve.routes.
    Policy`) the content type, the body read under a deadline, and a concurrency slot.

    The body is read before the slot is taken, under its own deadline and its own bound on
    readers, so clients that send a body slowly (or never) hold no slot of the models."""

    def __init__(self, app: Any, state: Any, routes: RouteTable) -> None:
        self.app = app
        self.state = state
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.routes.match(scope["method"], scope["path"])
        status = {"code": 500}

        async def send_tracked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        t0 = time.perf_counter()
        metrics = self.state.metrics
        try:
            await self._handle(scope, receive, send_tracked, route)
        finally:
            # the route's template: a bounded set of labels (model names in paths are not)
            label = route.path if route is not None else "other"
            metrics.requests.labels(label, str(status["code"])).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - t0)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, route: Route | None
    ) -> None:
        cfg = self.state.config
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        err = _posture(headers, cfg)
        if err is None and cfg.api_key and not (route and route.policy.public):
            err = _auth(headers, cfg.api_key)
        if err is not None:
            await self._refuse(send, err)
            return
        if route is None or not route.policy.runs_model:
            await self.app(scope, receive, send)
            return
        body = await self._body(receive, headers, route)
        if isinstance(body, APIError):
            await self._refuse(send, body)
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
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.state.inflight -= 1
            self.state.metrics.inflight.dec()

    async def _body(
        self, receive: Receive, headers: dict[str, str], route: Route
    ) -> bytes | APIError:
        """The whole body, or why not: a content type the route does not take (415), too many
        bodies arriving at once (429), too slow (408), too large (413)."""
        ctype = headers.get("content-type", "")
        if not route.policy.accepts(ctype):
            return APIError(
                415,
                "unsupported_media_type",
                f"{route.path} takes {' or '.join(t or 'no' for t in route.policy.content_types)}"
                f" content, not {ctype or 'none'!r}",
            )
        limits = self.state.config.limits
        if self.state.readers >= limits.max_body_readers:
            return APIError(
                429,
                "too_many_uploads",
                f"{limits.max_body_readers} request bodies are arriving already",
                headers={"Retry-After": "1"},
            )
        self.state.readers += 1
        try:
            return await asyncio.wait_for(
                _read_body(receive, headers, limits.max_body_bytes), limits.body_timeout_s
            )
        except asyncio.TimeoutError:
            return APIError(
                408,
                "body_timeout",
                f"the request body did not arrive within {limits.body_timeout_s:g} s",
                headers={"Connection": "close"},
            )
        finally:
            self.state.readers -= 1

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


def _posture(headers: dict[str, str], cfg: Any) -> APIError | None:
    """Refuse a ``Host`` the server does not answer to (DNS rebinding) and a web page of an
    origin not allowed (CORS), whose simple requests a browser sends without asking."""
    if cfg.allowed_hosts is not None:
        host = _hostname(headers.get("host", ""))
        if host not in cfg.allowed_hosts:
            return APIError(
                400, "untrusted_host", f"this server does not answer to the host {host!r}"
            )
    origin = headers.get("origin")
    if origin is None or "*" in cfg.cors_origins or origin in cfg.cors_origins:
        return None
    if urlsplit(origin).netloc == headers.get("host"):
        return None  # the page this server serves
    return APIError(
        403,
        "origin_not_allowed",
        f"requests from web pages of {origin} are not allowed (see --cors-origin)",
    )


def _hostname(host: str) -> str:
    """``host[:port]`` without the port; IPv6 without its brackets."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _auth(headers: dict[str, str], key: str) -> APIError | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    # constant-time comparison: the time taken says nothing about the key
    if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode()):
        return None
    return APIError(
        401,
        "invalid_api_key",
        "missing or wrong API key: send 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


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
