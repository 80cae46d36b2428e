"""COCO captions for captioning: the official ``annotations/captions_<split>.json`` +
``<split>/`` images, or Karpathy's split JSON (``dataset_coco.json``, also Flickr30k's).

Official: ``{"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}``.
Karpathy: ``{"images": [{"filepath", "filename", "split", "sentences": [{"raw"}]}]}`` with
images at ``<root>/<filepath>/<filename>``. Captions are English (``captions["en"]``).
"""

from __future__ import annotations

from pathlib import Path

from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError, Record
from globelens.evaluate.datasets.coco import JSON_NAMES as KARPATHY_NAMES
from globelens.evaluate.datasets.coco_det import DEFAULT_SPLIT
from globelens.evaluate.datasets.cocojson import (
    GROUP_KEYS,
    annotation_files,
    check_image,
    first_dir,
    group_meta,
    pick_one,
    read_json,
    require_fields,
)
from globelens.evaluate.datasets.registry import Format, register_format


def _official(root: Path) -> list[Path]:
    return annotation_files(root, "captions")


def detect(root: Path) -> bool:
    return bool(_official(root))


def _bench(root: Path, path: Path) -> Benchmark:
    return Benchmark(
        name=root.name, format="coco_captions", root=str(root), records=[],
        tasks=("captioning",), index_files=[str(path)],
    )  # fmt: skip


def _load_official(root: Path, path: Path, verify: bool) -> Benchmark:
    data = read_json(path, ("images", "annotations"))
    bench = _bench(root, path)
    caps: dict[int, list[str]] = {}
    for ann in data["annotations"]:
        require_fields(ann, ("image_id", "caption"), path, "annotations")
        if str(ann["caption"]).strip():
            caps.setdefault(int(ann["image_id"]), []).append(str(ann["caption"]).strip())
    image_dir = first_dir(root, [path.stem.removeprefix("captions_"), "images"])
    for im in data["images"]:
        require_fields(im, ("id", "file_name"), path, "images")
        rid = str(im["id"])
        if int(im["id"]) not in caps:
            bench.report.add(str(path), rid, "missing_caption", "no caption annotations")
            continue
        img = image_dir / im["file_name"]
        if check_image(bench.report, root, rid, img, verify):
            meta = {k: im[k] for k in ("width", "height") if k in im} | group_meta(im)
            bench.records.append(
                Record(id=rid, path=str(img), captions={"en": caps[int(im["id"])]}, meta=meta)
            )
    return bench


def _load_karpathy(root: Path, path: Path, split: str, verify: bool) -> Benchmark:
    data = read_json(path, ("images",), " (not a Karpathy split)")
    bench = _bench(root, path)
    for im in data["images"]:
        require_fields(im, ("filename", "sentences"), path, "images")
        if split != "all" and im.get("split") != split:
            continue
        rel = Path(im.get("filepath", "")) / im["filename"]
        img = root / rel
        if not img.is_file() and (root / "images" / rel).is_file():
            img = root / "images" / rel
        rid = str(im.get("cocoid", im.get("imgid", rel)))
        if not check_image(bench.report, root, rid, img, verify):
            continue
        caps = [s["raw"].strip() for s in im["sentences"] if str(s.get("raw", "")).strip()]
        if not caps:
            bench.report.add(str(path), rid, "missing_caption", "no sentence has 'raw' text")
            continue
        bench.records.append(
            Record(id=rid, path=str(img), captions={"en": caps}, meta=group_meta(im))
        )
    if not bench.records and not bench.report.problems:
        raise BenchmarkFormatError(f"{path.name}: no images in split {split!r}")
    return bench


def load(
    root: Path, split: str | None = None, source: str = "auto", verify_images: bool = True
) -> Benchmark:
    """``source``: ``official``, ``karpathy`` or ``auto`` (official when present);
    ``split``: official: e.g. ``val2017`` (the default when several); Karpathy: test (default), val,
    train, restval or ``all``; ``verify_images``: decode each image once."""
    if source not in ("auto", "official", "karpathy"):
        raise ValueError(f"coco_captions source {source!r}: use auto, official or karpathy")
    official = _official(root)
    if split is not None and official:
        official = [p for p in official if p.stem == f"captions_{split}"] or official
    karpathy = next((root / n for n in KARPATHY_NAMES if (root / n).is_file()), None)
    if source in ("auto", "official") and official:
        path = pick_one(
            official,
            lambda p: p.stem.removeprefix("captions_"),
            DEFAULT_SPLIT,
            f"coco_captions at {root}",
            "split",
        )
        bench = _load_official(root, path, verify_images)
    elif source in ("auto", "karpathy") and karpathy is not None:
        bench = _load_karpathy(root, karpathy, split or "test", verify_images)
    else:
        want = {"official": "annotations/captions_<split>.json",
                "karpathy": f"one of {KARPATHY_NAMES}"}  # fmt: skip
        missing = want.get(source, f"{want['official']} or {want['karpathy']}")
        raise BenchmarkFormatError(f"coco_captions benchmark at {root}: missing file {missing}")
    bench.group_keys = tuple(k for k in GROUP_KEYS if any(k in r.meta for r in bench.records))
    return bench


register_format(
    Format("coco_captions", load, detect, "COCO captions (official or Karpathy) for captioning", 4)
)
