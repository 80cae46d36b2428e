"""``--engine ray``: the same app as a Ray Serve deployment with N replicas.

Each replica builds its own :class:`ServerState` (models, batchers, metrics) and loads it before
Ray routes traffic to it; Ray Serve's HTTP proxy spreads requests over the replicas, and each
replica batches what it receives exactly as the local engine does.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import time
from collections.abc import Sequence
from typing import Any

from globelens.serve.app import create_app
from globelens.serve.config import ServeConfig, apply_threads
from globelens.serve.models import ModelSpec
from globelens.serve.server import ServeError
from globelens.serve.state import ServerState

APP_NAME = "globelens"
#: how a replica's constructor says the models did not load (read back by ``run_ray``)
REPLICA_FAILED = "loading models failed: "


class GlobelensReplica:
    """One Ray Serve replica: loads the models in its constructor (Ray marks it healthy only
    afterwards), then hands Ray the app (``__serve_build_asgi_app__``)."""

    def __init__(self, specs: Sequence[ModelSpec], config: ServeConfig) -> None:
        apply_threads(config)
        self.state = ServerState(specs, config)
        self.state.load()
        if self.state.phase != "ready":
            raise RuntimeError(f"{REPLICA_FAILED}{self.state.error}")

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self.state)

    def check_health(self) -> None:
        """Ray Serve calls this periodically; raising restarts the replica."""
        ok, detail = self.state.readiness()
        if not ok:
            raise RuntimeError(f"replica not ready: {detail}")


def build_deployment(
    specs: Sequence[ModelSpec],
    config: ServeConfig,
    replicas: int = 1,
    num_cpus: float = 1.0,
) -> Any:
    """A bound Ray Serve application (``serve.run`` it)."""
    from ray import serve

    deployment = serve.deployment(
        serve.ingress()(GlobelensReplica),
        name=APP_NAME,
        num_replicas=replicas,
        max_ongoing_requests=config.limits.max_concurrency,
        ray_actor_options={"num_cpus": num_cpus},
        health_check_period_s=5,
    )
    return deployment.bind(list(specs), config)


def start_ray(
    specs: Sequence[ModelSpec],
    config: ServeConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    replicas: int = 1,
    num_cpus: float = 1.0,
) -> str:
    """Start Ray (locally when no cluster is running), Serve's HTTP proxy and the deployment;
    returns the base URL. Stop with :func:`stop_ray`."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if port == 0:
        port = _free_port(host)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_deployment(specs, config, replicas, num_cpus), name=APP_NAME, route_prefix="/")
    return f"http://{host}:{port}"


def stop_ray() -> None:
    import ray
    from ray import serve

    try:
        serve.shutdown()
    finally:
        ray.shutdown()


def run_ray(
    specs: Sequence[ModelSpec],
    config: ServeConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    replicas: int = 1,
    num_cpus: float = 1.0,
) -> None:
    """The CLI's ``--engine ray``: serve until interrupted (SIGINT or SIGTERM), then stop
    Serve and the local Ray instance, so no Ray process outlives the command."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        url = start_ray(specs, config, host=host, port=port, replicas=replicas, num_cpus=num_cpus)
    except RuntimeError as e:  # a replica could not load the models: Serve gave up on it
        reason = _replica_error() or " ".join(str(e).split())
        stop_ray()
        raise ServeError(f"Ray Serve could not start: {reason}") from None
    print(f"globelens serve (ray, {replicas} replicas): listening on {url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop_ray()


def _replica_error() -> str | None:
    """Why the replicas failed, from Serve's status (their own logs stay in the cluster)."""
    from ray import serve

    with contextlib.suppress(Exception):
        message = serve.status().applications[APP_NAME].deployments[APP_NAME].message
        found = re.search(f"{REPLICA_FAILED}(.*)", message)
        return found.group(1).strip() if found else None
    return None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
