"""Zero-shot classification of pictures against any phrases, with any dual encoder.

Probabilities follow the family's training loss, as transformers'
``pipeline("zero-shot-image-classification")`` computes them: SigLIP scores each phrase on its
own (sigmoid of the logit), CLIP shares the mass among the phrases (softmax).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from globelens.models.base import DualEncoder
from globelens.models.families import ACTIVATIONS
from globelens.models.prompts import BARE_TEMPLATE, class_weights

#: ``Family.activation`` -> (N, M) logits -> probabilities
PROBABILITIES = ACTIVATIONS


def split_labels(text: str) -> list[str]:
    """``"a stove, a lamp"`` -> ``["a stove", "a lamp"]`` (empty parts dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def probabilities(model: DualEncoder, logits: torch.Tensor) -> torch.Tensor:
    """Logits -> probabilities by the model family's ``activation``."""
    activation = getattr(getattr(model, "family", None), "activation", None)
    if activation not in PROBABILITIES:
        raise ValueError(
            f"no probability rule for activation {activation!r}; known: {sorted(PROBABILITIES)}"
        )
    return PROBABILITIES[activation](logits)


@torch.no_grad()
def classify_images(
    model: DualEncoder,
    images: Sequence[Image.Image],
    labels: Sequence[str],
    templates: Sequence[str] = BARE_TEMPLATE,
) -> np.ndarray:
    """(len(images), len(labels)) probabilities. With several ``templates`` ({c} marks the
    label) each label's text embedding is the normalised mean over its prompts."""
    if not labels:
        raise ValueError("classification needs at least one label")
    weights = torch.from_numpy(
        class_weights(labels, templates, lambda t: model.encode_texts(t).float().cpu().numpy())
    )
    if not images:
        return np.zeros((0, len(labels)), np.float32)
    image_embeds = model.encode_images(model.preprocess(list(images)))
    logits = model.logits(image_embeds, weights.to(image_embeds.dtype))
    return probabilities(model, logits).float().cpu().numpy()
