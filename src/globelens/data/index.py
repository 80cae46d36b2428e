"""Random access to shards: index a tar once (headers only), then read any sample by address.

The trainer's batches are a function of (seed, step), so it reads samples out of order; it
indexes each shard (the offset and size of every member) and reads a sample's members with
``pread``. The sample itself is built by :func:`globelens.data.shards.build_sample`, the same
code the streaming reader uses, so both agree on what a sample is and on why one is not
(``malformed_json``, ``invalid_utf8``, ``missing_caption``, ... see ``PROBLEM_REASONS``).
"""

from __future__ import annotations

import functools
import os
import tarfile
from collections import Counter
from dataclasses import dataclass
from typing import Any

from globelens.data.images import IMAGE_EXTENSIONS
from globelens.data.sample import Sample
from globelens.data.shards import SampleProblem, build_sample, split_key

Member = tuple[int, int]  # (offset, size) of a member's data in its tar


@dataclass(frozen=True)
class Ref:
    """Where one sample's members lie in its shard: (offset, size) per member."""

    shard: int
    key: str
    image: Member | None
    txt: Member | None
    json: Member | None
    image_ext: str = "jpg"

    def members(self) -> dict[str, Member]:
        found = {self.image_ext: self.image, "txt": self.txt, "json": self.json}
        return {ext: m for ext, m in found.items() if m is not None}


def index_shard(path: str, shard_id: int) -> tuple[list[Ref], Counter[str]]:
    """Read the tar headers of one shard (no image data) into sample addresses, and count
    what could not be indexed: a truncated or unreadable tar keeps the samples before the
    damage (``truncated_tar``); a sample whose data runs past the end of the file is dropped
    (``truncated_member``).

    Indexes are kept per process for an unchanged file (same size and modification time):
    a multitask run streams the same shards once per task, and walking 9,000 tar headers in
    Python takes about a second.
    """
    try:
        st = os.stat(path)
        stamp: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None
    if stamp is None:
        return _index_shard(path, shard_id)
    refs, problems = _index_cached(path, shard_id, stamp)
    return list(refs), Counter(dict(problems))


@functools.lru_cache(maxsize=256)
def _index_cached(
    path: str, shard_id: int, stamp: tuple[int, int]
) -> tuple[tuple[Ref, ...], tuple[tuple[str, int], ...]]:
    refs, problems = _index_shard(path, shard_id)
    return tuple(refs), tuple(problems.items())


def _index_shard(path: str, shard_id: int) -> tuple[list[Ref], Counter[str]]:
    groups: dict[str, dict[str, Member]] = {}
    problems: Counter[str] = Counter()
    end = 0
    try:
        end = os.path.getsize(path)
        with tarfile.open(path, "r:") as tar:
            for info in tar:
                if info.isfile():
                    key, ext = split_key(info.name)
                    groups.setdefault(key, {})[ext] = (info.offset_data, info.size)
            # tarfile stops quietly at EOF: a complete archive ends with a zero block here
            tar.fileobj.seek(tar.offset)
            if tar.fileobj.read(512) != bytes(512):
                problems["truncated_tar"] += 1
    except (tarfile.TarError, OSError, EOFError):
        problems["truncated_tar"] += 1
    refs = []
    for key, members in groups.items():
        if any(offset + size > end for offset, size in members.values()):
            problems["truncated_member"] += 1
            continue
        ext = next((e for e in IMAGE_EXTENSIONS if e in members), None)
        refs.append(
            Ref(shard_id, key, members.get(ext) if ext else None, members.get("txt"),
                members.get("json"), ext or "jpg")
        )  # fmt: skip
    return refs, problems


class ShardFiles:
    """Open shard files, one handle per path, read with ``pread`` (safe to share across
    threads; each DataLoader worker opens its own after unpickling)."""

    def __init__(self) -> None:
        self._files: dict[str, Any] = {}

    def read(self, path: str, member: Member) -> bytes:
        fh = self._files.get(path)
        if fh is None:
            fh = self._files[path] = open(path, "rb")  # noqa: SIM115 - kept open, closed by close()
        return os.pread(fh.fileno(), member[1], member[0])

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # handles do not travel to worker processes

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._files = {}


def read_indexed(files: ShardFiles, path: str, ref: Ref, *, require_caption: bool = True) -> Sample:
    """The sample at ``ref`` in the shard at ``path``; raises
    :class:`~globelens.data.shards.SampleProblem` (with the streaming reader's reasons)."""
    if ref.image is None:
        raise SampleProblem("missing_image", f"members: {sorted(ref.members())}")
    members = {ext: files.read(path, m) for ext, m in ref.members().items()}
    return build_sample(path, ref.key, members, require_caption=require_caption)


__all__ = ["Member", "Ref", "ShardFiles", "index_shard", "read_indexed"]
