"""Hugging Face Hub ids (``google/siglip-base-patch16-224``) as local model directories.

A model argument that is not an existing path but looks like ``org/name`` (optionally
``org/name@revision``) is resolved with ``huggingface_hub``: from the local cache first, without
the network (as transformers loads offline), then from the Hub unless ``HF_HUB_OFFLINE`` is
set. Only what a safetensors model directory needs is fetched: never pickle weights.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: ``org/name`` or ``org/name@revision`` (the Hub's own rules for the names)
HUB_ID_RE = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>[\w./-]+))?$")
#: the files a model directory is made of (configs, safetensors shards and their index,
#: tokenizer files); ``*.bin``/``*.pt`` pickles are never downloaded
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.model", "merges.txt", "vocab.txt"]
_TRUE = {"1", "on", "yes", "true"}


def is_hub_id(value: str | os.PathLike) -> bool:
    """True for ``org/name[@rev]`` that is not an existing local path."""
    text = str(value)
    return not Path(text).exists() and HUB_ID_RE.match(text) is not None


def offline() -> bool:
    """``HF_HUB_OFFLINE`` as huggingface_hub reads it, read now (tests and users set it late)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def cache_dir() -> Path:
    """The Hugging Face hub cache: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else the default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(home) / "hub"


def resolve_hub_id(value: str) -> Path:
    """The local snapshot directory of Hub id ``value`` (cache first, then the Hub).

    Raises ``FileNotFoundError`` saying what to do when neither has it.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    m = HUB_ID_RE.match(value)
    if m is None:
        raise ValueError(f"{value!r} is not a Hugging Face Hub id (org/name[@revision])")
    repo, rev = m.group("repo"), m.group("rev")
    kw = {"revision": rev, "cache_dir": cache_dir(), "allow_patterns": ALLOW_PATTERNS}
    try:
        return Path(snapshot_download(repo, local_files_only=True, **kw))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    how = (
        f"download it on a machine with a network (`hf download {repo} --include "
        f"'*.json' '*.safetensors' '*.model'`) and copy the cache there, or give a local "
        "model directory"
    )
    if offline():
        raise FileNotFoundError(
            f"{value!r} is not a local directory and not in the Hugging Face cache "
            f"({cache_dir()}); HF_HUB_OFFLINE is set, so the Hub was not asked: {how}"
        )
    try:
        return Path(snapshot_download(repo, **kw))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as e:
        raise FileNotFoundError(
            f"{value!r} is not a local directory, not in the Hugging Face cache "
            f"({cache_dir()}), and the Hub did not give it ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else 'no detail'}): {how}"
        ) from e


def local_model_path(value: str | os.PathLike) -> Path:
    """``value`` as a local path: itself, or the snapshot of a Hub id."""
    return resolve_hub_id(str(value)) if is_hub_id(value) else Path(value)


__all__ = ["ALLOW_PATTERNS", "cache_dir", "is_hub_id", "local_model_path", "resolve_hub_id"]
