"""Model kinds, one registry: what protocol a kind of model speaks, how it is loaded, evaluated
and served.

A dual encoder (SigLIP, CLIP) matches pictures against phrases; a generator (PaliGemma) writes
text from a picture and a prompt. A model directory's kind is its family's
(:data:`globelens.models.families.FAMILIES`, by ``config.json``'s ``model_type``). Adding a kind
is one :class:`ModelKind` in :data:`KINDS`: the evaluator (``globelens.evaluate.suite``) and the
server (``globelens.serve.models``) read everything they need from it.

How a kind is evaluated and served lives in those higher layers; the entry names them by
module and attribute (:class:`Ref`, resolved when first used, as transformers' auto classes
name theirs), so this module imports nothing above ``models``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from globelens.models.base import DualEncoder, Generator
from globelens.models.families import FAMILIES, families_of
from globelens.models.hf import check_model_dir, config_model_type, load_dual_encoder
from globelens.models.paligemma import load_generator


@dataclass(frozen=True)
class Ref:
    """``module:name`` of a higher layer, imported when first used."""

    module: str
    name: str

    def get(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)


@dataclass(frozen=True)
class ModelKind:
    """One kind of model: the protocol it speaks, how it is loaded, evaluated and served."""

    name: str
    #: the protocol of ``globelens.models.base`` a loaded model of this kind satisfies
    protocol: type
    #: (model directory, device, codec=None) -> the loaded model; ``codec`` (a mask codec
    #: file) concerns generators only
    load: Callable[..., Any]
    #: evaluation: (model, benchmark, SuiteOptions, Caches) -> ``Prepared``, the shared work
    #: of the kind's tasks on one benchmark (``globelens.evaluate.protocols``)
    prepare: Ref
    #: serving: a ``globelens.serve.models.Serving`` (batching, warm-up, the page's tasks)
    serving: Ref

    def model_types(self) -> list[str]:
        """The ``config.json`` ``model_type`` values of this kind's families."""
        return families_of(self.name)


def _load_dual(path: str, device: str, codec: str | None = None) -> Any:
    return load_dual_encoder(path, device=device)


def _load_generator(path: str, device: str, codec: str | None = None) -> Any:
    return load_generator(path, device=device, codec=codec)


#: Generator first: a model could in principle speak both protocols, and generation is the
#: richer one (:func:`kind_of_model` takes the first that matches).
KINDS: dict[str, ModelKind] = {
    k.name: k
    for k in (
        ModelKind(
            "generator",
            Generator,
            _load_generator,
            Ref("globelens.evaluate.protocols", "prepare_generator"),
            Ref("globelens.serve.models", "GENERATOR_SERVING"),
        ),
        ModelKind(
            "dual_encoder",
            DualEncoder,
            _load_dual,
            Ref("globelens.evaluate.protocols", "prepare_dual_encoder"),
            Ref("globelens.serve.models", "DUAL_ENCODER_SERVING"),
        ),
    )
}


def kind_of(model_type: str | None) -> ModelKind | None:
    """The kind of ``model_type``'s family, or None when no family has that type."""
    family = FAMILIES.get(model_type or "")
    return KINDS[family.kind] if family is not None else None


def kind_of_model(model: Any) -> ModelKind:
    """The kind whose protocol a loaded model speaks."""
    for kind in KINDS.values():
        if isinstance(model, kind.protocol):
            return kind
    raise TypeError(
        f"{type(model).__name__} speaks none of the model protocols: {', '.join(KINDS)}"
    )


def known_model_types() -> list[str]:
    return sorted(FAMILIES)


def unsupported(path: str | os.PathLike, model_type: str | None) -> str:
    """Why ``path`` (with ``model_type``) cannot be loaded: one line that says what to do."""
    if model_type is None:
        return f"{path}/config.json is not valid JSON or has no model_type"
    return f"{path}: model_type {model_type!r} is not supported (known: {', '.join(known_model_types())})"


def load_model(
    path: str | os.PathLike, device: str = "cpu", codec: str | os.PathLike | None = None
) -> Any:
    """A model directory (or Hub id) -> its DualEncoder or Generator by ``config.model_type``,
    failing fast (with what is missing, or the known types) on a directory that is neither.
    ``codec``: a generator's mask codec file (a dual encoder has no use for it)."""
    p = check_model_dir(path)
    model_type = config_model_type(p)
    kind = kind_of(model_type)
    if kind is None:
        raise ValueError(unsupported(p, model_type))
    return kind.load(str(p), device, codec=str(codec) if codec is not None else None)


__all__ = [
    "KINDS",
    "ModelKind",
    "Ref",
    "kind_of",
    "kind_of_model",
    "known_model_types",
    "load_model",
    "unsupported",
]
