"""GLDv2-style landmarks: ``index.csv`` (``id``, ``landmark_id``), ``label_to_category.csv``
(``landmark_id``, ``category`` and, in globelens' geo-diverse subset, English ``name``,
``country``, ``region``), images at ``images/<a>/<b>/<c>/<id>.jpg`` (first three id chars).

Classes are the landmarks with test images, named in English: the ``name`` column, else the
Wikimedia category title (``.../Category:Milad_Tower`` -> ``Milad Tower``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    missing_image,
    read_csv,
    require_file,
)
from globelens.evaluate.datasets.registry import Format, register_format


def detect(root: Path) -> bool:
    return (root / "index.csv").is_file() and (root / "label_to_category.csv").is_file()


def _name(row: dict[str, str]) -> str:
    if row.get("name"):
        return row["name"]
    title = unquote(row["category"].rsplit("Category:", 1)[-1])
    return title.replace("_", " ")


def _image_path(root: Path, image_id: str) -> Path:
    base = root / "images"
    for ext in ("jpg", "jpeg", "png", "webp"):
        p = base / image_id[0] / image_id[1] / image_id[2] / f"{image_id}.{ext}"
        if p.is_file():
            return p
    return base / image_id[0] / image_id[1] / image_id[2] / f"{image_id}.jpg"


def load(root: Path) -> Benchmark:
    index = require_file(root, "index.csv", "landmarks")
    cats = require_file(root, "label_to_category.csv", "landmarks")
    rows = read_csv(index, ("id", "landmark_id"))
    cat_rows = {r["landmark_id"]: r for r in read_csv(cats, ("landmark_id", "category"))}
    used = sorted({r["landmark_id"] for r in rows}, key=lambda x: (len(x), x))
    unknown = [lid for lid in used if lid not in cat_rows]
    if unknown:
        raise BenchmarkFormatError(f"{index.name}: landmark_id {unknown[:5]} not in {cats.name}")
    label = {lid: i for i, lid in enumerate(used)}
    bench = Benchmark(
        name=root.name,
        format="landmarks",
        root=str(root),
        records=[],
        tasks=("zeroshot_classification",),
        classnames=[_name(cat_rows[lid]) for lid in used],
        group_keys=("region", "country"),
        worst_group={"acc_wg": "region"},
        index_files=[str(index), str(cats)],
    )
    for row in rows:
        rid = row["id"]
        if len(rid) < 3:
            bench.report.add(str(index), rid, "bad_id", "image id shorter than 3 characters")
            continue
        path = _image_path(root, rid)
        if not path.is_file():
            missing_image(bench.report, root, rid, path)
            continue
        cat = cat_rows[row["landmark_id"]]
        meta = {"country": cat.get("country", ""), "region": cat.get("region", "")}
        meta["landmark"] = _name(cat)
        bench.records.append(
            Record(id=rid, path=str(path), labels=(label[row["landmark_id"]],), meta=meta)
        )
    return bench


register_format(
    Format("landmarks", load, detect, "GLDv2-style landmarks (index.csv + label_to_category.csv)")
)
