"""Running the app under uvicorn: in the foreground (the CLI) or on a background thread (tests,
benchmarks), on a socket we bind ourselves so port 0 gives a free port we can report."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(app: Any, log_level: str) -> uvicorn.Config:
    # "auto": httptools and uvloop when installed (uvicorn[standard]), else h11 and asyncio
    return uvicorn.Config(
        app, log_level=log_level, access_log=False, http="auto", loop="auto", timeout_keep_alive=30
    )


class ServeError(RuntimeError):
    """The server cannot run (its port is taken, its models failed to load): one line."""


def run_forever(
    app: Any, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info"
) -> None:
    """Serve ``app`` until stopped; :class:`ServeError` if the port cannot be bound or the
    models fail to load (the server stops at once rather than answer 503 forever)."""
    try:
        sock = bind_socket(host, port)
    except OSError as e:
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    server = uvicorn.Server(_config(app, log_level))
    state = getattr(app.state, "globelens", None)
    if state is not None:
        state.on_failed = lambda _: setattr(server, "should_exit", True)
    print(f"globelens serve: listening on {socket_url(sock)}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if state is not None and state.error is not None:
        raise ServeError(state.error)


class BackgroundServer:
    """A real uvicorn server on a thread: ``with BackgroundServer(app) as s: httpx.get(s.url)``."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        self.sock = bind_socket(host, port)
        self.url = socket_url(self.sock)
        self.server = uvicorn.Server(_config(app, log_level))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
