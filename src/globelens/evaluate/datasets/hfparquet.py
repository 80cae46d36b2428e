"""Hugging Face parquet mirrors, as lmms-eval reads them: ``data/<split>-NNNNN-of-NNNNN.parquet``
with the pictures inside (an ``image`` column: a struct with the encoded ``bytes``).

Which set a folder mirrors is told by its columns (or ``kind=``):

- ``vqav2`` (``lmms-lab/VQAv2``): ``question_id``, ``question``, ``image_id``, ``answers``
  (ten ``{answer, answer_confidence, answer_id}``), ``multiple_choice_answer``,
  ``answer_type``, ``question_type``; one record per picture, its questions in ``qa``.
- ``refcoco`` (``lmms-lab/RefCOCO``, ``RefCOCO+``, ``RefCOCOg``): ``question_id`` (the
  annotation id), ``answer`` (the referring sentences), ``bbox`` ``[x, y, w, h]``,
  ``segmentation`` (one flat polygon), ``file_name``; one record per row.
- ``captions`` (COCO Karpathy / COCO Caption mirrors): ``answer`` or ``captions`` (a list),
  one record per row, English; retrieval for dual encoders, captioning for generators.
- ``xm3600`` (``floschne/xm3600``): one split per language (``data/<lang>-*.parquet``),
  ``image_id``, ``captions``; each picture gets every language's captions and, when a
  ``image_locale``/``locale`` column is there, its locale (few-shot geo-localisation).

``split=`` picks the files (default: validation, val, test, the first found; xm3600 reads
every language). Read with pyarrow; nothing is fetched.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from PIL import Image

from globelens.data.annotations import (
    AnnotationError,
    QuestionAnswer,
    ReferringExpression,
    parse_item,
)
from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError, Record
from globelens.evaluate.datasets.cocojson import to_rle
from globelens.evaluate.datasets.registry import Format, register_format

SPLIT_PREFERENCE = ("validation", "val", "test", "testdev", "minival")


def _files(root: Path) -> list[Path]:
    return sorted([*root.glob("data/*.parquet"), *root.glob("*.parquet")])


def _split_of(p: Path) -> str:
    # ``val-00000-of-00002.parquet`` -> ``val``; a bare ``val.parquet`` -> ``val``
    return p.stem.split("-0", 1)[0]


def detect(root: Path) -> bool:
    return bool(_files(root))


def _columns(path: Path) -> list[str]:
    return [c for c in pq.ParquetFile(path).schema_arrow.names if c != "image"]


def _image_size(cell: Any) -> tuple[int, int]:
    """(height, width) of an image cell, from its header only."""
    data = cell.get("bytes") if isinstance(cell, dict) else cell
    if not data:
        return 0, 0
    with Image.open(io.BytesIO(data)) as im:
        return im.height, im.width


def _qa(rows: list[dict], bench: Benchmark, where: tuple[int, str]) -> None:
    """VQAv2: questions grouped per picture (the first row of a picture holds its image)."""
    f, name = where
    by_image = {r.id: r for r in bench.records}  # a picture may recur in the next file
    for n, row in enumerate(rows):
        answers = [str(a["answer"]) if isinstance(a, dict) else str(a) for a in row["answers"]]
        if len(answers) != 10:
            bench.report.add(name, str(row["question_id"]), "not_ten_answers", f"{len(answers)}")
        fields = {
            "question_id": int(row["question_id"]), "question": str(row["question"]),
            "lang": "en", "answers": answers,
            "multiple_choice_answer": str(row["multiple_choice_answer"]),
            "answer_type": str(row["answer_type"]), "question_type": str(row["question_type"]),
        }  # fmt: skip
        try:
            qa = parse_item(QuestionAnswer, fields, name, f"row {n}")
        except AnnotationError as e:
            bench.report.add(name, str(row["question_id"]), "bad_annotation", str(e))
            continue
        iid = str(row["image_id"])
        rec = by_image.get(iid)
        if rec is None:
            rec = by_image[iid] = Record(id=iid, meta={"_parquet": (f, n)}, annotations={"qa": []})
            bench.records.append(rec)
        rec.annotations["qa"].append(qa)


def _refs(rows: list[dict], bench: Benchmark, where: tuple[int, str]) -> None:
    f, name = where
    batches = pq.ParquetFile(bench.parquet[f]).iter_batches(columns=["image"], batch_size=64)
    sizes = [_image_size(cell) for b in batches for cell in b.column(0).to_pylist()]
    for n, row in enumerate(rows):
        h, w = sizes[n]
        rid = str(row["question_id"])
        try:
            rle = to_rle([list(map(float, row["segmentation"]))], h, w)
        except (ValueError, TypeError) as e:
            bench.report.add(name, rid, "bad_segmentation", f"row {n}: {e}")
            continue
        sents = [row["answer"]] if isinstance(row["answer"], str) else list(row["answer"])
        try:
            refs = [
                parse_item(ReferringExpression, {
                    "ref_id": int(row["question_id"]), "sent": str(s), "lang": "en",
                    "bbox": [float(v) for v in row["bbox"]], "segmentation": rle,
                    "category": "", "ann_id": int(row["question_id"]),
                }, name, f"row {n}")
                for s in sents
            ]  # fmt: skip
        except AnnotationError as e:
            bench.report.add(name, rid, "bad_annotation", str(e))
            continue
        meta = {"_parquet": (f, n), "height": h, "width": w, "file_name": row.get("file_name")}
        bench.records.append(Record(id=rid, meta=meta, annotations={"refs": refs}))


def _captions(rows: list[dict], bench: Benchmark, where: tuple[int, str]) -> None:
    f, name = where
    for n, row in enumerate(rows):
        caps = row.get("answer") or row.get("captions") or []
        caps = [caps] if isinstance(caps, str) else [str(c).strip() for c in caps if str(c).strip()]
        rid = str(row.get("question_id") or row.get("id") or row.get("image_id") or f"{f}:{n}")
        if not caps:
            bench.report.add(name, rid, "missing_caption", f"row {n}")
            continue
        bench.records.append(Record(id=rid, captions={"en": caps}, meta={"_parquet": (f, n)}))


def _xm3600(rows: list[dict], bench: Benchmark, where: tuple[int, str]) -> None:
    """One language's file: its captions join the picture's record (first file holds it)."""
    f, name = where
    lang = _split_of(Path(name))
    index = {r.id: r for r in bench.records}
    for n, row in enumerate(rows):
        key = str(row["image_id"])
        caps = [str(c).strip() for c in row.get("captions") or [] if str(c).strip()]
        rec = index.get(key)
        if rec is None:
            locale = str(row.get("image_locale") or row.get("locale") or "")
            rec = index[key] = Record(id=key, meta={"_parquet": (f, n), "locale": locale})
            bench.records.append(rec)
        if caps:
            rec.captions[lang] = caps


Builder = Callable[[list[dict], Benchmark, tuple[int, str]], None]
#: kind -> (columns that tell it, tasks, builder); checked in this order
KINDS: dict[str, tuple[frozenset[str], tuple[str, ...], Builder]] = {
    "vqav2": (frozenset({"question", "answers", "multiple_choice_answer"}), ("vqa",), _qa),
    "refcoco": (frozenset({"bbox", "segmentation", "answer"}), ("referring_segmentation",), _refs),
    "xm3600": (frozenset({"image_id", "captions"}), ("zeroshot_retrieval",), _xm3600),
    # Retrieval for dual encoders (No Filter's COCO R@1); generators caption instead.
    "captions": (frozenset({"answer"}), ("zeroshot_retrieval",), _captions),
}


def _pick_files(root: Path, split: str | None, kind: str) -> list[Path]:
    files = _files(root)
    if kind == "xm3600" and split is None:
        return files
    splits = sorted({_split_of(p) for p in files})
    chosen = split or next((s for s in SPLIT_PREFERENCE if s in splits), splits[0])
    picked = [p for p in files if _split_of(p) == chosen]
    if not picked:
        raise BenchmarkFormatError(
            f"parquet benchmark at {root}: no split {chosen!r} (splits: {', '.join(splits)})"
        )
    return picked


def load(root: Path, split: str | None = None, kind: str | None = None) -> Benchmark:
    """``split``: the file prefix (default validation, val, test ...; xm3600: every
    language); ``kind``: vqav2, refcoco, captions or xm3600 (default: told by the columns)."""
    files = _files(root)
    if not files:
        raise BenchmarkFormatError(f"parquet benchmark at {root}: no data/*.parquet files")
    columns = set(_columns(files[0]))
    if kind is None:
        kind = next((k for k, (need, _, _) in KINDS.items() if need <= columns), None)
    if kind not in KINDS:
        raise BenchmarkFormatError(
            f"parquet benchmark at {root}: columns {sorted(columns)} match none of "
            f"{', '.join(KINDS)}; pass kind=NAME"
        )
    need, tasks, build = KINDS[kind]
    picked = _pick_files(root, split, kind)
    bench = Benchmark(
        name=root.name, format="parquet", root=str(root), records=[], tasks=tasks,
        parquet=[str(p) for p in picked],
        fewshot_targets=("locale",) if kind == "xm3600" else (),
    )  # fmt: skip
    for f, path in enumerate(picked):
        cols = _columns(path)
        missing = sorted(need - set(cols))
        if missing:
            raise BenchmarkFormatError(f"{path.name} has no column(s) {missing} ({kind} mirror)")
        rows = pq.read_table(path, columns=cols).to_pylist()
        build(rows, bench, (f, str(path)))
    return bench


register_format(Format("parquet", load, detect, "Hugging Face parquet mirrors (lmms-eval)", -2))
