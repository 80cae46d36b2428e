"""GlobalRG's cultural visual grounding task as released on Hugging Face
(``UBCNLP/GlobalRG-Grounding``): culture-specific concepts to box in pictures from 15
countries.

Files read: ``data/test-*.parquet`` with the pictures inside and the columns ``u_id`` (one
image-region-concept tuple), ``region`` (the culture: a country such as ``India``) and
``concept`` (what to box, in English). The public release withholds the boxes; the authors
hand them out on request. globelens reads them from ``answers.json`` beside the data (or
``answers=PATH``), in this layout (ours, stated): ``{"<u_id>": [x, y, w, h]}`` or
``{"<u_id>": [[x, y, w, h], ...]}`` (pixels, COCO order; any listed box is a right answer),
or a list of ``{"u_id": ..., "bbox": [...]}``. Rows without a box are counted
(``no_answer``) and left out.

Protocol ``iou0.5``: the model boxes the concept (``detect <concept>`` for ``<loc>`` models);
a hit is IoU >= 0.5 with a reference box; answers without a box are invalid and count as
misses. ``meta["country"]`` is the row's ``region``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError, Grounding, Record
from globelens.evaluate.datasets.cvqa import has_columns, parquet_files
from globelens.evaluate.datasets.registry import Format, register_format

ANSWERS = "answers.json"
Box = tuple[float, float, float, float]


def detect(root: Path) -> bool:
    return has_columns(root, {"u_id", "region", "concept"})


def _boxes(value: Any) -> tuple[Box, ...]:
    """One ``[x, y, w, h]`` or a list of them, each with a positive width and height."""
    items = value if value and isinstance(value[0], list | tuple) else [value]
    out = []
    for b in items:
        x, y, w, h = (float(v) for v in b)
        if not (w > 0 and h > 0):
            raise ValueError(f"box {list(b)} has no area")
        out.append((x, y, w, h))
    return tuple(out)


def read_answers(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as e:
        raise BenchmarkFormatError(f"globalrg answers {path}: not readable JSON ({e})") from None
    if isinstance(data, list):
        data = {str(d.get("u_id")): d.get("bbox") for d in data if isinstance(d, dict)}
    if not isinstance(data, dict):
        raise BenchmarkFormatError(f"globalrg answers {path}: expected an object by u_id")
    return {str(k): v for k, v in data.items()}


def load(root: Path, answers: str | None = None) -> Benchmark:
    """``answers``: the boxes file (default: ``answers.json`` in the folder)."""
    files = parquet_files(root)
    if not files:
        raise BenchmarkFormatError(f"globalrg benchmark at {root}: no data/*.parquet files")
    ans_path = root / (answers or ANSWERS)
    if not ans_path.is_file():
        raise BenchmarkFormatError(
            f"globalrg benchmark at {root}: no boxes at {ans_path} (the public release "
            "withholds them; pass answers=PATH to the file the authors sent)"
        )
    boxes = read_answers(ans_path)
    bench = Benchmark(
        name=root.name, format="globalrg", root=str(root), records=[], tasks=("grounding",),
        parquet=[str(p) for p in files], index_files=[str(ans_path)], protocol="iou0.5",
    )  # fmt: skip
    for f, path in enumerate(files):
        names = pq.ParquetFile(path).schema_arrow.names
        missing = [c for c in ("u_id", "region", "concept") if c not in names]
        if missing:
            raise BenchmarkFormatError(f"{path.name} has no column(s) {missing} (globalrg)")
        rows = pq.read_table(path, columns=["u_id", "region", "concept"]).to_pylist()
        for n, row in enumerate(rows):
            uid, concept = str(row["u_id"]), " ".join(str(row["concept"] or "").split())
            if uid not in boxes or boxes[uid] is None:
                bench.report.add(str(path), uid, "no_answer", f"row {n}: no box for {uid}")
                continue
            try:
                ref = _boxes(boxes[uid])
            except (TypeError, ValueError, IndexError) as e:
                bench.report.add(str(path), uid, "bad_box", f"row {n}: {e}")
                continue
            if not concept:
                bench.report.add(str(path), uid, "missing_concept", f"row {n}")
                continue
            meta = {"_parquet": (f, n), "country": str(row["region"] or ""), "language": "en"}
            bench.records.append(
                Record(id=uid, meta=meta, annotations={"grounding": [Grounding(concept, ref, uid)]})
            )
    return bench


register_format(
    Format("globalrg", load, detect, "GlobalRG grounding: Hugging Face parquet + answers", -1)
)
