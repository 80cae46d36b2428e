"""Text positions as trained, and as transformers' zero-shot pipeline pads them.

transformers' ``pipeline("zero-shot-image-classification")`` always pads SigLIP text to 64
tokens (``padding="max_length", max_length=64``, the released SigLIPs' context), whatever the
model's own context. A SigLIP text tower pools its *last* position, and globelens trains it
on a context of ``C`` tokens (16 in the demo), padded with masked padding, so the pooled
position is a pad token at position ``C - 1`` that reads only the text.

A model directory globelens writes therefore has at least the pipeline's number of positions:
rows ``0 .. C-1`` are the trained ones and every row after them is a copy of row ``C - 1``.
Padded to 64, a text shorter than ``C`` tokens then meets exactly what it met in training —
its tokens at their positions, masked padding, and the trained last-position embedding at the
pooled position — so the pipeline scores it as globelens does. The context the model was
trained on stays in the tokenizer's ``model_max_length`` (globelens truncates there), and the
trainer narrows the table back to it when it continues a saved model, so nothing that is
trained or measured changes.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from torch import nn

from globelens.models.families import FAMILIES


def _embeddings(model: Any) -> Any:
    return model.text_model.embeddings


def text_context(config: Any, tokenizer: Any) -> int:
    """The text context a model was trained on: its positions, or fewer when its tokenizer
    says so (a widened model, see the module doc)."""
    positions = int(config.text_config.max_position_embeddings)
    limit = getattr(tokenizer, "model_max_length", None)
    return min(positions, int(limit)) if isinstance(limit, int) and limit > 0 else positions


def widened_state(model: Any, length: int) -> tuple[dict[str, torch.Tensor], Any] | None:
    """``(state_dict, config)`` of ``model`` with ``length`` text positions, rows past the
    trained ones copying the last; None when the model already has that many."""
    emb = _embeddings(model).position_embedding
    context = emb.num_embeddings
    if context >= length:
        return None
    key = next(name for name, p in model.named_parameters() if p is emb.weight)
    weight = emb.weight.detach()
    wide = torch.cat([weight, weight[-1:].expand(length - context, -1)]).contiguous()
    state = {k: v for k, v in model.state_dict().items()}
    state[key] = wide
    config = copy.deepcopy(model.config)
    config.text_config.max_position_embeddings = length
    return state, config


def save_for_pipelines(model: Any, out: str | os.PathLike) -> None:
    """``model.save_pretrained`` (safetensors) with the text positions transformers' pipeline
    pads this family to; the live model is left as it is."""
    family = FAMILIES.get(model.config.model_type)
    length = getattr(family, "pipeline_text_length", None)
    wide = widened_state(model, length) if length else None
    if wide is None:
        model.save_pretrained(out, safe_serialization=True)
        return
    state, config = wide
    model.save_pretrained(out, safe_serialization=True, state_dict=state)
    config.save_pretrained(out)  # over the model's own config.json: the widened table's size


def narrow_text_positions(model: Any, context: int) -> bool:
    """Keep the first ``context`` text positions (undoing :func:`save_for_pipelines` on a
    loaded model, so training continues on the trained context). Returns whether it changed."""
    emb = _embeddings(model)
    table = emb.position_embedding
    if table.num_embeddings <= context:
        return False
    narrow = nn.Embedding(context, table.embedding_dim, device=table.weight.device,
                          dtype=table.weight.dtype)  # fmt: skip
    with torch.no_grad():
        narrow.weight.copy_(table.weight[:context])
    emb.position_embedding = narrow
    positions = torch.arange(context, device=table.weight.device).expand((1, -1))
    emb.register_buffer("position_ids", positions, persistent=False)
    model.config.text_config.max_position_embeddings = context
    return True


__all__ = [
    "narrow_text_positions",
    "save_for_pipelines",
    "text_context",
    "widened_state",
]
