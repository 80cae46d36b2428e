"""GeoDE: ``index.csv`` (``file_path``, ``object``, ``region``, ``ip_country``) + ``images/``.

Classes are the objects in sorted order (underscores read as spaces); regions are GeoDE's six
(Africa, Americas, EastAsia, Europe, SouthEastAsia, WestAsia).
"""

from __future__ import annotations

from pathlib import Path

from globelens.evaluate.datasets.base import (
    Benchmark,
    Record,
    missing_image,
    read_csv,
    require_file,
)
from globelens.evaluate.datasets.registry import Format, register_format

REQUIRED = ("file_path", "object", "region", "ip_country")


def detect(root: Path) -> bool:
    p = root / "index.csv"
    if not p.is_file():
        return False
    with open(p, encoding="utf-8-sig") as fh:
        header = fh.readline()
    return "file_path" in header and "object" in header


def load(root: Path) -> Benchmark:
    csv_path = require_file(root, "index.csv", "geode")
    rows = read_csv(csv_path, REQUIRED)
    objects = sorted({r["object"] for r in rows})
    label = {o: i for i, o in enumerate(objects)}
    bench = Benchmark(
        name=root.name,
        format="geode",
        root=str(root),
        records=[],
        tasks=("zeroshot_classification", "fewshot_geolocalization"),
        classnames=[o.replace("_", " ") for o in objects],
        group_keys=("region", "country"),
        worst_group={"acc_wg": "region", "acc_top5_wg": "region"},
        fewshot_targets=("country", "region"),
        index_files=[str(csv_path)],
    )
    for row in rows:
        rel = row["file_path"]
        path = root / "images" / rel
        if not path.is_file() and (root / rel).is_file():
            path = root / rel
        if not path.is_file():
            missing_image(bench.report, root, rel, path)
            continue
        meta = {"country": row["ip_country"], "region": row["region"]}
        bench.records.append(
            Record(id=rel, path=str(path), labels=(label[row["object"]],), meta=meta)
        )
    return bench


register_format(Format("geode", load, detect, "GeoDE: index.csv + images/"))
