"""COCO detection: ``annotations/instances_<split>.json`` + ``<split>/`` images.

The official release layout (``instances_val2017.json`` + ``val2017/000000000139.jpg``); the
JSON may also sit at the folder's top level and the images under ``images/``. Each record's
``annotations["objects"]`` holds the image's objects with masks as compressed RLE (polygons
are converted); ``classnames`` are the category names in category-id order and
``index_files[0]`` is the instances JSON, so pycocotools' ``COCO(...)`` can open it.
"""

from __future__ import annotations

from pathlib import Path

from globelens.data.annotations import AnnotatedObject, AnnotationError, parse_item
from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError, Record
from globelens.evaluate.datasets.cocojson import (
    GROUP_KEYS,
    annotation_files,
    check_image,
    first_dir,
    group_meta,
    pick_one,
    read_json,
    require_fields,
    to_rle,
)
from globelens.evaluate.datasets.registry import Format, register_format

#: The split detection papers report (PaliGemma, big_vision) when a folder holds several.
DEFAULT_SPLIT = "val2017"


def _candidates(root: Path) -> list[Path]:
    return annotation_files(root, "instances")


def detect(root: Path) -> bool:
    return bool(_candidates(root))


def _annotation_file(root: Path, split: str | None) -> Path:
    found = _candidates(root)
    if split is not None:
        found = [p for p in found if p.stem == f"instances_{split}"]
    if not found:
        want = f"instances_{split}.json" if split else "instances_<split>.json"
        raise BenchmarkFormatError(f"coco_det benchmark at {root}: missing file annotations/{want}")
    return pick_one(found, _split_name, DEFAULT_SPLIT, f"coco_det benchmark at {root}", "split")


def _split_name(p: Path) -> str:
    return p.stem.removeprefix("instances_")


def load(root: Path, split: str | None = None, verify_images: bool = True) -> Benchmark:
    """``split``: e.g. ``val2017`` (the default when several instances files are present);
    ``verify_images``: decode every image once, counting corrupt ones (else only missing)."""
    path = _annotation_file(root, split)
    split_name = path.stem.removeprefix("instances_")
    data = read_json(path, ("images", "annotations", "categories"))
    for cat in data["categories"]:
        require_fields(cat, ("id", "name"), path, "categories")
    cats = sorted(data["categories"], key=lambda c: int(c["id"]))
    index_of = {int(c["id"]): i for i, c in enumerate(cats)}
    classnames = [str(c["name"]) for c in cats]
    bench = Benchmark(
        name=root.name,
        format="coco_det",
        root=str(root),
        records=[],
        tasks=("detection",),
        classnames=classnames,
        index_files=[str(path)],
    )
    by_image: dict[int, list[dict]] = {}
    for ann in data["annotations"]:
        require_fields(ann, ("image_id", "category_id", "bbox"), path, "annotations")
        by_image.setdefault(int(ann["image_id"]), []).append(ann)
    image_dir = first_dir(root, [split_name, "images"])
    for im in data["images"]:
        require_fields(im, ("id", "file_name"), path, "images")
        iid, rid = int(im["id"]), str(im["id"])
        img = image_dir / im["file_name"]
        if not check_image(bench.report, root, rid, img, verify_images):
            continue
        h, w = int(im.get("height", 0)), int(im.get("width", 0))
        objects: list[AnnotatedObject] = []
        labels: list[int] = []
        for ann in by_image.get(iid, []):
            cid = int(ann["category_id"])
            if cid not in index_of:
                bench.report.add(str(path), rid, "unknown_category", f"category_id {cid}")
                continue
            fields = {
                "label": classnames[index_of[cid]],
                "category_id": cid,
                "bbox": [float(v) for v in ann["bbox"]],
                "area": ann.get("area", 0),
                "iscrowd": int(ann.get("iscrowd", 0)),
                "id": ann.get("id"),
            }
            if ann.get("segmentation"):
                try:
                    fields["segmentation"] = to_rle(ann["segmentation"], h, w)
                except (ValueError, TypeError) as e:
                    bench.report.add(str(path), rid, "bad_segmentation", str(e))
            try:
                obj = parse_item(
                    AnnotatedObject, fields, str(path), f"annotations[{ann.get('id')}]"
                )
            except AnnotationError as e:
                bench.report.add(str(path), rid, "bad_annotation", str(e))
                continue
            objects.append(obj)
            labels.append(index_of[cid])
        meta = {"width": w, "height": h, **group_meta(im)}
        bench.records.append(
            Record(
                id=rid,
                path=str(img),
                labels=tuple(sorted(set(labels))),
                meta=meta,
                annotations={"objects": objects},
            )
        )
    bench.group_keys = tuple(k for k in GROUP_KEYS if any(k in r.meta for r in bench.records))
    return bench


register_format(
    Format("coco_det", load, detect, "COCO detection, instances_<split>.json + <split>/", 5)
)
