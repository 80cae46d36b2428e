"""The in-memory form every benchmark loader produces, whatever the on-disk format."""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from globelens.data import ReadReport, read_shards
from globelens.data.annotations import ITEM_TYPES, typed_items
from globelens.evaluate.datasets.pictures import ORIGINAL, replace_picture
from globelens.evaluate.templates import OPENAI_IMAGENET_TEMPLATES


class BenchmarkFormatError(ValueError):
    """A benchmark folder does not match its format (missing file, column or value)."""


@dataclass
class Record:
    """One evaluation image: where it is, its labels, captions and group metadata."""

    id: str
    #: image file path; empty for records stored inside WebDataset shards
    path: str = ""
    #: class indices; several mean "match any" (Dollar Street's multiple synsets)
    labels: tuple[int, ...] = ()
    #: captions by language (retrieval)
    captions: dict[str, list[str]] = field(default_factory=dict)
    #: group metadata: country, country_code, region, income, income_bucket, ...
    meta: dict[str, Any] = field(default_factory=dict)
    #: generative targets, each key present only when the set has it, typed
    #: (``globelens.data.annotations``): ``"objects"``: ``[AnnotatedObject]`` (bbox [x, y, w, h]
    #: pixels as COCO, segmentation COCO compressed RLE); ``"qa"``: ``[QuestionAnswer]``;
    #: ``"refs"``: ``[ReferringExpression]``; ``"mcq"``: ``[MultipleChoice]``;
    #: ``"grounding"``: ``[Grounding]``. Captions stay in ``captions``. Dicts given for
    #: objects, qa or refs are validated into their types here.
    annotations: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ITEM_TYPES.keys() & self.annotations.keys():
            self.annotations[key] = typed_items(key, self.annotations[key], f"record {self.id}")


@dataclass(frozen=True)
class MultipleChoice:
    """One multiple-choice question about a record's picture (CVQA): ``version`` is
    ``local`` (asked in the place's language) or ``en`` (its English translation)."""

    question: str
    options: tuple[str, ...]
    #: index of the right option
    label: int
    version: str
    #: the language it is asked in: a code (``sw``) where known, else the set's name for it
    language: str
    id: str = ""


@dataclass(frozen=True)
class Grounding:
    """A concept to box in a record's picture (GlobalRG): any of ``boxes`` (``[x, y, w, h]``
    pixels, COCO order) is a right answer."""

    concept: str
    boxes: tuple[tuple[float, float, float, float], ...]
    id: str = ""


@dataclass
class Benchmark:
    """A loaded benchmark: records plus what the tasks need to run on them.

    ``classnames`` are in ``language`` (usually English); ``classnames_by_lang`` holds other
    languages' names in the same class order. ``group_keys`` name the metadata fields that
    group metrics are computed over; ``worst_group`` maps DataComp's worst-group metric names
    (``acc_wg``, ``acc_top5_wg``) to the group key each one is taken over.
    """

    name: str
    format: str
    root: str
    records: list[Record]
    tasks: tuple[str, ...]
    classnames: list[str] | None = None
    templates: list[str] = field(default_factory=lambda: list(OPENAI_IMAGENET_TEMPLATES))
    language: str = "en"
    classnames_by_lang: dict[str, list[str]] = field(default_factory=dict)
    templates_by_lang: dict[str, list[str]] = field(default_factory=dict)
    group_keys: tuple[str, ...] = ()
    worst_group: dict[str, str] = field(default_factory=dict)
    fewshot_targets: tuple[str, ...] = ()
    #: files whose content defines the set (index CSVs, class-name files), for cache keys
    index_files: list[str] = field(default_factory=list)
    #: WebDataset shards holding the images (records then have no ``path``)
    shards: list[str] = field(default_factory=list)
    #: parquet files holding the images (Hugging Face mirrors): each record's
    #: ``meta["_parquet"]`` is ``(file index, row)``, its image the ``image`` column's bytes
    parquet: list[str] = field(default_factory=list)
    #: problems met while loading (missing images ...), each with a reason
    report: ReadReport = field(default_factory=ReadReport)
    #: the named scoring protocol (which rows, classes and headline metric), written into
    #: every result so a number says what it is; "" where a set has only one way to score
    protocol: str = ""
    #: partial label sets by language (Babel-ImageNet): {language: {class index: name}};
    #: a language is scored on the records whose label it names, over the classes it names
    label_sets: dict[str, dict[int, str]] = field(default_factory=dict)
    #: what the model is shown instead of each picture (``globelens.evaluate.datasets.
    #: pictures``: "blank" is the prior-only baseline); part of the protocol and the identity
    pictures: str = ORIGINAL

    def __len__(self) -> int:
        return len(self.records)

    def identity(self) -> str:
        """Hash of the name, record order and every source file's path, size and mtime.

        Any change to the data (a re-built world, an edited CSV) changes it, so cached image
        embeddings can never be served for different images.
        """
        h = hashlib.sha256()
        h.update(f"{self.format}\n{os.path.abspath(self.root)}\n".encode())
        if self.pictures != ORIGINAL:  # unchanged identities (and caches) for the originals
            h.update(f"pictures={self.pictures}\n".encode())
        files = [*self.index_files, *self.shards, *self.parquet]
        files.extend(r.path for r in self.records if r.path)
        for f in files:
            st = os.stat(f)
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        for r in self.records:
            h.update(r.id.encode() + b"\n")
        return h.hexdigest()[:24]

    def iter_image_sources(self) -> Iterator[tuple[int, str | bytes]]:
        """(record index, file path or image bytes) in record order, as ``pictures`` says.

        File-backed records yield their path (reading happens in the decode workers); shard-
        backed ones stream the shards once and yield bytes.
        """
        for i, src in self._stored_sources():
            yield i, replace_picture(self.pictures, src)

    def _stored_sources(self) -> Iterator[tuple[int, str | bytes]]:
        if self.parquet:
            rows = {tuple(r.meta["_parquet"]): i for i, r in enumerate(self.records)}
            yield from parquet_images(self.parquet, rows)
            return
        if not self.shards:
            for i, r in enumerate(self.records):
                yield i, r.path
            return
        index = {r.id: i for i, r in enumerate(self.records)}
        for sample in read_shards(self.shards, require_caption=False):
            i = index.get(sample.key)
            if i is not None and sample.image_bytes is not None:
                yield i, sample.image_bytes

    def read_images(self, indices: Sequence[int]) -> dict[int, bytes]:
        """Image bytes of a few records (thumbnails of confusion examples)."""
        wanted = set(indices)
        if not self.shards and not self.parquet and self.pictures == ORIGINAL:
            return {i: Path(self.records[i].path).read_bytes() for i in wanted}
        out: dict[int, bytes] = {}
        for i, src in self.iter_image_sources():
            if i in wanted:
                out[i] = src if isinstance(src, bytes) else Path(src).read_bytes()
                if len(out) == len(wanted):
                    break
        return out

    def image_label(self, i: int) -> str:
        """Where record ``i``'s image lives, for humans (path, or shard::key)."""
        r = self.records[i]
        if "_parquet" in r.meta:
            return f"{self.parquet[r.meta['_parquet'][0]]}::{r.meta['_parquet'][1]}"
        return r.path or f"{r.meta.get('_shard', '')}::{r.id}"


# ----------------------------------------------------------------------------- helpers


def parquet_images(
    files: Sequence[str], rows: dict[tuple[int, int], int], column: str = "image"
) -> Iterator[tuple[int, bytes]]:
    """(record index, image bytes) for the wanted (file index, row) pairs, streaming the
    image column in batches (a Hugging Face ``Image`` column: a struct with ``bytes``)."""
    for f, path in enumerate(files):
        row = 0
        for batch in pq.ParquetFile(path).iter_batches(columns=[column], batch_size=64):
            for cell in batch.column(0).to_pylist():
                i = rows.get((f, row))
                if i is not None:
                    # A row without bytes yields b"": decoding counts it, nothing drops silently.
                    yield i, (cell.get("bytes") if isinstance(cell, dict) else cell) or b""
                row += 1


def require_file(root: Path, name: str, fmt: str) -> Path:
    """``root/name`` or a :class:`BenchmarkFormatError` naming the file and format."""
    p = root / name
    if not p.is_file():
        raise BenchmarkFormatError(f"{fmt} benchmark at {root}: missing file {name!r}")
    return p


def read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV as dicts; a missing required column fails naming file and column.
    A UTF-8 byte-order mark (a CSV saved by Excel) is read as such, not as part of the
    first column's name."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        for col in required:
            if col not in columns:
                raise BenchmarkFormatError(
                    f"{path.name} has no column {col!r} (file {path}; columns: {columns})"
                )
        return list(reader)


def parse_list(value: str) -> list[Any]:
    """A list column stored as a JSON string (or a Python literal, as some mirrors do)."""
    value = (value or "").strip()
    if not value:
        return []
    try:
        out = json.loads(value)
    except json.JSONDecodeError:
        out = ast.literal_eval(value)  # literals only: safe on untrusted text
    if isinstance(out, str | int | float):
        return [out]
    return list(out)


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines of a UTF-8 text file (a byte-order mark is dropped)."""
    return [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]


def language_files(root: Path, stem: str) -> dict[str, list[str]]:
    """``stem_<lang>.txt`` files in ``root`` as {lang: lines} (per-language class names)."""
    out: dict[str, list[str]] = {}
    for p in sorted(root.glob(f"{stem}_*.txt")):
        lang = p.stem[len(stem) + 1 :]
        if lang:
            out[lang] = read_lines(p)
    return out


def missing_image(report: ReadReport, root: Path, rid: str, path: Path) -> None:
    report.add(str(root), rid, "missing_image", f"{path} does not exist")
