"""RefCOCO / RefCOCO+ / RefCOCOg in the REFER layout, with the refs stored as JSON.

``instances.json`` (COCO images, annotations with masks, categories: the official file) +
``refs(<split_by>).json`` (the list the official ``refs(unc).p`` / ``refs(umd).p`` /
``refs(google).p`` holds: ``ref_id``, ``ann_id``, ``image_id``, ``split``, ``sentences``
[{``sent``, ``raw``, ``tokens``, ``sent_id``}], ``category_id``) + images under ``images/``
(or ``train2014/``, REFER's ``../images/mscoco/images/train2014``, or ``image_root=``). The
official refs file is a Python pickle, which loading can run code from; globelens never opens
it. Convert it once, somewhere you trust::

    python -c "import json,pickle; json.dump(pickle.load(open('refs(unc).p','rb')), open('refs(unc).json','w'))"

Each record (one image) has ``annotations["refs"]``: one entry per sentence
(``ref_id``, ``sent``, ``lang``, ``bbox``, ``segmentation`` as compressed RLE, ``category``);
sentences without ``lang`` are English.
"""

from __future__ import annotations

from pathlib import Path

from globelens.data.annotations import AnnotationError, ReferringExpression, parse_item
from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    require_file,
)
from globelens.evaluate.datasets.cocojson import (
    GROUP_KEYS,
    box_rle,
    check_image,
    first_dir,
    group_meta,
    read_json,
    require_fields,
    to_rle,
)
from globelens.evaluate.datasets.registry import Format, register_format

REF_FIELDS = ("ref_id", "ann_id", "image_id", "split", "sentences")
SPLIT_BY_DEFAULTS = ("unc", "umd", "google")
#: image folders tried in order, relative to the refs folder (the REFER layout last)
IMAGE_DIRS = (
    "images", "train2014", "images/train2014", "images/mscoco/images/train2014",
    "../images/mscoco/images/train2014", "../images/train2014", "../train2014",
)  # fmt: skip

_CONVERT = (
    "globelens never unpickles files (loading a pickle can run code); convert it once where "
    "you trust it: python -c \"import json,pickle; json.dump(pickle.load(open('{p}','rb')), "
    "open('{j}','w'))\""
)


def detect(root: Path) -> bool:
    return (root / "instances.json").is_file() and any(root.glob("refs(*)*"))


def _refs_file(root: Path, split_by: str | None) -> Path:
    pattern = f"refs({split_by})" if split_by else "refs(*)"
    found = sorted(root.glob(f"{pattern}.json"))
    if not found:
        pickles = sorted(root.glob(f"{pattern}.p"))
        if pickles:
            p = pickles[0].name
            raise BenchmarkFormatError(
                f"refcoco benchmark at {root}: {p} is a pickle. "
                + _CONVERT.format(p=p, j=p.removesuffix(".p") + ".json")
            )
        raise BenchmarkFormatError(f"refcoco benchmark at {root}: missing file {pattern}.json")
    if len(found) > 1:
        # REFER's defaults: RefCOCO and RefCOCO+ ship unc only; RefCOCOg's umd split is the
        # one PaliGemma and most papers report (google has no test split).
        for pick in SPLIT_BY_DEFAULTS:
            if root / f"refs({pick}).json" in found:
                return root / f"refs({pick}).json"
        names = ", ".join(p.name for p in found)
        raise BenchmarkFormatError(
            f"refcoco benchmark at {root}: several refs files ({names}); pass split_by=NAME"
        )
    return found[0]


def _in_split(ref_split: str, split: str) -> bool:
    """REFER's ``getRefIds`` rule: ``test`` means every test split (UNC's testA + testB)."""
    if split == "all":
        return True
    if split == "test":
        return "test" in ref_split
    return ref_split == split


def _image_dir(root: Path, image_root: str | None, file_name: str | None) -> Path:
    """Where the pictures are: ``image_root``, else the first candidate holding the first
    image (REFER keeps them at ``data/images/mscoco/images/train2014`` beside
    ``data/refcoco/``)."""
    if image_root:
        return Path(image_root)
    for cand in IMAGE_DIRS:
        d = (root / cand).resolve() if cand.startswith("..") else root / cand
        if file_name and (d / file_name).is_file():
            return d
    return first_dir(root, ["images", "train2014"])


def load(
    root: Path,
    split: str = "val",
    split_by: str | None = None,
    image_root: str | None = None,
    languages: list[str] | None = None,
    verify_images: bool = True,
) -> Benchmark:
    """``split``: val, testA, testB, test (every test split, as REFER reads it), train or
    ``all``; ``split_by``: unc, umd, google (which refs file; with several, unc then umd);
    ``image_root``: the picture folder (default: found beside or above the refs folder);
    ``languages``: keep only sentences in these; ``verify_images``: decode each image once."""
    inst_path = require_file(root, "instances.json", "refcoco")
    refs_path = _refs_file(root, split_by)
    inst = read_json(inst_path, ("images", "annotations", "categories"))
    refs = read_json(refs_path)
    if not isinstance(refs, list):
        raise BenchmarkFormatError(f"{refs_path.name}: expected a JSON list of refs")
    images = {}
    for im in inst["images"]:
        require_fields(im, ("id", "file_name"), inst_path, "images")
        images[int(im["id"])] = im
    anns = {}
    for a in inst["annotations"]:
        require_fields(a, ("id", "image_id", "bbox"), inst_path, "annotations")
        anns[int(a["id"])] = a
    cats = {int(c["id"]): str(c["name"]) for c in inst["categories"]}
    bench = Benchmark(
        name=root.name, format="refcoco", root=str(root), records=[],
        tasks=("referring_segmentation",), index_files=[str(inst_path), str(refs_path)],
    )  # fmt: skip
    by_image: dict[int, list[ReferringExpression]] = {}
    for ref in refs:
        require_fields(ref, REF_FIELDS, refs_path, "refs")
        if not _in_split(str(ref["split"]), split):
            continue
        ann = anns.get(int(ref["ann_id"]))
        iid = int(ref["image_id"])
        if ann is None or iid not in images:
            bench.report.add(str(refs_path), str(ref["ref_id"]), "unknown_annotation",
                             f"ann_id {ref['ann_id']} / image_id {iid} not in instances.json")  # fmt: skip
            continue
        im = images[iid]
        h, w = int(im.get("height", 0)), int(im.get("width", 0))
        try:
            seg = ann.get("segmentation")
            rle = to_rle(seg, h, w) if seg else box_rle(ann["bbox"], h, w)
        except (ValueError, TypeError) as e:
            bench.report.add(str(inst_path), str(ann["id"]), "bad_segmentation", str(e))
            continue
        category = cats.get(int(ref.get("category_id", ann.get("category_id", -1))), "")
        for s in ref["sentences"]:
            require_fields(s, ("sent",), refs_path, "sentences")
            lang = str(s.get("lang", "en"))
            if languages is not None and lang not in languages:
                continue
            fields = {
                "ref_id": int(ref["ref_id"]), "sent": str(s["sent"]), "lang": lang,
                "bbox": [float(v) for v in ann["bbox"]], "segmentation": rle,
                "category": category, "ann_id": int(ref["ann_id"]),
            }  # fmt: skip
            try:
                item = parse_item(ReferringExpression, fields, str(refs_path), "sentences")
            except AnnotationError as e:
                bench.report.add(str(refs_path), str(ref["ref_id"]), "bad_annotation", str(e))
                continue
            by_image.setdefault(iid, []).append(item)
    first = next((images[i]["file_name"] for i in by_image), None)
    image_dir = _image_dir(root, image_root, first)
    for iid, entries in by_image.items():
        im = images[iid]
        img = image_dir / im["file_name"]
        if not check_image(bench.report, root, str(iid), img, verify_images):
            continue
        meta = {"width": int(im.get("width", 0)), "height": int(im.get("height", 0))}
        meta |= group_meta(im)
        bench.records.append(
            Record(id=str(iid), path=str(img), meta=meta, annotations={"refs": entries})
        )
    if not bench.records and not bench.report.problems:
        raise BenchmarkFormatError(f"{refs_path.name}: no refs in split {split!r}")
    bench.group_keys = tuple(k for k in GROUP_KEYS if any(k in r.meta for r in bench.records))
    return bench


register_format(
    Format("refcoco", load, detect, "RefCOCO/+/g: instances.json + refs(<split_by>).json", 5)
)
