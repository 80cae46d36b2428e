"""Checkpoints: each one is a complete Hugging Face model directory plus the trainer state.

``step_000200/`` holds ``model.safetensors``, ``config.json``, tokenizer and processor files
(load it with ``AutoModel``/``pipeline``) and ``trainer_state.pt`` (optimizer moments, RNG
states, counters; read back with ``weights_only=True``). A checkpoint is written under a
temporary name and renamed into place, so a crash never leaves a half-written one; only the
newest ``keep`` are kept.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from globelens.data.atomic import atomic_path
from globelens.models.hf import TOKENIZER_ASSETS
from globelens.models.textpositions import save_for_pipelines

CKPT_RE = re.compile(r"^step_(\d{6,})$")
#: files carried over from the initial model directory into every checkpoint
ASSET_FILES = tuple(
    dict.fromkeys(
        (
            *TOKENIZER_ASSETS,
            "tokenizer_config.json",
            "preprocessor_config.json",
            "processor_config.json",
        )
    )
)
STATE_FILE = "trainer_state.pt"


def checkpoint_dirs(root: str | os.PathLike) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := CKPT_RE.match(p.name))]
    return [p for _, p in sorted(found) if (p / STATE_FILE).is_file()]


def latest_checkpoint(root: str | os.PathLike) -> Path | None:
    dirs = checkpoint_dirs(root)
    return dirs[-1] if dirs else None


def save_model_dir(model: Any, assets_from: str | os.PathLike, out: Path) -> None:
    """Write an HF model directory: weights + config + tokenizer/processor from ``assets_from``."""
    save_for_pipelines(model, out)
    for name in ASSET_FILES:
        src = Path(assets_from) / name
        if src.is_file():
            shutil.copy2(src, out / name)


def save_checkpoint(
    root: str | os.PathLike,
    step: int,
    write_model: Callable[[Path], None],
    state: dict[str, Any],
    keep: int,
) -> Path:
    """Atomically write ``root/step_NNNNNN`` and prune all but the newest ``keep``.

    ``write_model(dir)`` writes the model's own files (an HF model directory); the trainer
    state goes next to them.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:06d}"
    with atomic_path(final, folder=True, fsync=True) as tmp:
        write_model(tmp)
        torch.save(state, tmp / STATE_FILE)
    for old in checkpoint_dirs(root)[: -max(keep, 1)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_state(ckpt: str | os.PathLike) -> dict[str, Any]:
    return torch.load(Path(ckpt) / STATE_FILE, weights_only=True, map_location="cpu")
