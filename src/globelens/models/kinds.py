"""What a model directory holds, read from its ``config.json`` ``model_type``: a dual encoder
(SigLIP, CLIP: pictures against phrases) or a generator (PaliGemma: text from a picture and a
prompt). Evaluation and the server load models through :data:`KINDS`, so a new family is
registered once (``register_family`` or ``register_generator``) and works in both."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelKind:
    """One kind of model: the ``model_type`` values it covers and how it is loaded."""

    name: str
    #: config.json model_type values of this kind (read lazily: the family registries fill
    #: when their modules are imported)
    model_types: Callable[[], Collection[str]]
    #: (model directory, device, codec=None) -> the loaded model; ``codec`` (a mask codec
    #: file) concerns generators only
    load: Callable[..., Any]


def _dual_types() -> Collection[str]:
    from globelens.models.hf import FAMILIES

    return FAMILIES


def _load_dual(path: str, device: str, codec: str | None = None) -> Any:
    from globelens.models.hf import load_dual_encoder

    return load_dual_encoder(path, device=device)


def _generator_types() -> Collection[str]:
    from globelens.models.paligemma import GENERATOR_FAMILIES

    return GENERATOR_FAMILIES


def _load_generator(path: str, device: str, codec: str | None = None) -> Any:
    from globelens.models.paligemma import load_generator

    return load_generator(path, device=device, codec=codec)


KINDS: dict[str, ModelKind] = {
    k.name: k
    for k in (
        ModelKind("dual_encoder", _dual_types, _load_dual),
        ModelKind("generator", _generator_types, _load_generator),
    )
}


def kind_of(model_type: str | None) -> ModelKind | None:
    """The kind whose families include ``model_type``, or None."""
    if model_type is None:
        return None
    return next((k for k in KINDS.values() if model_type in k.model_types()), None)


def known_model_types() -> list[str]:
    return sorted({t for k in KINDS.values() for t in k.model_types()})


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
    from globelens.models.hf import check_model_dir, config_model_type

    p = check_model_dir(path)
    model_type = config_model_type(p)
    kind = kind_of(model_type)
    if kind is None:
        raise ValueError(unsupported(p, model_type))
    return kind.load(str(p), device, codec=str(codec) if codec is not None else None)


__all__ = ["KINDS", "ModelKind", "kind_of", "known_model_types", "load_model", "unsupported"]
