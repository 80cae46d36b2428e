"""Dollar Street (MLCommons release): ``images_v2*.csv`` + ``assets/``.

Each row is one household photo with ``country.name``, ``region.id`` (af/am/as/eu), monthly
``income`` (USD PPP) and list columns stored as JSON strings, among them ``imagenet_sysnet_id``
(the ImageNet synsets the topic maps to) and ``imagenet_synonyms`` (their names). An image
counts as correct when the prediction is *any* of its synsets ("match any", No Filter).

Classes are the synsets present in the set (default), or the 1,000 ImageNet-1k classes when a
class-name file is given (``wnid<TAB>name`` lines, a JSON ``{wnid: name}``, or plain names in
ImageNet index order when the CSV stores integer class indices).
"""

from __future__ import annotations

import json
from pathlib import Path

from globelens.evaluate.benchmarks.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    missing_image,
    parse_list,
    read_csv,
    read_lines,
    require_file,
)
from globelens.evaluate.benchmarks.registry import Format, register_format
from globelens.groups import income_bucket

SPLIT_FILES = {
    "test": "images_v2_imagenet_test.csv",
    "train": "images_v2_imagenet_train.csv",
    "all": "images_v2.csv",
}
REQUIRED = (
    "id",
    "country.name",
    "region.id",
    "income",
    "imageRelPath",
    "imagenet_sysnet_id",
    "imagenet_synonyms",
)
REGIONS = {"af": "Africa", "am": "Americas", "as": "Asia", "eu": "Europe"}


def detect(root: Path) -> bool:
    return any((root / f).is_file() for f in SPLIT_FILES.values())


def _first_name(synonyms: object) -> str:
    # ImageNet names are comma-joined synonym lists ("stove, range"): keep the first.
    return str(synonyms).split(",")[0].strip()


def read_classnames_file(path: Path) -> tuple[list[str] | None, dict[str, str]]:
    """(names by integer index or None, {wnid: name}) from a user's ImageNet class-name file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        if isinstance(data, dict):
            return None, {str(k): _first_name(v) for k, v in data.items()}
        return [_first_name(v) for v in data], {}
    lines = read_lines(path)
    pairs = [ln.split(None, 1) for ln in lines]
    if all(len(p) == 2 and p[0].startswith("n") and p[0][1:].isdigit() for p in pairs):
        return None, {p[0]: _first_name(p[1]) for p in pairs}
    return [_first_name(ln) for ln in lines], {}


def load(root: Path, split: str = "test", classnames_file: str | None = None) -> Benchmark:
    if split not in SPLIT_FILES:
        raise ValueError(f"Dollar Street split {split!r}: use one of {sorted(SPLIT_FILES)}")
    csv_path = require_file(root, SPLIT_FILES[split], "dollarstreet")
    rows = read_csv(csv_path, REQUIRED)
    by_index: list[str] | None = None
    user_names: dict[str, str] = {}
    index_files = [str(csv_path)]
    if classnames_file:
        by_index, user_names = read_classnames_file(Path(classnames_file))
        index_files.append(str(classnames_file))

    bench = Benchmark(
        name=root.name,
        format="dollarstreet",
        root=str(root),
        records=[],
        tasks=("zeroshot_classification", "fewshot_geolocalization"),
        group_keys=("income_bucket", "region", "country"),
        worst_group={"acc_wg": "income_bucket", "acc_top5_wg": "income_bucket"},
        fewshot_targets=("country", "region"),
        index_files=index_files,
    )
    wnid_names: dict[str, str] = {}
    row_labels: list[list[str]] = []
    kept: list[Record] = []
    for n, row in enumerate(rows, start=2):  # line numbers as a spreadsheet shows them
        rid = row["id"]
        try:
            synsets = [str(s) for s in parse_list(row["imagenet_sysnet_id"])]
            synonyms = parse_list(row["imagenet_synonyms"])
            income = float(row["income"])
        except (ValueError, SyntaxError) as e:
            bench.report.add(str(csv_path), rid, "bad_row", f"line {n}: {e}")
            continue
        if not synsets:
            bench.report.add(str(csv_path), rid, "no_label", f"line {n}: empty imagenet_sysnet_id")
            continue
        for i, s in enumerate(synsets):
            if i < len(synonyms):
                wnid_names.setdefault(s, _first_name(synonyms[i]))
        path = root / row["imageRelPath"]
        if not path.is_file() and (root / "assets" / row["imageRelPath"]).is_file():
            path = root / "assets" / row["imageRelPath"]
        if not path.is_file():
            missing_image(bench.report, root, rid, path)
            continue
        region_id = row["region.id"].strip().lower()
        meta = {
            "country": row["country.name"],
            "country_code": row.get("country.id", ""),
            "region": REGIONS.get(region_id, region_id),
            "income": income,
            "income_bucket": income_bucket(income),
            "topics": parse_list(row.get("topics", "")),
        }
        kept.append(Record(id=rid, path=str(path), meta=meta))
        row_labels.append(synsets)

    if by_index is not None:
        classnames = by_index
        lookup = {str(i): i for i in range(len(by_index))}
    elif user_names:
        wnids = list(user_names)
        classnames = [user_names[w] for w in wnids]
        lookup = {w: i for i, w in enumerate(wnids)}
    else:
        wnids = sorted({s for labels in row_labels for s in labels})
        classnames = [wnid_names.get(w, w) for w in wnids]
        lookup = {w: i for i, w in enumerate(wnids)}
    for rec, synsets in zip(kept, row_labels, strict=True):
        labels = tuple(lookup[s] for s in synsets if s in lookup)
        if not labels:
            bench.report.add(
                str(csv_path),
                rec.id,
                "label_not_in_classes",
                f"synsets {synsets} not in class list",
            )
            continue
        rec.labels = labels
        bench.records.append(rec)
    if not bench.records:
        raise BenchmarkFormatError(f"{csv_path}: no usable rows ({dict(bench.report.counts())})")
    bench.classnames = classnames
    return bench


register_format(
    Format("dollarstreet", load, detect, "Dollar Street: images_v2*.csv + assets/ (MLCommons)")
)
