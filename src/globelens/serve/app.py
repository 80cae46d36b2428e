"""The HTTP app: OpenAI- and Hugging Face-shaped routes, native routes, the page, health.

Routes (docs/serving.md has examples):

- ``GET /health`` (liveness), ``GET /ready`` (503 until every model is loaded, warmed up and its
  batching worker alive), ``GET /metrics`` (Prometheus), ``GET /v1/models``;
- ``POST /v1/embeddings`` (OpenAI; texts, or images as data URIs) and ``POST /v1/chat/completions``
  (OpenAI; one image part + the task prompt; the parsed result rides along as ``globelens``);
- ``POST /models/{model}``: Hugging Face zero-shot image classification;
- ``POST /v1/classify`` and ``POST /v1/generate``: native, JSON or multipart;
- ``GET /``: the web page (assets under ``/static``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from globelens.data.images import ImageDecodeError, image_size
from globelens.models.hf import ACTIVATIONS
from globelens.serve.batching import BatcherStoppedError, QueueFullError
from globelens.serve.config import Limits, ServeConfig
from globelens.serve.errors import APIError
from globelens.serve.guard import Guard
from globelens.serve.inputs import (
    b64_image_bytes,
    check_prompt,
    check_texts,
    fill_template,
    is_data_uri,
    load_image,
)
from globelens.serve.metrics import Metrics
from globelens.serve.models import (
    EncodeJob,
    GenerateJob,
    ModelSpec,
    ServedModel,
    load_served,
)

log = logging.getLogger(__name__)

#: the Hugging Face zero-shot pipeline's default
HF_TEMPLATE = "This is a photo of {}."
STATIC_DIR = "static"


# -- state ----------------------------------------------------------------------------------


class ServerState:
    """The models and counters one app serves; loading happens off the event loop."""

    def __init__(self, specs: Sequence[ModelSpec], config: ServeConfig | None = None) -> None:
        self.specs = list(specs)
        self.config = config or ServeConfig()
        self.metrics = Metrics()
        self.models: dict[str, ServedModel] = {}
        self.phase: Literal["starting", "loading", "ready", "failed", "stopped"] = "starting"
        self.error: str | None = None
        self.inflight = 0
        self._thread: threading.Thread | None = None

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def load(self) -> None:
        """Load and warm up every model (blocking); failures leave the server not ready."""
        self.phase = "loading"
        try:
            for spec in self.specs:
                t0 = time.perf_counter()
                served = load_served(
                    spec,
                    self.config.batching,
                    self.config.device,
                    warmup=self.config.warmup,
                    on_batch=self.metrics.observe_batch,
                )
                self.models[spec.name] = served
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
            self.phase = "ready"
        except Exception as e:
            self.phase, self.error = "failed", f"{type(e).__name__}: {e}"
            log.exception("loading models failed")

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
        if self.error:
            detail["error"] = self.error
        return ok, detail

    def get(self, name: Any, kind: str, route: str) -> ServedModel:
        """The model a request names (or the only one of its kind), refusing clearly."""
        if self.phase != "ready":
            raise APIError(
                503,
                "not_ready",
                f"models are not ready ({self.phase})",
                headers={"Retry-After": "2"},
            )
        of_kind = [m for m in self.models.values() if m.spec.kind == kind]
        if name is None or name == "":
            if len(of_kind) == 1:
                return of_kind[0]
            raise APIError(
                422 if of_kind else 404,
                "model_required" if of_kind else "model_not_found",
                f"name the model; {route} serves: {sorted(m.name for m in of_kind)}",
                param="model",
            )
        if not isinstance(name, str):
            raise APIError(422, "invalid_type", "model must be a string", param="model")
        served = self.models.get(name)
        if served is None:
            raise APIError(
                404,
                "model_not_found",
                f"model {name!r} does not exist; available: {sorted(self.models)}",
                param="model",
            )
        if served.spec.kind != kind:
            raise APIError(
                400,
                "wrong_model_kind",
                f"model {name!r} is a {served.spec.kind}; {route} needs a {kind} "
                f"({sorted(m.name for m in of_kind)})",
                param="model",
            )
        return served


# -- request bodies -------------------------------------------------------------------------


class _Native(BaseModel):
    # native routes refuse unknown fields, so a typo fails instead of being ignored
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ClassifyBody(_Native):
    model: str | None = None
    image: str
    labels: list[str]
    template: str = "{}"


class GenerateBody(_Native):
    model: str | None = None
    image: str
    prompt: str
    max_new_tokens: int = 32
    num_beams: int = 1


class _OpenAI(BaseModel):
    # clients send fields we do not use (user, temperature ...): accept them
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class EmbeddingsBody(_OpenAI):
    model: str | None = None
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    #: "image": every input is an image (base64 or data URI); default: data URIs are images
    modality: Literal["text", "image"] | None = None
    dimensions: int | None = None


class ChatMessage(_OpenAI):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatBody(_OpenAI):
    model: str | None = None
    messages: list[ChatMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int = 1
    stream: bool = False
    num_beams: int = 1


class HFParameters(_OpenAI):
    candidate_labels: list[str]
    hypothesis_template: str | None = None


class HFBody(_OpenAI):
    inputs: str
    parameters: HFParameters


def _validate(cls: type[BaseModel], data: Any) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise _validation_error(e.errors()) from None


def _validation_error(errors: Sequence[Any]) -> APIError:
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    # pydantic names union members in the location ("input.str"); the field is what matters
    param = ".".join(p for p in loc if not p.startswith(("list[", "str", "int")))
    msg = first.get("msg", "invalid request")
    return APIError(422, "invalid_request", f"{param or 'body'}: {msg}", param=param or None)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as e:
        raise APIError(400, "invalid_json", f"the body is not valid JSON ({e})") from None


# -- helpers --------------------------------------------------------------------------------


async def _submit(served: ServedModel, job: Any) -> Any:
    try:
        return await served.batcher.submit(job)
    except QueueFullError as e:
        raise APIError(429, "queue_full", str(e), headers={"Retry-After": "1"}) from None
    except BatcherStoppedError as e:
        raise APIError(503, "not_ready", str(e), headers={"Retry-After": "2"}) from None
    except APIError:
        raise
    except Exception as e:  # the model failed on this item (its batch-mates are unaffected)
        log.warning("model %s failed on an item: %s", served.name, e)
        raise APIError(500, "model_error", f"the model failed on this input: {e}") from None


async def _with_deadline(state: ServerState, work: Any) -> Any:
    try:
        return await asyncio.wait_for(work, state.limits.request_timeout_s)
    except asyncio.TimeoutError:
        raise APIError(
            504,
            "timeout",
            f"the request took longer than {state.limits.request_timeout_s:g} s",
        ) from None


def _image_tensor(served: ServedModel, data: bytes, limits: Limits, param: str) -> torch.Tensor:
    return served.model.preprocess([load_image(data, limits, param)])


#: pictures up to this many pixels are decoded on the event loop: for a small picture the hop
#: to a worker thread costs more CPU than the decoding (a 64x64 PNG decodes in ~0.1 ms). The
#: size comes from the header, so a tiny file claiming a huge picture still goes to a thread.
INLINE_DECODE_PIXELS = 256 * 256


def _decodes_fast(data: bytes) -> bool:
    try:
        width, height = image_size(data)
    except ImageDecodeError:
        return True  # refused at once, wherever it runs
    return width * height <= INLINE_DECODE_PIXELS


async def _off_loop(data: bytes, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` for one picture: right here when it is small, else in the thread pool."""
    if _decodes_fast(data):
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def _reply(body: Any, status: int = 200) -> Response:
    # serialised once with the standard library (FastAPI's encoder walks every value first)
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _scores(served: ServedModel, logits: torch.Tensor) -> list[float]:
    return ACTIVATIONS[served.activation](logits).tolist()


async def _classify(
    state: ServerState,
    model: Any,
    image: bytes,
    labels: Any,
    template: Any,
    *,
    labels_param: str = "labels",
    image_param: str = "image",
) -> tuple[ServedModel, list[dict[str, Any]]]:
    served = state.get(model, "dual_encoder", "classification")
    lim = state.limits
    labels = check_texts(
        labels, param=labels_param, max_items=lim.max_labels, max_chars=lim.max_label_chars
    )
    if isinstance(template, str) and len(template) > lim.max_label_chars:
        raise APIError(422, "text_too_long", "template is too long", param="template")
    texts = fill_template(template, labels)
    pixels = await _off_loop(image, _image_tensor, served, image, lim, image_param)
    result = await _submit(served, EncodeJob(pixels, tuple(texts), logits=True))
    scores = _scores(served, result.logits[0])
    ranked = sorted(
        ({"label": lab, "score": float(s)} for lab, s in zip(labels, scores, strict=True)),
        key=lambda r: -r["score"],
    )
    return served, ranked


async def _generate(
    state: ServerState,
    model: Any,
    image: bytes,
    prompt: Any,
    max_new_tokens: Any,
    num_beams: Any,
    *,
    prompt_param: str = "prompt",
) -> tuple[ServedModel, Any, dict[str, Any], int]:
    from globelens.models import tasklang

    served = state.get(model, "generator", "generation")
    lim = state.limits
    prompt = check_prompt(prompt, lim, prompt_param)
    for value, name, hi in (
        (max_new_tokens, "max_new_tokens", lim.max_new_tokens),
        (num_beams, "num_beams", 8),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise APIError(
                422, "invalid_value", f"{name} must be an integer from 1 to {hi}", param=name
            )
    im = await _off_loop(image, load_image, image, lim, "image")
    gen = await _submit(served, GenerateJob(im, prompt, max_new_tokens, num_beams))
    parsed = await run_in_threadpool(
        tasklang.parse,
        prompt,
        gen.text,
        im.width,
        im.height,
        codec=getattr(served.model, "codec", None),
        score=float(gen.logprob),
    )
    return served, gen, parsed.to_json(), max_new_tokens


async def _form(request: Request, max_fields: int) -> Any:
    try:
        return await request.form(max_files=2, max_fields=max_fields)
    except StarletteHTTPException:
        raise
    except Exception as e:
        raise APIError(400, "bad_multipart", f"cannot read the form ({e})") from None


async def _form_image(form: Any, param: str = "image") -> bytes:
    value = form.get(param)
    if isinstance(value, UploadFile):
        return await value.read()
    if isinstance(value, str):
        return b64_image_bytes(value, param)
    raise APIError(422, "missing_field", f"the form needs an {param} file", param=param)


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


def _int_field(value: Any, name: str, default: int) -> Any:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise APIError(422, "invalid_type", f"{name} must be an integer", param=name) from None


def _stream_chat(reply: dict[str, Any]) -> StreamingResponse:
    """A finished completion as the server-sent events of ``stream=True``: the whole text in
    one chunk (generation is not incremental here), then the finish reason, the usage and the
    parsed result, then ``[DONE]``, as the openai client reads them."""
    choice = reply["choices"][0]
    head = {k: reply[k] for k in ("id", "created", "model")}
    chunks = [
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": choice["message"]["content"]},
                    "finish_reason": None,
                }
            ],
        },
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
            "usage": reply["usage"],
            "globelens": reply["globelens"],
        },
    ]

    async def events():
        for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _token_count(model: Any, texts: Sequence[str]) -> int:
    tok = getattr(model, "tokenizer", None)
    if tok is None or not texts:
        return 0
    return int(sum(len(ids) for ids in tok(list(texts))["input_ids"]))


# -- the app --------------------------------------------------------------------------------


def create_app(state: ServerState) -> FastAPI:
    """The ASGI app over ``state``; its lifespan loads the models in the background (if nobody
    has yet) and stops every batching worker on shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start_loading()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(
        title="globelens",
        summary="Language as the API for vision: zero-shot classification, embeddings, "
        "captions, answers, boxes and masks.",
        lifespan=lifespan,
        # the interactive docs pull their scripts from a CDN; the schema is at /openapi.json
        docs_url=None,
        redoc_url=None,
    )
    app.state.globelens = state

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        state.metrics.refused.labels(exc.code).inc()
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await api_error(request, _validation_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        err = APIError(exc.status_code, code, str(exc.detail), headers=exc.headers or None)
        return await api_error(request, err)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return await api_error(request, APIError(500, "internal_error", "internal server error"))

    # -- health ------------------------------------------------------------------------------

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        ok, detail = state.readiness()
        return JSONResponse(detail, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        ok, _ = state.readiness()
        state.metrics.ready.set(1 if ok else 0)
        for name, served in state.models.items():
            state.metrics.queue_depth.labels(name).set(served.batcher.qsize())
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [m.info() for m in state.models.values()]}

    @app.get("/v1/models/{model:path}")
    async def get_model(model: str) -> dict[str, Any]:
        served = state.models.get(model)
        if served is None:
            raise APIError(
                404,
                "model_not_found",
                f"model {model!r} does not exist; available: {sorted(state.models)}",
                param="model",
            )
        return served.info()

    # -- OpenAI ------------------------------------------------------------------------------

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> dict[str, Any]:
        body = _validate(EmbeddingsBody, await _json(request))
        return await _with_deadline(state, _embeddings(body))

    async def _embeddings(body: EmbeddingsBody) -> dict[str, Any]:
        served = state.get(body.model, "dual_encoder", "/v1/embeddings")
        lim = state.limits
        inputs = [body.input] if isinstance(body.input, str) else body.input
        inputs = check_texts(
            inputs, param="input", max_items=lim.max_inputs, max_chars=lim.max_body_bytes
        )
        is_image = [
            body.modality == "image" or (body.modality is None and is_data_uri(s)) for s in inputs
        ]
        texts = [s for s, im in zip(inputs, is_image, strict=True) if not im]
        for i, (s, im) in enumerate(zip(inputs, is_image, strict=True)):
            if not im and len(s) > lim.max_prompt_chars:
                raise APIError(
                    422,
                    "text_too_long",
                    f"input[{i}] has {len(s)} characters; the limit is {lim.max_prompt_chars}",
                    param=f"input[{i}]",
                )

        def prepare() -> torch.Tensor | None:
            tensors = [
                _image_tensor(served, b64_image_bytes(s, f"input[{i}]"), lim, f"input[{i}]")
                for i, (s, im) in enumerate(zip(inputs, is_image, strict=True))
                if im
            ]
            return torch.cat(tensors) if tensors else None

        pixels = await run_in_threadpool(prepare)
        result = await _submit(served, EncodeJob(pixels, tuple(texts)))
        dim = max(result.image_embeds.shape[-1], result.text_embeds.shape[-1])
        if body.dimensions is not None and body.dimensions != dim:
            raise APIError(
                422,
                "unsupported_dimensions",
                f"this model's embeddings have {dim} dimensions",
                param="dimensions",
            )
        it_img, it_txt = iter(result.image_embeds), iter(result.text_embeds)
        data = []
        for i, im in enumerate(is_image):
            vec = (next(it_img) if im else next(it_txt)).numpy().astype("<f4")
            emb: Any = (
                base64.b64encode(vec.tobytes()).decode()
                if body.encoding_format == "base64"
                else vec.tolist()
            )
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = await run_in_threadpool(_token_count, served.model, texts)
        return {
            "object": "list",
            "data": data,
            "model": served.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = _validate(ChatBody, await _json(request))
        reply = await _with_deadline(state, _chat(body))
        return _stream_chat(reply) if body.stream else reply

    async def _chat(body: ChatBody) -> dict[str, Any]:
        if body.n != 1:
            raise APIError(400, "unsupported_parameter", "n must be 1", param="n")
        users = [m for m in body.messages if m.role == "user"]
        if not users:
            raise APIError(422, "missing_field", "messages need a user message", param="messages")
        images, texts = [], []
        content = users[-1].content
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for i, part in enumerate(parts):
            param = f"messages.content[{i}]"
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "image_url" and isinstance(part.get("image_url"), dict | str):
                url = part["image_url"]
                url = url.get("url") if isinstance(url, dict) else url
                if not isinstance(url, str):
                    raise APIError(
                        422, "invalid_type", "image_url.url must be a string", param=param
                    )
                images.append(b64_image_bytes(url, param))
            else:
                raise APIError(
                    422, "invalid_content_part", f"unsupported content part {kind!r}", param=param
                )
        if len(images) != 1:
            raise APIError(
                422,
                "one_image_required",
                f"the user message needs exactly one image_url part (got {len(images)})",
                param="messages",
            )
        max_new = body.max_completion_tokens or body.max_tokens or 32
        served, gen, parsed, max_new = await _generate(
            state,
            body.model,
            images[0],
            " ".join(texts).strip(),
            max_new,
            body.num_beams,
            prompt_param="messages",
        )
        prompt_tokens = await run_in_threadpool(_token_count, served.model, [" ".join(texts)])
        n_out = len(gen.token_ids)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": gen.text},
                    "finish_reason": "length" if n_out >= max_new else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": n_out,
                "total_tokens": prompt_tokens + n_out,
            },
            "globelens": {"logprob": float(gen.logprob), **parsed},
        }

    # -- Hugging Face ------------------------------------------------------------------------

    @app.post("/models/{model:path}")
    async def hf_zero_shot(model: str, request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = _validate(HFBody, await _json(request))
            image = b64_image_bytes(body.inputs, "inputs")
            labels = body.parameters.candidate_labels
            template = body.parameters.hypothesis_template or HF_TEMPLATE
        else:  # raw image bytes; labels in the query string
            image = await request.body()
            labels = request.query_params.getlist("candidate_labels")
            if len(labels) == 1 and "," in labels[0]:
                labels = [s.strip() for s in labels[0].split(",")]
            template = request.query_params.get("hypothesis_template") or HF_TEMPLATE
        _, ranked = await _with_deadline(
            state,
            _classify(
                state,
                model,
                image,
                labels,
                template,
                labels_param="parameters.candidate_labels",
                image_param="inputs",
            ),
        )
        return _reply(ranked)

    # -- native ------------------------------------------------------------------------------

    @app.post("/v1/classify")
    async def classify(request: Request) -> Response:
        if _is_multipart(request):
            form = await _form(request, state.limits.max_labels + 8)
            unknown = set(form.keys()) - {"model", "image", "labels", "template"}
            if unknown:
                raise APIError(422, "unknown_field", f"unknown fields {sorted(unknown)}")
            labels = [v for v in form.getlist("labels") if isinstance(v, str)]
            if len(labels) == 1 and "\n" in labels[0]:
                labels = [s for s in labels[0].splitlines() if s.strip()]
            model, image = form.get("model"), await _form_image(form)
            template = form.get("template") or "{}"
        else:
            body = _validate(ClassifyBody, await _json(request))
            model, labels, template = body.model, body.labels, body.template
            image = b64_image_bytes(body.image, "image")
        served, ranked = await _with_deadline(
            state, _classify(state, model, image, labels, template)
        )
        return _reply({"model": served.name, "activation": served.activation, "scores": ranked})

    @app.post("/v1/generate")
    async def generate(request: Request) -> dict[str, Any]:
        if _is_multipart(request):
            form = await _form(request, 16)
            unknown = set(form.keys()) - {"model", "image", "prompt", "max_new_tokens", "num_beams"}
            if unknown:
                raise APIError(422, "unknown_field", f"unknown fields {sorted(unknown)}")
            model, prompt = form.get("model"), form.get("prompt")
            max_new = _int_field(form.get("max_new_tokens"), "max_new_tokens", 32)
            beams = _int_field(form.get("num_beams"), "num_beams", 1)
            image = await _form_image(form)
        else:
            body = _validate(GenerateBody, await _json(request))
            model, prompt, max_new, beams = (
                body.model,
                body.prompt,
                body.max_new_tokens,
                body.num_beams,
            )
            image = b64_image_bytes(body.image, "image")
        served, gen, parsed, _ = await _with_deadline(
            state, _generate(state, model, image, prompt, max_new, beams)
        )
        return {
            "model": served.name,
            "prompt": prompt,
            "text": gen.text,
            "logprob": float(gen.logprob),
            "tokens": len(gen.token_ids),
            "result": parsed,
        }

    # -- the page ----------------------------------------------------------------------------

    static = StaticFiles(packages=[("globelens.serve", STATIC_DIR)])
    app.mount("/static", static, name="static")
    index = static.lookup_path("index.html")[0]

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    app.add_middleware(Guard, state=state)
    return app


def build_app(specs: Sequence[ModelSpec], config: ServeConfig | None = None) -> FastAPI:
    """``create_app(ServerState(specs, config))``: the app uvicorn runs."""
    return create_app(ServerState(specs, config))


__all__ = ["ServerState", "build_app", "create_app"]
