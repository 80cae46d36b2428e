"""The server under attack, on a real uvicorn on loopback: stalled bodies, decode bombs, deep
JSON, lone surrogates, a model that cannot load, a taken port, hostile hosts and origins.
Each refusal is checked for its status and code, and the server for answering normally after."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from PIL import Image
from serve_factory import b64, picture, running, solid_png
from typer.testing import CliRunner

from globelens.cli.main import app as cli
from globelens.serve import Limits, ServeConfig
from globelens.serve.api import FAMILIES
from globelens.serve.app import build_app
from globelens.serve.routes import RouteTable

ORIGIN = "http://app.example"
#: the tiny model looks at 48 px: its default pixel limit is (32 x 48)^2
TINY_PIXEL_LIMIT = (32 * 48) ** 2
LIMITS = Limits(
    max_concurrency=4,
    body_timeout_s=1.5,
    max_body_readers=8,
    max_decodes=2,
    decode_budget_bytes=12 << 20,
)


def broken_model(src: Path, out: Path) -> Path:
    """A copy of a model whose weights file was cut short (a failed download)."""
    shutil.copytree(src, out)
    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    broken = broken_model(tiny_model_dir, tmp_path_factory.mktemp("broken") / "model")
    config = ServeConfig(
        limits=LIMITS,
        skip_failed_models=True,
        allowed_hosts=("127.0.0.1", "localhost", "::1"),
        cors_origins=(ORIGIN,),
    )
    with (
        running([f"tiny={tiny_model_dir}", f"broken={broken}"], config) as (server, state),
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield server, state, client


def _normal(client: httpx.Client) -> None:
    """A normal request still gets its answer."""
    r = client.post(
        "/v1/classify", json={"model": "tiny", "image": b64(picture()), "labels": ["a"]}
    )
    assert r.status_code == 200, r.text


def _refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


def _stalled(url: str) -> socket.socket:
    """A connection that sends the headers and one byte of a 1,000-byte body, then nothing."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    return sock


def _status_line(sock: socket.socket) -> bytes:
    with sock:
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_every_route_is_declared_with_its_policy() -> None:
    app = build_app([])
    table = RouteTable(FAMILIES)
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods:
                declared = table.match(method, route.path_format)
                assert declared is not None and declared.path == route.path_format
                assert declared.policy.runs_model == (method == "POST"), route.path


def test_stalled_bodies_hold_no_slot_and_time_out(hostile) -> None:
    server, state, client = hostile
    # more stalled bodies than concurrency slots: the models still answer
    socks = [_stalled(server.url) for _ in range(LIMITS.max_concurrency)]
    time.sleep(0.2)
    _normal(client)
    assert client.get("/ready").status_code == 200
    # bodies arriving at once are bounded by themselves
    socks += [_stalled(server.url) for _ in range(LIMITS.max_body_readers - len(socks))]
    time.sleep(0.2)
    _refused(client.post("/v1/classify", json={}), 429, "too_many_uploads")
    assert f"globelens_body_readers {LIMITS.max_body_readers}.0" in client.get("/metrics").text
    t0 = time.monotonic()
    assert {_status_line(s) for s in socks} == {b"HTTP/1.1 408 Request Timeout"}
    assert time.monotonic() - t0 < LIMITS.body_timeout_s + 5
    assert state.readers == 0 and state.inflight == 0
    _normal(client)


def test_decode_bombs_are_refused_and_decodes_bounded(hostile) -> None:
    server, state, client = hostile
    bomb = solid_png(6000, 6000)  # ~0.5 MB that decodes to 144 MB
    r = client.post("/v1/classify", json={"model": "tiny", "image": b64(bomb), "labels": ["a"]})
    _refused(r, 413, "too_many_pixels")
    eight = {"model": "tiny", "input": [b64(bomb)] * 8, "modality": "image"}
    _refused(client.post("/v1/embeddings", json=eight), 413, "too_many_pixels")
    # a 12 M pixel photo is draft-decoded to the model's size (1/8: 188 k pixels)
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (30, 90, 200)).save(buf, format="JPEG")
    big_jpeg = buf.getvalue()
    r = client.post("/v1/classify", json={"model": "tiny", "image": b64(big_jpeg), "labels": ["a"]})
    assert r.status_code == 200, r.text
    # pictures within the limit wait for their turn within the decode budget
    side = int(TINY_PIXEL_LIMIT**0.5) - 300
    body = {"model": "tiny", "image": b64(solid_png(side, side)), "labels": ["a", "b"]}

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as ac:
            rs = await asyncio.gather(*(ac.post("/v1/classify", json=body) for _ in range(4)))
        return [r.status_code for r in rs]

    assert asyncio.run(burst()) == [200] * 4
    one = side * side * 4
    assert one <= state.decodes.peak_bytes <= LIMITS.decode_budget_bytes
    deadline = time.monotonic() + 5  # the budget is given back once each decode has ended
    while state.decodes.in_use and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.decodes.in_use == 0 and state.decodes.running == 0
    _normal(client)


def test_deep_json_and_lone_surrogates_are_400(hostile) -> None:
    _, _, client = hostile
    json_type = {"content-type": "application/json"}
    deep = b"[" * 1000 + b"]" * 1000  # 2 kB, deeper than the interpreter's stack
    _refused(client.post("/v1/classify", content=deep, headers=json_type), 400, "json_too_deep")
    nested = '{"a":' * 40 + "1" + "}" * 40
    r = client.post("/v1/embeddings", content=nested, headers=json_type)
    _refused(r, 400, "json_too_deep")
    # "\ud800" is valid JSON and decodes to a lone surrogate, which no tokenizer takes
    image = b64(picture())
    for route, body in (
        ("/v1/classify", f'{{"image": "{image}", "labels": ["a", "\\ud800"]}}'),
        ("/v1/embeddings", '{"model": "tiny", "input": ["ok", "bad \\udfff"]}'),
        ("/v1/classify", f'{{"image": "{image}", "labels": ["a"], "template": "\\ud800 {{}}"}}'),
    ):
        r = client.post(route, content=body, headers=json_type)
        _refused(r, 400, "invalid_unicode")
        assert r.json()["error"]["param"] in ("labels[1]", "input[1]", "template")
    _normal(client)


def test_a_model_that_failed_to_load_is_permanent_and_alone(hostile) -> None:
    _, _, client = hostile
    r = client.post(
        "/v1/classify", json={"model": "broken", "image": b64(picture()), "labels": ["a"]}
    )
    _refused(r, 503, "model_failed")
    assert "retry-after" not in r.headers and "SafetensorError" in r.text
    ready = client.get("/ready")
    assert ready.status_code == 200 and set(ready.json()["failed"]) == {"broken"}
    assert client.get("/health").status_code == 200
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["tiny"]
    _normal(client)


def test_serve_stops_with_one_line_when_a_model_cannot_load(tmp_path: Path, tiny_model_dir) -> None:
    broken = broken_model(tiny_model_dir, tmp_path / "broken")
    result = CliRunner().invoke(
        cli, ["serve", f"good={tiny_model_dir}", f"bad={broken}", "--port", "0", "--no-warmup"]
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot load model 'bad'" in errors[0], result.output
    assert "Traceback" not in result.output


def test_port_in_use_is_one_line_and_exit_2(hostile, tiny_model_dir) -> None:
    server, _, client = hostile
    port = server.url.rsplit(":", 1)[1]
    result = CliRunner().invoke(cli, ["serve", str(tiny_model_dir), "--port", port])
    assert result.exit_code == 2, result.output
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    assert "Traceback" not in result.output
    _normal(client)


def test_hosts_origins_and_content_types(hostile) -> None:
    server, _, client = hostile
    body = {"model": "tiny", "image": b64(picture()), "labels": ["a"]}
    r = client.post("/v1/classify", json=body, headers={"host": "evil.example"})
    _refused(r, 400, "untrusted_host")
    assert client.get("/health", headers={"host": "localhost:1"}).status_code == 200
    # a page of another origin: refused before any compute, even as a "simple" request
    r = client.post("/v1/classify", json=body, headers={"origin": "http://evil.example"})
    _refused(r, 403, "origin_not_allowed")
    r = client.post(
        "/v1/classify", content=json.dumps(body), headers={"content-type": "text/plain"}
    )
    _refused(r, 415, "unsupported_media_type")
    # the allowed origin: a preflight, then the request, both with CORS headers
    pre = client.options(
        "/v1/classify",
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization",
        },
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
    r = client.post("/v1/classify", json=body, headers={"origin": ORIGIN})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    # the page this server serves posts with its own origin
    r = client.post("/v1/classify", json=body, headers={"origin": server.url})
    assert r.status_code == 200
    _normal(client)
