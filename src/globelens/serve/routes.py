"""Every route of the server, declared once with the policy the guard enforces on it.

An API family (health, OpenAI, Hugging Face, native, the page) is a :class:`Family`: its
handlers are registered with ``@family.route(method, path, policy)``, which both adds them to
the family's FastAPI router and records the :class:`Route`. The guard in front of the app looks
each request up in the :class:`RouteTable` built from those records, so a new model route
cannot be left without its limits, and the metric label of a request is its route's template.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.routing import compile_path

JSON = "application/json"
MULTIPART = "multipart/form-data"
#: a body sent with no Content-Type (httpx and curl ``--data-binary`` with raw bytes)
NO_TYPE = ""


@dataclass(frozen=True)
class Policy:
    """What the guard does before a route's handler runs."""

    #: no bearer token needed (liveness and the page shell: they hold no data)
    public: bool = False
    #: the route runs a model: its body is read under a deadline, then it takes a
    #: concurrency slot (429 when none is free)
    runs_model: bool = False
    #: media types its body may have (``type/*`` matches a family); empty: not checked
    content_types: tuple[str, ...] = ()

    def accepts(self, content_type: str) -> bool:
        if not self.content_types:
            return True
        media = content_type.split(";", 1)[0].strip().lower()
        return any(
            media == t or (t.endswith("/*") and media.startswith(t[:-1]))
            for t in self.content_types
        )


READ = Policy()
PUBLIC = Policy(public=True)
MODEL_JSON = Policy(runs_model=True, content_types=(JSON,))
MODEL_JSON_OR_FORM = Policy(runs_model=True, content_types=(JSON, MULTIPART))
#: the Hugging Face route: JSON, or the raw picture
MODEL_JSON_OR_IMAGE = Policy(
    runs_model=True, content_types=(JSON, "image/*", "application/octet-stream", NO_TYPE)
)


@dataclass(frozen=True)
class Route:
    method: str
    #: the path template (``/models/{model:path}``), also the request's metric label
    path: str
    family: str
    policy: Policy
    regex: re.Pattern[str]


class Family:
    """One API family: its router and the routes it declares."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.router = APIRouter(tags=[name])
        self.routes: list[Route] = []

    def record(self, method: str, path: str, policy: Policy) -> None:
        """Declare a route served outside the router (a mounted app such as the assets)."""
        self.routes.append(Route(method, path, self.name, policy, compile_path(path)[0]))

    def route(
        self, method: str, path: str, policy: Policy, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare ``method path`` with its policy and register the decorated handler."""
        self.record(method, path, policy)
        return self.router.api_route(path, methods=[method], **kwargs)


class RouteTable:
    """The declared routes, looked up by method and path."""

    def __init__(self, families: Iterable[Family]) -> None:
        self.routes = [r for f in families for r in f.routes]

    def match(self, method: str, path: str) -> Route | None:
        """The route for ``method path``; a path declared for another method matches none
        (the app answers 405)."""
        method = "GET" if method == "HEAD" else method
        for r in self.routes:
            if r.method == method and r.regex.match(path):
                return r
        return None
