"""A dual encoder's zero-shot head from words: class names put into prompt templates, and
each class's weight the normalised mean of its prompts' text embeddings (CLIP's prompt
ensembling). Evaluation and ``globelens classify`` build their heads here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: a class name on its own (languages without templates of their own, ad-hoc labels)
BARE_TEMPLATE: tuple[str, ...] = ("{c}",)


def fill(template: str, classname: str) -> str:
    """Put ``classname`` into ``template`` (``{c}`` or ``{}``)."""
    if "{c}" in template:
        return template.replace("{c}", classname)
    if "{}" in template:
        return template.replace("{}", classname)
    raise ValueError(f"template {template!r} has no '{{c}}' placeholder for the class name")


def class_weights(
    classnames: Sequence[str],
    templates: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
) -> np.ndarray:
    """(C, D) zero-shot weights: per class, the normalised mean of its prompt embeddings.
    ``embed`` maps texts to (N, D) normalised embeddings; each distinct prompt is embedded
    once."""
    prompts = [fill(t, c) for c in classnames for t in templates]
    unique = list(dict.fromkeys(prompts))
    emb = embed(unique)
    pos = {p: i for i, p in enumerate(unique)}
    full = emb[[pos[p] for p in prompts]].reshape(len(classnames), len(templates), -1)
    w = full.mean(axis=1)
    return w / np.linalg.norm(w, axis=1, keepdims=True).clip(1e-12)


__all__ = ["BARE_TEMPLATE", "class_weights", "fill"]
