"""On-disk embedding cache: ``.npy`` files (never pickle) keyed by model, data and transform.

Image embeddings are keyed by the model fingerprint (weights + preprocessing), the benchmark's
identity (record order and every source file's path, size and mtime) and the decode settings;
text embeddings by the fingerprint and the exact texts. A re-run with new prompts or class
names therefore finds the image side and recomputes only the text side.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from globelens.data.atomic import atomic_save_npy, atomic_write_text

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$GLOBELENS_CACHE/embeddings``, else ``~/.cache/globelens/embeddings``."""
    base = os.environ.get("GLOBELENS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "globelens"
    )
    return Path(base) / "embeddings"


def cache_key(**parts: Any) -> str:
    blob = json.dumps({"v": CACHE_VERSION, **parts}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _atomic_save(path: Path, arr: np.ndarray) -> None:
    # Several evaluations may fill one cache at once: a fresh temporary name per writer.
    atomic_save_npy(path, arr, unique=True)


@dataclass
class CachedImages:
    embeddings: np.ndarray  # (N, D) float32, zero rows where the image failed
    valid: np.ndarray  # (N,) bool
    problems: list[dict]


class EmbeddingCache:
    """Image and text embeddings under ``root/images`` and ``root/texts``."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        (self.root / "texts").mkdir(parents=True, exist_ok=True)

    # -- images
    def get_images(self, key: str) -> CachedImages | None:
        base = self.root / "images" / key
        try:
            meta = json.loads((base.with_suffix(".json")).read_text())
            emb = np.load(f"{base}.emb.npy", allow_pickle=False)
            valid = np.load(f"{base}.valid.npy", allow_pickle=False)
        except (OSError, ValueError):
            return None
        if emb.shape[0] != valid.shape[0] or emb.shape[0] != meta.get("n"):
            return None
        return CachedImages(emb, valid.astype(bool), meta.get("problems", []))

    def put_images(self, key: str, item: CachedImages, info: dict[str, Any]) -> None:
        base = self.root / "images" / key
        _atomic_save(Path(f"{base}.emb.npy"), np.ascontiguousarray(item.embeddings, np.float32))
        _atomic_save(Path(f"{base}.valid.npy"), item.valid.astype(bool))
        meta = {"n": int(item.embeddings.shape[0]), "problems": item.problems, **info}
        # The JSON goes last: its presence marks a complete entry.
        atomic_write_text(
            base.with_suffix(".json"), json.dumps(meta, ensure_ascii=False), unique=True
        )

    # -- texts
    def get_texts(self, key: str) -> np.ndarray | None:
        try:
            return np.load(self.root / "texts" / f"{key}.npy", allow_pickle=False)
        except (OSError, ValueError):
            return None

    def put_texts(self, key: str, emb: np.ndarray) -> None:
        _atomic_save(self.root / "texts" / f"{key}.npy", np.ascontiguousarray(emb, np.float32))
