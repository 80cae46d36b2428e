"""``globelens serve``: the models over HTTP (OpenAI/Hugging Face routes, a web page)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from globelens.cli import debugging

if TYPE_CHECKING:  # the serving stack is imported only when a command runs
    from globelens.serve.config import ServeConfig
    from globelens.serve.models import ModelSpec


@dataclass(frozen=True)
class EngineOptions:
    """Where and how an engine serves (``replicas``/``num_cpus`` matter to Ray only)."""

    host: str
    port: int
    log_level: str
    replicas: int
    num_cpus: float


def _run_local(specs: Sequence[ModelSpec], config: ServeConfig, opts: EngineOptions) -> None:
    from globelens.serve import build_app, run_forever

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
    from globelens.serve.ray_engine import run_ray

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


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        models: list[str] = typer.Argument(
            ...,
            help="Model directories, folders to search for them (e.g. out/demo), or NAME=DIR.",
        ),
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Address to bind (loopback by default)."
        ),
        port: int = typer.Option(8000, "--port", help="Port (0: any free port, printed)."),
        api_key: str | None = typer.Option(
            None,
            "--api-key",
            help="Require 'Authorization: Bearer KEY' on every route but /health and the page "
            "(default: $GLOBELENS_API_KEY when set).",
        ),
        engine: str = typer.Option("local", "--engine", help="local (uvicorn) or ray (Ray Serve)."),
        replicas: int = typer.Option(1, "--replicas", help="Ray Serve replicas (--engine ray)."),
        replica_cpus: float = typer.Option(
            1.0, "--replica-cpus", help="CPUs Ray reserves per replica (--engine ray)."
        ),
        device: str = typer.Option("cpu", "--device", help="torch device (cpu, cuda, cuda:1 ...)."),
        max_batch: int = typer.Option(
            32, "--max-batch", help="Items per batch (1: one at a time)."
        ),
        max_delay_ms: float = typer.Option(
            5.0, "--max-delay-ms", help="Longest wait for a batch to fill after its first item."
        ),
        max_queue: int = typer.Option(
            512, "--max-queue", help="Items waiting per model (then 429)."
        ),
        max_concurrency: int = typer.Option(
            64, "--max-concurrency", help="Requests in progress at once (then 429)."
        ),
        max_body_mb: float = typer.Option(16.0, "--max-body-mb", help="Request body limit (413)."),
        max_pixels: int | None = typer.Option(
            None,
            "--max-pixels",
            help="Pixels an image may decode to, after JPEG draft scaling (413; default: "
            "(32 x the model's image size)^2, at most 40 M).",
        ),
        body_timeout: float = typer.Option(
            15.0, "--body-timeout", help="Seconds for a request body to arrive (then 408)."
        ),
        max_decodes: int | None = typer.Option(
            None, "--max-decodes", help="Large images decoded at once (default: half the CPUs)."
        ),
        decode_budget_mb: float = typer.Option(
            512.0, "--decode-budget-mb", help="Memory for pixels being decoded at once."
        ),
        allowed_host: list[str] = typer.Option(
            [],
            "--allowed-host",
            help="Host name to answer to (repeatable; default: the loopback names when bound "
            "to loopback, any otherwise; '*': any).",
        ),
        cors_origin: list[str] = typer.Option(
            [],
            "--cors-origin",
            help="Origin whose web pages may call the API, e.g. https://app.example "
            "(repeatable; '*': any). Others get 403.",
        ),
        skip_failed_models: bool = typer.Option(
            False,
            "--skip-failed-models",
            help="Serve the models that load when one fails (it answers 503 model_failed); "
            "default: stop with an error.",
        ),
        max_labels: int = typer.Option(
            256, "--max-labels", help="Labels per classification (422)."
        ),
        timeout: float = typer.Option(30.0, "--timeout", help="Seconds per request (then 504)."),
        threads: int | None = typer.Option(
            None, "--threads", help="torch threads per process (default: torch's own choice)."
        ),
        warmup: bool = typer.Option(True, "--warmup/--no-warmup", help="Warm up before /ready."),
        log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
        codec: Path | None = typer.Option(
            None,
            "--codec",
            help="Mask codec for the generators' segment answers: big_vision's vae-oid.npz "
            "or a codec .safetensors (default: the model folder's own).",
        ),
    ) -> None:
        """Serve models: GET / is a web page; /v1/chat/completions, /v1/embeddings and
        /models/NAME speak the OpenAI and Hugging Face APIs."""
        import logging

        from globelens.serve import BatchConfig, Limits, ServeConfig, ServeError, discover
        from globelens.serve.config import API_KEY_ENV, apply_threads

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        specs = discover(models)  # a failure: one line, exit 2 (``cli.main``)
        if codec is not None:
            specs = [replace(s, codec=str(codec)) if s.kind == "generator" else s for s in specs]
        config = ServeConfig(
            limits=Limits(
                max_body_bytes=int(max_body_mb * (1 << 20)),
                max_pixels=max_pixels,
                max_labels=max_labels,
                max_concurrency=max_concurrency,
                request_timeout_s=timeout,
                body_timeout_s=body_timeout,
                **({"max_decodes": max_decodes} if max_decodes else {}),
                decode_budget_bytes=int(decode_budget_mb * (1 << 20)),
            ),
            batching=BatchConfig(max_batch, max_delay_ms / 1000, max_queue),
            api_key=api_key or os.environ.get(API_KEY_ENV) or None,
            device=device,
            warmup=warmup,
            threads=threads,
            skip_failed_models=skip_failed_models,
            allowed_hosts=allowed_hosts(host, allowed_host),
            cors_origins=tuple(cors_origin),
        )
        apply_threads(config)
        for s in specs:
            typer.echo(f"serving {s.name} ({s.kind}) from {Path(s.path)}")
        run = ENGINES.get(engine)
        if run is None:
            known = " or ".join(sorted(ENGINES))
            typer.echo(f"error: unknown engine {engine!r}; use {known}", err=True)
            raise typer.Exit(2)
        try:
            run(specs, config, EngineOptions(host, port, log_level, replicas, replica_cpus))
        except ServeError as e:
            if debugging():
                raise
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
