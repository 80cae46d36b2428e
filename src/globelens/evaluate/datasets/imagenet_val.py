"""ImageNet-1k validation as released: the Kaggle / ILSVRC flat folder or class folders.

Flat (the Kaggle "ImageNet Object Localization" release): ``LOC_val_solution.csv``
(``ImageId``, ``PredictionString`` = ``wnid x0 y0 x1 y1 wnid ...``: the first wnid is the
label), ``LOC_synset_mapping.txt`` and pictures at ``ILSVRC/Data/CLS-LOC/val/<ImageId>.JPEG``
(or ``val/``). The label space is the 1,000 classes in sorted-wnid order with CLIP's
zero-shot names, whatever pictures are present. Without ``LOC_val_solution.csv`` the folder
is read as class folders (``val/<wnid>/*.JPEG``, see ``imagefolder``).
"""

from __future__ import annotations

from pathlib import Path

import globelens.evaluate.datasets.imagefolder as imagefolder
from globelens.evaluate.datasets.base import (
    Benchmark,
    Record,
    missing_image,
    read_csv,
)
from globelens.evaluate.datasets.imagenet import imagenet_classes
from globelens.evaluate.datasets.registry import Format, register_format

SOLUTION = "LOC_val_solution.csv"
IMAGE_DIRS = ("ILSVRC/Data/CLS-LOC/val", "Data/CLS-LOC/val", "val", "images", ".")
EXTENSIONS = (".JPEG", ".jpeg", ".jpg", ".png")


def detect(root: Path) -> bool:
    return (root / SOLUTION).is_file()


def _image(root: Path, image_id: str) -> Path:
    for d in IMAGE_DIRS:
        for ext in EXTENSIONS:
            p = root / d / f"{image_id}{ext}"
            if p.is_file():
                return p
    return root / IMAGE_DIRS[0] / f"{image_id}.JPEG"


def load(root: Path, split: str | None = None) -> Benchmark:
    """``split``: for class folders only (``val``, ``test`` ...)."""
    if not (root / SOLUTION).is_file():
        return imagefolder.load(root, split)
    classes = imagenet_classes()
    index = {wnid: i for i, (wnid, _) in enumerate(classes)}
    solution = root / SOLUTION
    bench = Benchmark(
        name=root.name,
        format="imagenet",
        root=str(root),
        records=[],
        tasks=("zeroshot_classification",),
        classnames=[name for _, name in classes],
        index_files=[str(solution)],
    )
    for n, row in enumerate(read_csv(solution, ("ImageId", "PredictionString")), start=2):
        rid = row["ImageId"].strip()
        wnid = (row["PredictionString"].split() or [""])[0]
        if wnid not in index:
            bench.report.add(str(solution), rid, "bad_label", f"line {n}: wnid {wnid!r}")
            continue
        path = _image(root, rid)
        if not path.is_file():
            missing_image(bench.report, root, rid, path)
            continue
        bench.records.append(Record(id=rid, path=str(path), labels=(index[wnid],)))
    return bench


register_format(
    Format("imagenet", load, detect, "ImageNet val: LOC_val_solution.csv (Kaggle) or folders", 1)
)
