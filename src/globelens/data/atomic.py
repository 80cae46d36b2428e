"""Write-then-rename: a file or folder appears complete under its name, or not at all.

Every writer in globelens that others read while it runs (shards, curation tables, the
embedding cache, checkpoints, the trained model) writes beside the target under a hidden
temporary name and renames it into place. A crash leaves at most a ``.NAME.tmp`` behind,
never a truncated file under the real name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def temporary_sibling(
    path: str | os.PathLike, *, unique: bool = False, folder: bool = False
) -> Path:
    """The hidden temporary name beside ``path``: ``.NAME.tmp``, or (``unique``) a fresh
    name per call, for targets that several processes may write at once (a shared cache)."""
    path = Path(path)
    if not unique:
        return path.with_name(f".{path.name}.tmp")
    if folder:
        return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def fsync_tree(path: Path) -> None:
    """Flush a file, or every file in a folder, to disk."""
    files = [path] if path.is_file() else [f for f in path.iterdir() if f.is_file()]
    for f in files:
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Rename ``tmp`` over ``path`` (a folder already at ``path`` is removed first: a
    rename cannot replace a non-empty folder)."""
    tmp, path = Path(tmp), Path(path)
    if tmp.is_dir() and path.is_dir():
        shutil.rmtree(path)
    os.replace(tmp, path)


def _discard(tmp: Path) -> None:
    if tmp.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, *, folder: bool = False, unique: bool = False, fsync: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on success it is renamed to
    ``path``, on an error removed. ``folder``: the temporary path is an empty folder.
    ``fsync``: flush the written data before the rename (checkpoints)."""
    path = Path(path)
    tmp = temporary_sibling(path, unique=unique, folder=folder)
    if not unique:
        _discard(tmp)  # left over from a crash
        if folder:
            tmp.mkdir()
    try:
        yield tmp
        if fsync:
            fsync_tree(tmp)
        commit(tmp, path)
        if fsync:
            _fsync_dir(path.parent)
    except BaseException:
        _discard(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, *, unique: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path, unique=unique) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (non-ASCII kept, trailing newline) to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def atomic_save_npy(path: str | os.PathLike, arr: Any, *, unique: bool = False) -> Path:
    """``np.save`` (never pickle) to ``path`` atomically."""
    import numpy as np

    with atomic_path(path, unique=unique) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    return Path(path)


__all__ = [
    "atomic_path",
    "atomic_save_npy",
    "atomic_write_json",
    "atomic_write_text",
    "commit",
    "fsync_tree",
    "temporary_sibling",
]
