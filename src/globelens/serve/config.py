"""Typed settings of the server: its limits and its batching."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: environment variable holding the bearer token when ``--api-key`` is not given
API_KEY_ENV = "GLOBELENS_API_KEY"


#: the default pixel limit allows pictures this many times the model's side (a 224 px model:
#: 7168 px, capped; a 48 px one: 1536 px, 2.4 M pixels, a 9 MB decode)
PIXEL_SIDE_FACTOR = 32
MAX_DEFAULT_PIXELS = 40_000_000


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; each limit has its own status code (docs/serving.md)."""

    #: request body in bytes, counted while it streams in (413)
    max_body_bytes: int = 16 << 20
    #: seconds a model route's body may take to arrive, read before a concurrency slot is
    #: taken (408), and how many bodies may be arriving at once (429 ``too_many_uploads``)
    body_timeout_s: float = 15.0
    max_body_readers: int = 256
    #: pixels an image may decode to, after JPEG draft scaling to the model's size (413);
    #: None: ``(PIXEL_SIDE_FACTOR x the model's image size)^2``, at most ``MAX_DEFAULT_PIXELS``
    max_pixels: int | None = None
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
    #: pictures decoded at once (default: half the CPUs, so decoding leaves the models CPU),
    #: and the bytes their pixels may hold together; a picture waits for its turn (within the
    #: request's time); one larger than the budget gets 413
    max_decodes: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    decode_budget_bytes: int = 512 << 20
    #: nesting of JSON arrays and objects (400 ``json_too_deep``)
    max_json_depth: int = 32

    def pixel_limit(self, image_size: int) -> int:
        """The pixel limit for a model that looks at ``image_size`` x ``image_size``."""
        if self.max_pixels is not None:
            return self.max_pixels
        return min(MAX_DEFAULT_PIXELS, (PIXEL_SIDE_FACTOR * max(image_size, 1)) ** 2)


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
    #: a model that cannot load: False stops the server (the CLI exits non-zero); True keeps
    #: serving the others and answers for that one 503 ``model_failed`` (no Retry-After)
    skip_failed_models: bool = False
    #: ``Host`` header names accepted (None: any); the CLI sets the loopback names when bound
    #: to loopback, so a DNS-rebinding page cannot reach the server under another name
    allowed_hosts: tuple[str, ...] | None = None
    #: origins whose web pages may call the API (CORS); "*" for any. Requests from any other
    #: origin are refused (403), so a page the user opens cannot spend the server's compute
    cors_origins: tuple[str, ...] = ()
    #: torch intra-op threads of the serving process (None: torch's default). On a shared or
    #: oversubscribed machine 1 is much faster than several spinning threads.
    threads: int | None = None


def apply_threads(config: ServeConfig) -> None:
    """Set the process's torch threads from ``config.threads`` (by whoever owns the process:
    the CLI, or a Ray replica)."""
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
