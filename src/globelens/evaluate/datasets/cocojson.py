"""What the COCO-family loaders share: checked JSON reading, masks as compressed RLE, the
per-image group metadata and an image check that counts missing and corrupt files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from globelens.data import ImageDecodeError, ReadReport, decode_image
from globelens.evaluate.datasets.base import BenchmarkFormatError, missing_image
from globelens.models.tasklang import rle_to_mask

#: Per-image metadata generative metrics are broken down by, when a set carries it.
GROUP_FIELDS = ("country", "country_code", "region", "language", "income", "income_bucket")
GROUP_KEYS = ("income_bucket", "region", "country")


def read_json(path: Path, required: Sequence[str] = (), what: str = "") -> Any:
    """Parsed JSON; malformed JSON or a missing top-level key fails naming file and key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise BenchmarkFormatError(f"{path.name} is not valid JSON ({e}; file {path})") from e
    if required and not isinstance(data, dict):
        raise BenchmarkFormatError(f"{path.name}: expected a JSON object{what} (file {path})")
    for key in required:
        if key not in data:
            raise BenchmarkFormatError(
                f"{path.name} has no {key!r}{what} (file {path}; keys: {sorted(data)})"
            )
    return data


def require_fields(entry: Any, fields: Sequence[str], path: Path, kind: str) -> None:
    """Fail naming the first field an entry (an image, an annotation ...) lacks."""
    if not isinstance(entry, dict):
        raise BenchmarkFormatError(f"{path.name}: an entry of {kind!r} is not an object")
    for f in fields:
        if f not in entry:
            raise BenchmarkFormatError(
                f"{path.name}: an entry of {kind!r} has no {f!r} (entry keys: {sorted(entry)})"
            )


def to_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    """Any COCO segmentation (polygons, uncompressed or compressed RLE) as compressed RLE
    with ``counts`` a str, the form every globelens record carries."""
    if isinstance(segmentation, list):  # polygons: one object may have several parts
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        rle = segmentation
    else:
        raise ValueError(f"not a COCO segmentation: {type(segmentation).__name__}")
    counts = rle["counts"]
    return {
        "size": [int(rle["size"][0]), int(rle["size"][1])],
        "counts": counts.decode() if isinstance(counts, bytes) else str(counts),
    }


def box_rle(bbox: Sequence[float], height: int, width: int) -> dict[str, Any]:
    """A box as an RLE mask (for sets that have boxes but no masks)."""
    return to_rle(mask_utils.frPyObjects([list(map(float, bbox))], height, width)[0], height, width)


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """A compressed RLE (``counts`` str or bytes) as a bool (H, W) mask."""
    return rle_to_mask(rle)


def group_meta(entry: dict[str, Any]) -> dict[str, Any]:
    """The group fields an image entry carries (the world's sets carry all of them)."""
    return {k: entry[k] for k in GROUP_FIELDS if k in entry}


def check_image(report: ReadReport, root: Path, rid: str, path: Path, verify: bool) -> bool:
    """True when the image is there (and, with ``verify``, decodes); else counted."""
    if not path.is_file():
        missing_image(report, root, rid, path)
        return False
    if verify:
        try:
            decode_image(path.read_bytes(), target_size=32)
        except ImageDecodeError as e:
            report.add(str(root), rid, e.reason, f"{path}: {e.detail}")
            return False
    return True


def annotation_files(root: Path, kind: str) -> list[Path]:
    """COCO's ``KIND_*.json`` files, in ``root/annotations/`` (the release layout) or ``root``."""
    return sorted([*root.glob(f"annotations/{kind}_*.json"), *root.glob(f"{kind}_*.json")])


def first_dir(root: Path, names: Sequence[str]) -> Path:
    """The first of ``root/name`` that is a folder, else ``root/names[0]``."""
    for n in names:
        if (root / n).is_dir():
            return root / n
    return root / names[0]


def pick_one(found: Sequence[Path], name_of: Any, default: str, what: str, option: str) -> Path:
    """The one file of ``found``; with several, the one named ``default`` (the split papers
    report), else an error listing the names and the option that picks one."""
    if len(found) == 1:
        return found[0]
    for p in found:
        if name_of(p) == default:
            return p
    names = ", ".join(name_of(p) for p in found)
    raise BenchmarkFormatError(f"{what}: several splits ({names}); pass {option}=NAME")
