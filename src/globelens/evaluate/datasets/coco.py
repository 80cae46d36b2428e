"""COCO captions in the Karpathy split JSON (``dataset_coco.json``, also Flickr30k's).

``{"images": [{"filepath": "val2014", "filename": ..., "split": "test", "sentences":
[{"raw": ...}, ...]}, ...]}``; images at ``<root>/<filepath>/<filename>`` (or
``<root>/images/...``).
"""

from __future__ import annotations

import json
from pathlib import Path

from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    missing_image,
)
from globelens.evaluate.datasets.registry import Format, register_format

JSON_NAMES = ("dataset_coco.json", "dataset_flickr30k.json", "karpathy.json")


def detect(root: Path) -> bool:
    return any((root / n).is_file() for n in JSON_NAMES)


def load(root: Path, split: str = "test") -> Benchmark:
    path = next((root / n for n in JSON_NAMES if (root / n).is_file()), None)
    if path is None:
        raise BenchmarkFormatError(f"coco benchmark at {root}: missing file, one of {JSON_NAMES}")
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    if "images" not in data:
        raise BenchmarkFormatError(f"{path.name} has no 'images' list (not a Karpathy split)")
    bench = Benchmark(
        name=root.name,
        format="coco",
        root=str(root),
        records=[],
        tasks=("zeroshot_retrieval",),
        index_files=[str(path)],
    )
    for im in data["images"]:
        if split != "all" and im.get("split") != split:
            continue
        for field in ("filename", "sentences"):
            if field not in im:
                raise BenchmarkFormatError(f"{path.name}: an image entry has no {field!r}")
        rel = Path(im.get("filepath", "")) / im["filename"]
        img = root / rel
        if not img.is_file() and (root / "images" / rel).is_file():
            img = root / "images" / rel
        if not img.is_file():
            missing_image(bench.report, root, str(rel), img)
            continue
        caps = [s["raw"].strip() for s in im["sentences"] if s.get("raw", "").strip()]
        rid = str(im.get("cocoid", im.get("imgid", rel)))
        bench.records.append(Record(id=rid, path=str(img), captions={"en": caps}))
    if not bench.records and not bench.report.problems:
        raise BenchmarkFormatError(f"{path.name}: no images in split {split!r}")
    return bench


register_format(Format("coco", load, detect, "COCO/Flickr captions, Karpathy split JSON"))
