"""What one app serves: its models (loaded off the event loop), their failures, its counters."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from globelens.serve.config import Limits, ServeConfig
from globelens.serve.decode import DecodeGate
from globelens.serve.errors import APIError
from globelens.serve.metrics import Metrics
from globelens.serve.models import ModelSpec, ServedModel, load_served

log = logging.getLogger(__name__)

Phase = Literal["starting", "loading", "ready", "failed", "stopped"]


class ServerState:
    """The models and counters one app serves; loading happens off the event loop.

    A model that cannot load fails the whole server (``phase == "failed"``; ``on_failed`` is
    called with one line saying why, so the process can exit), unless
    ``config.skip_failed_models``: then the others serve and that one answers 503
    ``model_failed`` without ``Retry-After``, since retrying cannot help."""

    def __init__(self, specs: Sequence[ModelSpec], config: ServeConfig | None = None) -> None:
        self.specs = list(specs)
        self.config = config or ServeConfig()
        self.metrics = Metrics()
        self.models: dict[str, ServedModel] = {}
        #: model name -> why it could not load
        self.failed: dict[str, str] = {}
        self.phase: Phase = "starting"
        self.error: str | None = None
        #: requests holding a concurrency slot, and bodies being read (counted by the guard)
        self.inflight = 0
        self.readers = 0
        self.decodes = DecodeGate(self.config.limits)
        self.on_failed: Callable[[str], None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def load(self) -> None:
        """Load and warm up every model (blocking)."""
        self.phase = "loading"
        for spec in self.specs:
            try:
                self._load_one(spec)
            except Exception as e:
                self.failed[spec.name] = f"{type(e).__name__}: {e}"
                log.error(
                    json.dumps(
                        {"event": "model_failed", "model": spec.name, "path": spec.path}
                        | {"error": self.failed[spec.name]}
                    )
                )
                log.debug("loading %s failed", spec.name, exc_info=True)
                if not self.config.skip_failed_models:
                    break
        if self.failed and (not self.config.skip_failed_models or not self.models):
            name, reason = next(iter(self.failed.items()))
            path = next(s.path for s in self.specs if s.name == name)
            self.phase = "failed"
            self.error = f"cannot load model {name!r} from {path}: {reason}"
            if self.on_failed is not None:
                self.on_failed(self.error)
        elif self.phase == "loading":
            self.phase = "ready"

    def _load_one(self, spec: ModelSpec) -> None:
        t0 = time.perf_counter()
        self.models[spec.name] = load_served(
            spec,
            self.config.batching,
            self.config.device,
            warmup=self.config.warmup,
            on_batch=self.metrics.observe_batch,
        )
        log.info(
            json.dumps(
                {
                    "event": "model_loaded",
                    "model": spec.name,
                    "kind": spec.kind,
                    "path": spec.path,
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
        )

    def start_loading(self) -> None:
        if self.phase == "starting" and self._thread is None:
            self._thread = threading.Thread(target=self.load, name="load-models", daemon=True)
            self._thread.start()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.phase == "ready"

    def stop(self) -> None:
        for served in self.models.values():
            served.batcher.stop()
        self.phase = "stopped"

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        workers = {
            name: {"alive": m.batcher.alive(), "queue": m.batcher.qsize()}
            for name, m in self.models.items()
        }
        ok = self.phase == "ready" and all(w["alive"] for w in workers.values())
        detail: dict[str, Any] = {
            "status": "ready" if ok else self.phase,
            "models": workers,
            # which process answered (several replicas serve one address under Ray)
            "pid": os.getpid(),
        }
        if self.phase == "ready" and not ok:
            detail["status"] = "worker_down"
        if self.failed:
            detail["failed"] = dict(self.failed)
        if self.error:
            detail["error"] = self.error
        return ok, detail

    def get(self, name: Any, kind: str, route: str) -> ServedModel:
        """The model a request names (or the only one of its kind), refusing clearly."""
        self._check_serving()
        of_kind = [m for m in self.models.values() if m.spec.kind == kind]
        if name is None or name == "":
            failed = [s.name for s in self.specs if s.kind == kind and s.name in self.failed]
            if len(of_kind) == 1 and not failed:
                return of_kind[0]
            if not of_kind and len(failed) == 1:
                return self._get_named(failed[0], kind, route)
            raise APIError(
                422 if of_kind or failed else 404,
                "model_required" if of_kind or failed else "model_not_found",
                f"name the model; {route} serves: {sorted(m.name for m in of_kind)}",
                param="model",
            )
        if not isinstance(name, str):
            raise APIError(422, "invalid_type", "model must be a string", param="model")
        return self._get_named(name, kind, route)

    def _check_serving(self) -> None:
        if self.phase == "failed":  # permanent: no Retry-After
            raise APIError(503, "models_failed", self.error or "the models failed to load")
        if self.phase != "ready":
            raise APIError(
                503,
                "not_ready",
                f"models are not ready ({self.phase})",
                headers={"Retry-After": "2"},
            )

    def _get_named(self, name: str, kind: str, route: str) -> ServedModel:
        if name in self.failed:
            raise APIError(
                503,
                "model_failed",
                f"model {name!r} failed to load: {self.failed[name]}",
                param="model",
            )
        served = self.models.get(name)
        if served is None:
            raise APIError(
                404,
                "model_not_found",
                f"model {name!r} does not exist; available: {sorted(self.models)}",
                param="model",
            )
        if served.spec.kind != kind:
            of_kind = sorted(m.name for m in self.models.values() if m.spec.kind == kind)
            raise APIError(
                400,
                "wrong_model_kind",
                f"model {name!r} is a {served.spec.kind}; {route} needs a {kind} ({of_kind})",
                param="model",
            )
        return served
