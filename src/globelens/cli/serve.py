"""``globelens serve``: the models over HTTP (OpenAI/Hugging Face routes, a web page)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import typer

from globelens.cli import debugging
from globelens.serve import (
    BatchConfig,
    Limits,
    ServeConfig,
    ServeError,
    build_app,
    discover,
    run_forever,
)
from globelens.serve.config import API_KEY_ENV, apply_threads
from globelens.serve.models import ModelSpec
from globelens.serve.ray_engine import run_ray


@dataclass(frozen=True)
class EngineOptions:
    """Where and how an engine serves (``replicas``/``num_cpus`` matter to Ray only)."""

    host: str
    port: int
    log_level: str
    replicas: int
    num_cpus: float


def _run_local(specs: Sequence[ModelSpec], config: ServeConfig, opts: EngineOptions) -> None:
    run_forever(build_app(specs, config), opts.host, opts.port, opts.log_level)


#: the names a server bound to loopback answers to (any other ``Host`` is refused)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def allowed_hosts(host: str, extra: Sequence[str]) -> tuple[str, ...] | None:
    """Host names to accept: the loopback names when bound to loopback, plus ``extra``
    (``*``: any); None (any) when bound elsewhere and none are named."""
    if "*" in extra:
        return None
    if host in LOOPBACK_HOSTS or host.startswith("127."):
        return (*LOOPBACK_HOSTS, host, *extra)
    return tuple(extra) or None


def _run_ray(specs: Sequence[ModelSpec], config: ServeConfig, opts: EngineOptions) -> None:
    run_ray(
        specs,
        config,
        host=opts.host,
        port=opts.port,
        replicas=opts.replicas,
        num_cpus=opts.num_cpus,
    )


#: ``--engine`` name -> how it serves the discovered models
ENGINES: dict[str, Callable[[Sequence[ModelSpec], ServeConfig, EngineOptions], None]] = {
    "local": _run_local,
    "ray": _run_ray,
}


# the command's options, declared once (typer reads them from the signature)
OPT_MODELS = typer.Argument(
    ...,
    help="Model directories, folders to search for them (e.g. out/demo), or NAME=DIR.",
)
OPT_HOST = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default).")
OPT_PORT = typer.Option(8000, "--port", help="Port (0: any free port, printed).")
OPT_API_KEY = typer.Option(
    None,
    "--api-key",
    help="Require 'Authorization: Bearer KEY' on every route but /health and the page "
    "(default: $GLOBELENS_API_KEY when set).",
)
OPT_ENGINE = typer.Option("local", "--engine", help="local (uvicorn) or ray (Ray Serve).")
OPT_REPLICAS = typer.Option(1, "--replicas", help="Ray Serve replicas (--engine ray).")
OPT_REPLICA_CPUS = typer.Option(
    1.0, "--replica-cpus", help="CPUs Ray reserves per replica (--engine ray)."
)
OPT_DEVICE = typer.Option("cpu", "--device", help="torch device (cpu, cuda, cuda:1 ...).")
OPT_MAX_BATCH = typer.Option(32, "--max-batch", help="Items per batch (1: one at a time).")
OPT_MAX_DELAY_MS = typer.Option(
    5.0, "--max-delay-ms", help="Longest wait for a batch to fill after its first item."
)
OPT_MAX_QUEUE = typer.Option(512, "--max-queue", help="Items waiting per model (then 429).")
OPT_MAX_CONCURRENCY = typer.Option(
    64, "--max-concurrency", help="Requests in progress at once (then 429)."
)
OPT_MAX_BODY_MB = typer.Option(16.0, "--max-body-mb", help="Request body limit (413).")
OPT_MAX_PIXELS = typer.Option(
    None,
    "--max-pixels",
    help="Pixels an image may decode to, after JPEG draft scaling (413; default: "
    "(32 x the model's image size)^2, at most 40 M).",
)
OPT_BODY_TIMEOUT = typer.Option(
    15.0, "--body-timeout", help="Seconds for a request body to arrive (then 408)."
)
OPT_MAX_DECODES = typer.Option(
    None, "--max-decodes", help="Large images decoded at once (default: half the CPUs)."
)
OPT_DECODE_BUDGET_MB = typer.Option(
    512.0, "--decode-budget-mb", help="Memory for pixels being decoded at once."
)
OPT_ALLOWED_HOST = typer.Option(
    [],
    "--allowed-host",
    help="Host name to answer to (repeatable; default: the loopback names when bound "
    "to loopback, any otherwise; '*': any).",
)
OPT_CORS_ORIGIN = typer.Option(
    [],
    "--cors-origin",
    help="Origin whose web pages may call the API, e.g. https://app.example "
    "(repeatable; '*': any). Others get 403.",
)
OPT_SKIP_FAILED_MODELS = typer.Option(
    False,
    "--skip-failed-models",
    help="Serve the models that load when one fails (it answers 503 model_failed); "
    "default: stop with an error.",
)
OPT_MAX_LABELS = typer.Option(256, "--max-labels", help="Labels per classification (422).")
OPT_TIMEOUT = typer.Option(30.0, "--timeout", help="Seconds per request (then 504).")
OPT_THREADS = typer.Option(
    None, "--threads", help="torch threads per process (default: torch's own choice)."
)
OPT_WARMUP = typer.Option(True, "--warmup/--no-warmup", help="Warm up before /ready.")
OPT_LOG_LEVEL = typer.Option("info", "--log-level", help="uvicorn log level.")
OPT_CODEC = typer.Option(
    None,
    "--codec",
    help="Mask codec for the generators' segment answers: big_vision's vae-oid.npz "
    "or a codec .safetensors (default: the model folder's own).",
)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        models: list[str] = OPT_MODELS,
        host: str = OPT_HOST,
        port: int = OPT_PORT,
        api_key: str | None = OPT_API_KEY,
        engine: str = OPT_ENGINE,
        replicas: int = OPT_REPLICAS,
        replica_cpus: float = OPT_REPLICA_CPUS,
        device: str = OPT_DEVICE,
        max_batch: int = OPT_MAX_BATCH,
        max_delay_ms: float = OPT_MAX_DELAY_MS,
        max_queue: int = OPT_MAX_QUEUE,
        max_concurrency: int = OPT_MAX_CONCURRENCY,
        max_body_mb: float = OPT_MAX_BODY_MB,
        max_pixels: int | None = OPT_MAX_PIXELS,
        body_timeout: float = OPT_BODY_TIMEOUT,
        max_decodes: int | None = OPT_MAX_DECODES,
        decode_budget_mb: float = OPT_DECODE_BUDGET_MB,
        allowed_host: list[str] = OPT_ALLOWED_HOST,
        cors_origin: list[str] = OPT_CORS_ORIGIN,
        skip_failed_models: bool = OPT_SKIP_FAILED_MODELS,
        max_labels: int = OPT_MAX_LABELS,
        timeout: float = OPT_TIMEOUT,
        threads: int | None = OPT_THREADS,
        warmup: bool = OPT_WARMUP,
        log_level: str = OPT_LOG_LEVEL,
        codec: Path | None = OPT_CODEC,
    ) -> None:
        """Serve models: GET / is a web page; /v1/chat/completions, /v1/embeddings and
        /models/NAME speak the OpenAI and Hugging Face APIs."""
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        run = ENGINES.get(engine)
        if run is None:
            known = " or ".join(sorted(ENGINES))
            typer.echo(f"error: unknown engine {engine!r}; use {known}", err=True)
            raise typer.Exit(2)
        specs = discover(models)  # a failure: one line, exit 2 (``cli.main``)
        if codec is not None:
            specs = [replace(s, codec=str(codec)) if s.kind == "generator" else s for s in specs]
        limits = Limits(
            max_body_bytes=int(max_body_mb * (1 << 20)),
            max_pixels=max_pixels,
            max_labels=max_labels,
            max_concurrency=max_concurrency,
            request_timeout_s=timeout,
            body_timeout_s=body_timeout,
            **({"max_decodes": max_decodes} if max_decodes else {}),
            decode_budget_bytes=int(decode_budget_mb * (1 << 20)),
        )
        config = ServeConfig(
            limits=limits,
            batching=BatchConfig(max_batch, max_delay_ms / 1000, max_queue),
            api_key=api_key or os.environ.get(API_KEY_ENV) or None,
            device=device,
            warmup=warmup,
            threads=threads,
            skip_failed_models=skip_failed_models,
            allowed_hosts=allowed_hosts(host, allowed_host),
            cors_origins=tuple(cors_origin),
        )
        _serve(run, specs, config, EngineOptions(host, port, log_level, replicas, replica_cpus))


def _serve(
    run: Callable[[Sequence[ModelSpec], ServeConfig, EngineOptions], None],
    specs: Sequence[ModelSpec],
    config: ServeConfig,
    opts: EngineOptions,
) -> None:
    apply_threads(config)
    for s in specs:
        typer.echo(f"serving {s.name} ({s.kind}) from {Path(s.path)}")
    try:
        run(specs, config, opts)
    except ServeError as e:
        if debugging():
            raise
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
