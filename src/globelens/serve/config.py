"""Typed settings of the server: its limits and its batching."""

from __future__ import annotations

from dataclasses import dataclass

#: environment variable holding the bearer token when ``--api-key`` is not given
API_KEY_ENV = "GLOBELENS_API_KEY"


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; each limit has its own status code (docs/serving.md)."""

    #: request body in bytes, counted while it streams in (413)
    max_body_bytes: int = 16 << 20
    #: width x height read from the image header before any decoding (413)
    max_pixels: int = 40_000_000
    #: smallest accepted side: 1x1 images break resizing in other servers (400)
    min_image_side: int = 8
    #: candidate labels per classification, texts or images per embedding request (422)
    max_labels: int = 256
    max_inputs: int = 256
    #: characters per label / embedding text, and per generation prompt (422)
    max_label_chars: int = 512
    max_prompt_chars: int = 2_000
    #: tokens a generation may ask for (422)
    max_new_tokens: int = 256
    #: requests being processed at once before new ones get 429 + Retry-After
    max_concurrency: int = 64
    #: seconds a request may take before it gets 504
    request_timeout_s: float = 30.0


@dataclass(frozen=True)
class BatchConfig:
    """Dynamic batching, per model: up to ``max_batch`` items, waiting at most ``max_delay_s``
    after the first one arrives; at most ``max_queue`` items wait (then 429)."""

    max_batch: int = 32
    max_delay_s: float = 0.005
    max_queue: int = 512


@dataclass(frozen=True)
class ServeConfig:
    limits: Limits = Limits()
    batching: BatchConfig = BatchConfig()
    #: bearer token required on every route but ``/health`` (None: no auth)
    api_key: str | None = None
    device: str = "cpu"
    #: run one batch through every model before ``/ready`` says yes
    warmup: bool = True
    #: torch intra-op threads of the serving process (None: torch's default). On a shared or
    #: oversubscribed machine 1 is much faster than several spinning threads.
    threads: int | None = None


def apply_threads(config: ServeConfig) -> None:
    """Set the process's torch threads from ``config.threads`` (by whoever owns the process:
    the CLI, or a Ray replica)."""
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
