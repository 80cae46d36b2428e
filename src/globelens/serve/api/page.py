"""The web page and its assets (no data in them: they need no bearer token)."""

from __future__ import annotations

from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from globelens.serve.routes import PUBLIC, Family

STATIC_DIR = "static"
STATIC_PATH = "/static"

family = Family("page")
#: mounted by ``create_app`` at ``STATIC_PATH``
static = StaticFiles(packages=[("globelens.serve", STATIC_DIR)])
family.record("GET", STATIC_PATH + "/{path:path}", PUBLIC)
_INDEX = static.lookup_path("index.html")[0]


@family.route("GET", "/", PUBLIC, include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(_INDEX, media_type="text/html", headers={"Cache-Control": "no-cache"})


@family.route("GET", "/favicon.ico", PUBLIC, include_in_schema=False)
async def favicon() -> Response:
    return Response(status_code=204)
