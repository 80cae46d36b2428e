"""Streaming read and write of WebDataset tar shards in the img2dataset layout.

A shard ``NNNNN.tar`` holds groups of members sharing a key (the basename before the first
dot): ``key.jpg|png|webp`` (image), ``key.txt`` (caption), ``key.json`` (metadata). Beside it
the writer puts ``NNNNN.parquet`` (the same metadata, one row per sample) and
``NNNNN_stats.json``. Reading never stops on bad input: each problem is recorded in a
:class:`ReadReport` with a reason, and every valid sample still comes through.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import json
import lzma
import os
import tarfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import braceexpand
import pyarrow as pa
import pyarrow.parquet as pq

from globelens.data.atomic import atomic_path, atomic_write_text, commit, temporary_sibling
from globelens.data.images import IMAGE_EXTENSIONS, ImageDecodeError
from globelens.data.problems import ReadReport
from globelens.data.sample import Sample

ShardPattern = str | os.PathLike | Sequence[str | os.PathLike]


#: what a folder of shards holds (compressed tars are read as they are, see _open_stream)
SHARD_GLOBS = ("*.tar", "*.tar.gz", "*.tgz", "*.tar.bz2", "*.tar.xz")


def expand_shards(pattern: ShardPattern) -> list[str]:
    """Expand paths, globs, brace patterns (``{00000..00099}``) and folders into tar paths.

    Several patterns can be given as a list or joined with ``::`` (the webdataset
    convention). A pattern that matches nothing raises ``FileNotFoundError`` naming it.
    """
    patterns: list[str] = []
    items = [pattern] if isinstance(pattern, str | os.PathLike) else list(pattern)
    for item in items:
        patterns.extend(p for p in str(item).split("::") if p)
    paths: list[str] = []
    for pat in patterns:
        found: list[str] = []
        for expanded in braceexpand.braceexpand(os.path.expanduser(pat)):
            if os.path.isdir(expanded):
                found.extend(sorted(f for g in SHARD_GLOBS for f in glob.glob(f"{expanded}/{g}")))
            elif glob.has_magic(expanded):
                found.extend(sorted(glob.glob(expanded)))
            elif os.path.exists(expanded):
                found.append(expanded)
            else:
                raise FileNotFoundError(f"shard {expanded!r} (from pattern {pat!r}) does not exist")
        if not found:
            raise FileNotFoundError(f"pattern {pat!r} matches no shards")
        paths.extend(found)
    return paths


def split_key(name: str) -> tuple[str, str]:
    """``dir/000000001.jpg`` -> (``dir/000000001``, ``jpg``); the extension may hold dots."""
    dirname, base = os.path.split(name)
    stem, _, ext = base.partition(".")
    return (os.path.join(dirname, stem) if dirname else stem), ext.lower()


# Compressed shards (``.tar.gz`` and friends) are decompressed here rather than by tarfile, so
# that the end-of-archive check below sees the uncompressed tar stream.
_COMPRESSION_MAGIC: tuple[tuple[bytes, Any], ...] = (
    (b"\x1f\x8b", gzip.GzipFile),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)
_BLOCK = tarfile.BLOCKSIZE


class _TailReader:
    """A forward-only reader that remembers the last bytes it returned.

    tarfile's stream mode silently stops at a short or invalid header, which is what a tar
    cut off at a member boundary looks like. Keeping the tail lets us check afterwards that
    the archive really ended with its zero end-of-archive block.
    """

    _KEEP = 1 << 18  # far more than tarfile's read-ahead (RECORDSIZE = 10 KiB)

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.pos = 0
        # Recent chunks as read (no copying); old ones drop off once _KEEP bytes are newer.
        self.chunks: deque[bytes] = deque()
        self.kept = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self.pos += len(data)
            self.chunks.append(data)
            self.kept += len(data)
            while self.kept - len(self.chunks[0]) >= self._KEEP:
                self.kept -= len(self.chunks.popleft())
        return data

    def block_at(self, offset: int) -> bytes | None:
        """The (up to) 512 bytes at ``offset``; None if they are no longer remembered."""
        while self.pos < offset + _BLOCK and self.read(1 << 16):
            pass
        start = self.pos - self.kept
        if offset < start:
            return None
        tail = b"".join(self.chunks)
        return tail[offset - start : offset - start + _BLOCK]


def _open_stream(fh: Any) -> Any:
    head = fh.peek(8)[:8] if hasattr(fh, "peek") else b""
    for magic, opener in _COMPRESSION_MAGIC:
        if head.startswith(magic):
            return opener(fileobj=fh, mode="rb")
    return fh


def _iter_groups(path: str, report: ReadReport) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Yield (key, {ext: bytes}) for consecutive members of one tar; record read failures.

    A group is only yielded once the next group starts or the archive ends cleanly, so a
    group cut short by a truncated or corrupt tar is reported (under its key), never
    delivered with members missing.
    """
    key: str | None = None
    members: dict[str, bytes] = {}
    opened = False
    member = ""
    try:
        with open(path, "rb") as fh:
            stream = _TailReader(_open_stream(fh))
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                opened = True
                for info in tar:
                    # TarFile keeps every TarInfo it has seen; drop them to stream in O(1).
                    tar.members = []
                    if not info.isfile():
                        continue
                    member = info.name
                    member_key, ext = split_key(info.name)
                    if member_key != key:
                        if key is not None and members:
                            yield key, members
                        key, members = member_key, {}
                    data = tar.extractfile(info)
                    assert data is not None  # isfile() members always have data
                    members[ext] = data.read()
                    report.bytes += info.size
                # Stream mode ends quietly on a missing, short or invalid header; only a
                # zero block is a real end of archive.
                end = stream.block_at(tar.offset)
                if end is not None and (len(end) < _BLOCK or end.strip(b"\0")):
                    reason = "truncated_tar" if len(end) < _BLOCK else "corrupt_tar"
                    what = "ends" if len(end) < _BLOCK else "has an invalid header"
                    report.add(
                        path,
                        key,
                        reason,
                        f"the archive {what} at byte {tar.offset} without an end-of-archive "
                        "block; the last group may be incomplete and is dropped",
                    )
                    return
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as e:
        detail = f"{type(e).__name__}: {e}"
        if not opened or (key is None and _is_header_error(e)):
            report.add(path, None, "unreadable_tar", f"not a readable tar archive ({detail})")
        else:
            # What was read fully so far is kept; the group being read is lost.
            report.add(path, key, "truncated_tar", f"the archive ends inside {member!r} ({detail})")
        return
    if key is not None and members:
        yield key, members


def _is_header_error(e: BaseException) -> bool:
    return isinstance(e, tarfile.ReadError) and "header" in str(e)


class SampleProblem(ValueError):
    """A tar group that cannot be a sample; ``reason`` is one of :data:`PROBLEM_REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def build_sample(
    path: str, key: str, members: dict[str, bytes], *, require_caption: bool = True
) -> Sample:
    """One tar group (``{ext: bytes}``) as a Sample; raises :class:`SampleProblem` saying
    why it cannot be one. Every reader (the streaming one here, the trainer's indexed one in
    ``globelens.data.index``) builds samples through this, so they agree on what a sample is
    and on the reasons."""
    image_ext = next((e for e in IMAGE_EXTENSIONS if e in members), None)
    if image_ext is None:
        raise SampleProblem("missing_image", f"members: {sorted(members)}")
    meta: dict[str, Any] = {}
    if "json" in members:
        try:
            meta = json.loads(members["json"].decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError(f"expected an object, got {type(meta).__name__}")
        except (UnicodeDecodeError, ValueError) as e:
            raise SampleProblem("malformed_json", str(e)) from None
    caption: str | None = None
    if "txt" in members:
        try:
            caption = members["txt"].decode("utf-8")
        except UnicodeDecodeError as e:
            raise SampleProblem("invalid_utf8", str(e)) from None
    if require_caption:
        if caption is None:
            raise SampleProblem("missing_caption", "no .txt member")
        if not caption.strip():
            raise SampleProblem("empty_caption", "caption is empty or whitespace")
    return Sample(
        key=os.path.basename(key),
        image_bytes=members[image_ext],
        caption=caption,
        meta=meta,
        image_ext=image_ext,
        extras={e: b for e, b in members.items() if e not in (image_ext, "txt", "json")},
        source=path,
    )


def _build_sample(
    path: str,
    key: str,
    members: dict[str, bytes],
    report: ReadReport,
    require_caption: bool,
    check_images: bool,
) -> Sample | None:
    """Turn one tar group into a Sample, or record why it cannot be one."""
    try:
        sample = build_sample(path, key, members, require_caption=require_caption)
    except SampleProblem as e:
        report.add(path, key, e.reason, e.detail)
        return None
    if check_images:
        try:
            sample.image()
        except ImageDecodeError as e:
            report.add(path, key, e.reason, e.detail)
            return None
    return sample


def read_shards(
    pattern: ShardPattern,
    report: ReadReport | None = None,
    *,
    require_caption: bool = True,
    check_images: bool = False,
) -> Iterator[Sample]:
    """Stream samples from shards; problems go into ``report`` and never stop the read.

    ``check_images=True`` decodes every image so that corrupt ones are reported here; by
    default decoding is left to the consumer (lazy), which should catch ``ImageDecodeError``.
    """
    report = report if report is not None else ReadReport()
    for path in expand_shards(pattern):
        report.shards += 1
        for key, members in _iter_groups(path, report):
            sample = _build_sample(path, key, members, report, require_caption, check_images)
            if sample is not None:
                report.samples += 1
                yield sample


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    # Fixed owner, mode and mtime so the same samples always give the same bytes.
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uname = info.gname = ""
    return info


_USTAR_TEMPLATE = _tar_info("x", 0).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _member_header(name: str, size: int) -> bytes | None:
    """The header ``tarfile`` writes for ``_tar_info(name, size)`` in PAX format, built from a
    template (tarfile's generic path costs ~40 us a member, as much as writing the data);
    None where tarfile would add a pax extended header (non-ASCII or long names, huge sizes).
    """
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        return None
    if len(raw) > 100 or not 0 <= size < 8**11:
        return None
    buf = bytearray(_USTAR_TEMPLATE)
    buf[0:100] = raw.ljust(100, tarfile.NUL)
    buf[124:136] = b"%011o\0" % size
    # ustar checksum: the header's byte sum with the checksum field counted as 8 spaces
    chksum = 256 + sum(buf[:148]) + sum(buf[156:])
    buf[148:156] = b"%06o\0 " % chksum
    return bytes(buf)


def _parquet_table(rows: list[dict[str, Any]]) -> pa.Table:
    """One row per sample; nested values become JSON strings so any schema fits."""
    # Columns in first-seen order; a row without a field gives None. (Building each column in
    # one pass: a default list per (row, field) made this quadratic in the shard size.)
    names = dict.fromkeys(name for row in rows for name in row)
    columns = {name: [row.get(name) for row in rows] for name in names}
    arrays = {}
    for name, values in columns.items():
        if any(isinstance(v, dict | list) for v in values):
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[name] = pa.array([None if v is None else str(v) for v in values])
    return pa.table(arrays)


class ShardWriter:
    """Write samples into ``NNNNN.tar`` shards with parquet metadata and stats beside them.

    Samples keep their key unless ``assign_keys`` is true, in which case keys follow the
    img2dataset scheme: 5-digit shard number + 4-digit index (``000030042``).
    Each shard is written to a temporary name and renamed when complete, so a reader never
    sees a half-written shard.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        maxcount: int = 10_000,
        start_shard: int = 0,
        assign_keys: bool = False,
        name_format: str = "{:05d}",
    ) -> None:
        if maxcount < 1:
            raise ValueError(f"maxcount must be at least 1, got {maxcount}")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.maxcount = maxcount
        self.assign_keys = assign_keys
        # img2dataset: 4 index digits, more only when a shard holds more than 10,000 samples.
        self._index_digits = max(4, len(str(maxcount - 1)))
        self.name_format = name_format
        self.shard_index = start_shard
        self.written: list[str] = []
        self.total = 0
        self._tar: tarfile.TarFile | None = None
        self._rows: list[dict[str, Any]] = []
        self._tmp_path: Path | None = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # On an error the open shard is discarded rather than finished short, so a resumed
        # run redoes it instead of trusting an incomplete shard.
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def _open(self) -> None:
        name = self.name_format.format(self.shard_index)
        self._tmp_path = temporary_sibling(self.out_dir / f"{name}.tar")
        # Closed in _finish_shard or abort, not here: the shard spans many write() calls.
        self._tar = tarfile.open(self._tmp_path, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._rows = []

    def write(self, sample: Sample) -> str:
        """Add one sample; returns the key it was written under."""
        if sample.image_bytes is None:
            raise ValueError(f"sample {sample.key!r} has no image bytes")
        if self._tar is None:
            self._open()
        assert self._tar is not None
        key = (
            f"{self.shard_index:05d}{len(self._rows):0{self._index_digits}d}"
            if self.assign_keys
            else sample.key
        )
        if not key or "." in os.path.basename(key) or "/" in key:
            raise ValueError(
                f"invalid sample key {key!r}: it must be non-empty, with no '.' or '/'"
            )
        meta = {**sample.meta, "key": key}
        if sample.caption is not None:
            meta.setdefault("caption", sample.caption)
        meta.setdefault("status", "success")
        members: list[tuple[str, bytes]] = [(sample.image_ext, sample.image_bytes)]
        if sample.caption is not None:
            members.append(("txt", sample.caption.encode("utf-8")))
        members.append(("json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode()))
        members.extend(sorted(sample.extras.items()))
        for ext, data in members:
            self._add_member(f"{key}.{ext}", data)
        self._rows.append(meta)
        self.total += 1
        if len(self._rows) >= self.maxcount:
            self._finish_shard()
        return key

    def _add_member(self, name: str, data: bytes) -> None:
        # Byte for byte what TarFile.addfile writes, without its per-member overhead.
        assert self._tar is not None
        header = _member_header(name, len(data))
        if header is None:
            self._tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))
            return
        pad = -len(data) % tarfile.BLOCKSIZE
        self._tar.fileobj.write(header + data + tarfile.NUL * pad)
        self._tar.offset += len(header) + len(data) + pad

    def write_all(self, samples: Iterable[Sample]) -> int:
        """Write every sample; returns how many were written."""
        n = 0
        for sample in samples:
            self.write(sample)
            n += 1
        return n

    def _finish_shard(self) -> None:
        assert self._tar is not None and self._tmp_path is not None
        self._tar.close()
        name = self.name_format.format(self.shard_index)
        final = self.out_dir / f"{name}.tar"
        # Metadata first, each atomically, the tar last: a visible .tar means a complete shard.
        with atomic_path(self.out_dir / f"{name}.parquet") as parquet_tmp:
            pq.write_table(_parquet_table(self._rows), parquet_tmp)
        stats = {
            "count": len(self._rows),
            "successes": len(self._rows),
            "failed_to_download": 0,
            "failed_to_resize": 0,
            "status_dict": {"success": len(self._rows)},
        }
        atomic_write_text(self.out_dir / f"{name}_stats.json", json.dumps(stats, indent=2) + "\n")
        commit(self._tmp_path, final)
        self.written.append(str(final))
        self._tar, self._tmp_path, self._rows = None, None, []
        self.shard_index += 1

    def abort(self) -> list[str]:
        """Discard the open shard (its temporary file); returns the shards already finished."""
        if self._tar is not None:
            self._tar.close()
            assert self._tmp_path is not None
            self._tmp_path.unlink(missing_ok=True)
        self._tar, self._tmp_path, self._rows = None, None, []
        return self.written

    def close(self) -> list[str]:
        """Finish the open shard; returns the paths of all shards written."""
        if self._tar is not None and self._rows:
            self._finish_shard()
        elif self._tar is not None:
            self._tar.close()
            assert self._tmp_path is not None
            self._tmp_path.unlink(missing_ok=True)
            self._tar = None
        return self.written
