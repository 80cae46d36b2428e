"""What the server serves: model directories found on disk, loaded by kind, each with its batcher.

A model directory's ``config.json`` ``model_type`` picks its kind from
``globelens.models.kinds.KINDS`` (dual encoders: classify and embed; generators: the task
language), which loads it and names the :class:`Serving` here that says how the kind runs a
batch of requests and warms up, so a new kind is one entry there and no route changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from globelens.models.hf import TRAIN_MODEL_SUBDIR, config_model_type
from globelens.models.hub import is_hub_id, local_model_path
from globelens.models.kinds import KINDS, ModelKind, kind_of, known_model_types, unsupported
from globelens.models.preprocess import Pixels, cat_pixels
from globelens.serve.batching import Batcher, BatchFn, run_isolated
from globelens.serve.config import BatchConfig

#: files that mark a training checkpoint, which ``discover`` skips (its final model is served)
CHECKPOINT_MARKERS = ("trainer_state.pt",)


# -- jobs and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class EncodeJob:
    """Images (already preprocessed) and texts to embed; ``logits`` also scores them."""

    images: Pixels | None = None
    texts: tuple[str, ...] = ()
    logits: bool = False


@dataclass(frozen=True)
class EncodeResult:
    image_embeds: torch.Tensor
    text_embeds: torch.Tensor
    #: (n_images, n_texts) when the job asked for logits
    logits: torch.Tensor | None = None


@dataclass(frozen=True)
class GenerateJob:
    image: Image.Image
    prompt: str
    max_new_tokens: int = 32
    num_beams: int = 1


# -- batch functions ------------------------------------------------------------------------

#: images per forward pass of the image tower (bounds memory for large embedding requests)
IMAGE_CHUNK = 64


def dual_encoder_batch(model: Any) -> BatchFn:
    """All images of a batch in one image-tower pass, every distinct text once."""

    def run(jobs: Sequence[EncodeJob]) -> list[EncodeResult]:
        images = [j.images for j in jobs if j.images is not None and len(j.images)]
        if images:
            pixels = cat_pixels(images)
            img = torch.cat(
                [
                    model.encode_images(pixels[i : i + IMAGE_CHUNK])
                    for i in range(0, len(pixels), IMAGE_CHUNK)
                ]
            )
        else:
            img = torch.zeros(0, 0)
        texts = list(dict.fromkeys(t for j in jobs for t in j.texts))
        txt = model.encode_texts(texts) if texts else torch.zeros(0, 0)
        index = {t: i for i, t in enumerate(texts)}
        out, k = [], 0
        for j in jobs:
            n = 0 if j.images is None else len(j.images)
            ie = img[k : k + n] if n else torch.zeros(0, img.shape[-1] if img.numel() else 0)
            k += n
            te = txt[[index[t] for t in j.texts]] if j.texts else torch.zeros(0, 0)
            out.append(EncodeResult(ie, te, model.logits(ie, te) if j.logits else None))
        return out

    return run


def generator_batch(model: Any) -> BatchFn:
    """One ``generate`` call per group of jobs sharing decode settings."""

    def run(jobs: Sequence[GenerateJob]) -> list[Any]:
        groups: dict[tuple[int, int], list[int]] = {}
        for i, j in enumerate(jobs):
            groups.setdefault((j.max_new_tokens, j.num_beams), []).append(i)
        out: list[Any] = [None] * len(jobs)
        for (max_new, beams), idx in groups.items():

            def gen(sub: Sequence[GenerateJob], max_new: int = max_new, beams: int = beams) -> Any:
                return model.generate(
                    [s.image for s in sub],
                    [s.prompt for s in sub],
                    max_new_tokens=max_new,
                    num_beams=beams,
                    batch_size=len(sub),
                )

            for i, r in zip(idx, run_isolated(gen, [jobs[i] for i in idx]), strict=True):
                out[i] = r
        return out

    return run


def _gray(size: int) -> Image.Image:
    return Image.new("RGB", (size, size), (127, 127, 127))


def _warm_dual(model: Any, batcher: Batcher) -> None:
    job = EncodeJob(model.preprocess([_gray(model.image_size)]), ("warm up",), logits=True)
    _raise_first(batcher.run_sync([job]))


def _warm_generator(model: Any, batcher: Batcher) -> None:
    _raise_first(batcher.run_sync([GenerateJob(_gray(model.image_size), "caption en", 2)]))


def _raise_first(results: Sequence[Any]) -> None:
    for r in results:
        if isinstance(r, BaseException):
            raise r


# -- kinds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Serving:
    """How one kind of model (``globelens.models.kinds.KINDS``) is served: how a batch of
    requests runs through it, how it is warmed up, and what the web page offers for it."""

    batch_fn: Callable[[Any], BatchFn]
    warmup: Callable[[Any, Batcher], None]
    tasks: tuple[str, ...]


def serving_of(kind: str) -> Serving:
    """How models of ``kind`` (a key of ``KINDS``) are served."""
    return KINDS[kind].serving.get()


DUAL_ENCODER_SERVING = Serving(dual_encoder_batch, _warm_dual, ("classify", "embed"))
GENERATOR_SERVING = Serving(
    generator_batch, _warm_generator, ("caption", "answer", "detect", "segment", "prompt")
)


# -- discovery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A model to serve: its public name, directory and kind."""

    name: str
    path: str
    kind: str
    #: a generator's mask codec file (``serve --codec``), else the directory's own
    codec: str | None = None


def _display_name(rel: Path, root: Path) -> str:
    parts = [p for p in rel.parts if p not in ("", ".")]
    # a trainer writes RUN/model: the run folder is the meaningful name
    if parts and parts[-1] == TRAIN_MODEL_SUBDIR and len(parts) > 1:
        parts = parts[:-1]
    if not parts:
        parts = [root.resolve().name]
        if parts[0] == TRAIN_MODEL_SUBDIR and root.resolve().parent.name:
            parts = [root.resolve().parent.name]
    return "/".join(parts)


def discover(targets: Sequence[str]) -> list[ModelSpec]:
    """Every servable model directory named by ``targets``.

    A target is a model directory, a folder searched recursively for model directories (config
    .json with a known ``model_type``; training checkpoints skipped), a Hub id (``org/name``,
    resolved from the local cache) or ``NAME=PATH``.
    """
    specs: list[ModelSpec] = []
    for target in targets:
        name, sep, path = target.partition("=")
        if not sep:
            name, path = "", target
        if is_hub_id(path):  # served under its id, from its snapshot in the cache
            name = name or path
        root = local_model_path(path)
        if not root.exists():
            raise FileNotFoundError(f"{path!r} does not exist")
        found = list(_walk(root))
        if not found and config_model_type(root) is not None:  # a model dir of another type
            raise ValueError(unsupported(path, config_model_type(root)))
        if not found:
            raise FileNotFoundError(
                f"no model directory under {path!r} (looked for config.json with model_type "
                f"in {known_model_types()})"
            )
        if name and len(found) > 1:
            raise ValueError(f"{target!r}: NAME=PATH needs one model dir, found {len(found)}")
        for d, kind in found:
            specs.append(
                ModelSpec(name or _display_name(d.relative_to(root), root), str(d), kind.name)
            )
    return _unique(specs)


#: how deep ``discover`` looks under a folder (a demo's models are at runs/RUN/model)
MAX_DEPTH = 6


def _walk(root: Path, top: bool = True, depth: int = 0) -> Iterator[tuple[Path, ModelKind]]:
    # a training checkpoint is a model dir too, but the run's final model is what to serve
    if not top and any((root / m).exists() for m in CHECKPOINT_MARKERS):
        return
    kind = kind_of(config_model_type(root))
    if kind is not None:
        yield root, kind
        return
    if not root.is_dir() or depth >= MAX_DEPTH:
        return
    final = root / TRAIN_MODEL_SUBDIR
    if not top and kind_of(config_model_type(final)) is not None:
        # a training run folder: its final model, not the untrained start it keeps in init/
        yield from _walk(final, top=False, depth=depth + 1)
        return
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and child.name != "checkpoints":
            yield from _walk(child, top=False, depth=depth + 1)


def _unique(specs: list[ModelSpec]) -> list[ModelSpec]:
    seen: dict[str, int] = {}
    out = []
    for s in specs:
        n = seen.get(s.name, 0)
        seen[s.name] = n + 1
        out.append(s if n == 0 else ModelSpec(f"{s.name}-{n + 1}", s.path, s.kind))
    return out


# -- a loaded model -------------------------------------------------------------------------


@dataclass
class ServedModel:
    spec: ModelSpec
    model: Any
    batcher: Batcher
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def serving(self) -> Serving:
        return serving_of(self.spec.kind)

    @property
    def activation(self) -> str:
        """How logits become scores: the family's ``activation`` (sigmoid for SigLIP-style
        models, softmax for CLIP)."""
        return self.model.family.activation

    def info(self) -> dict[str, Any]:
        return {
            "id": self.name,
            "object": "model",
            "created": self.created,
            "owned_by": "globelens",
            "kind": self.spec.kind,
            "tasks": list(self.serving.tasks),
            "image_size": int(getattr(self.model, "image_size", 0)),
            "fingerprint": getattr(self.model, "fingerprint", ""),
        }


def load_served(
    spec: ModelSpec,
    batching: BatchConfig,
    device: str = "cpu",
    *,
    warmup: bool = True,
    on_batch: Callable[[str, int, float], None] | None = None,
) -> ServedModel:
    model = KINDS[spec.kind].load(spec.path, device, codec=spec.codec)
    serving = serving_of(spec.kind)
    batcher = Batcher(
        spec.name,
        serving.batch_fn(model),
        max_batch=batching.max_batch,
        max_delay_s=batching.max_delay_s,
        max_queue=batching.max_queue,
        on_batch=(lambda n, s: on_batch(spec.name, n, s)) if on_batch else None,
    )
    if warmup:
        serving.warmup(model, batcher)
    return ServedModel(spec, model, batcher.start())
