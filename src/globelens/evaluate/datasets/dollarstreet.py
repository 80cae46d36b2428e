"""Dollar Street (MLCommons release): ``images_v2_imagenet_{train,test}.csv`` + ``assets/``.

Each row is one household photo with ``country.name``, ``region.id`` (af/am/as/eu), monthly
``income`` (USD PPP) and list columns stored as JSON strings, among them ``imagenet_sysnet_id``
(the ImageNet synsets the topic maps to) and ``imagenet_synonyms`` (their names). An image
counts as correct when the prediction is *any* of its synsets ("match any", No Filter).
(``images_v2.csv``, the full release, has no ImageNet columns and cannot be scored.)

Protocols (``protocol=``), because papers score the set differently and their numbers only
compare under the same one:

- ``nofilter``: No Filter (Table 1) and SigLIP 2: the rows of both ImageNet CSVs (train +
  test, as MetaCLIP's reproduction reads them), the 1,000 ImageNet-1k classes with CLIP's
  zero-shot names; top-1 and the income disparity.
- ``datacomp``: DataComp's fairness evaluation: the test CSV, the synsets it lists as classes;
  worst income group top-5 (``acc_top5_wg``).
- ``synsets``: the test CSV (or ``split=``) over the synsets its rows list; what globelens
  scored before protocols were named (the embedded world's set uses it).

A class-name file (``classnames_file=``: ``wnid<TAB>name`` lines, a JSON ``{wnid: name}``, or
plain names in ImageNet index order when the CSV stores integer class indices) replaces the
protocol's class list. Classes always come from the release's files, never from which pictures
happen to exist; a row that cannot be read is counted with its file and line.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    missing_image,
    parse_list,
    read_csv,
    read_lines,
    require_file,
)
from globelens.evaluate.datasets.imagenet import imagenet_classes
from globelens.evaluate.datasets.registry import Format, register_format
from globelens.groups import income_bucket

SPLIT_FILES = {
    "test": ("images_v2_imagenet_test.csv",),
    "train": ("images_v2_imagenet_train.csv",),
    "all": ("images_v2_imagenet_train.csv", "images_v2_imagenet_test.csv"),
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


@dataclass(frozen=True)
class Protocol:
    """One way papers score Dollar Street: which rows and which classes (the headline
    metrics, acc1 / disparity / acc_top5_wg, are all computed every time)."""

    split: str
    #: "imagenet": the 1,000 shipped ImageNet-1k classes; "listed": the synsets the rows list
    classes: str


PROTOCOLS: dict[str, Protocol] = {
    "nofilter": Protocol("all", "imagenet"),  # No Filter Table 1, SigLIP 2, MetaCLIP
    "datacomp": Protocol("test", "listed"),  # DataComp's fairness table (acc_top5_wg)
    "synsets": Protocol("test", "listed"),  # the embedded world's set; earlier results
}


def detect(root: Path) -> bool:
    return any((root / f).is_file() for files in SPLIT_FILES.values() for f in files)


def _first_name(synonyms: object) -> str:
    # ImageNet names are comma-joined synonym lists ("stove, range"): keep the first.
    return str(synonyms).split(",")[0].strip()


def read_classnames_file(path: Path) -> tuple[list[str] | None, dict[str, str]]:
    """(names by integer index or None, {wnid: name}) from a user's ImageNet class-name file."""
    text = path.read_text(encoding="utf-8-sig")
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


@dataclass
class _Row:
    record: Record
    synsets: list[str]
    #: the synsets' names as the row gives them (``imagenet_synonyms``)
    synonyms: list[str]
    present: bool


def _read_rows(root: Path, csv_path: Path, bench: Benchmark) -> list[_Row]:
    """Every readable row (present or not: the label space must not depend on pictures);
    unreadable ones are counted with their file and line."""
    out: list[_Row] = []
    for n, row in enumerate(read_csv(csv_path, REQUIRED), start=2):  # spreadsheet line numbers
        rid = row["id"]
        try:
            synsets = [str(s) for s in parse_list(row["imagenet_sysnet_id"])]
            synonyms = parse_list(row["imagenet_synonyms"])
            income = float(row["income"])
            if not math.isfinite(income) or income < 0:
                raise ValueError(f"income {row['income']!r} is not a non-negative number")
        except (ValueError, SyntaxError) as e:
            bench.report.add(str(csv_path), rid, "bad_row", f"line {n}: {e}")
            continue
        if not synsets:
            bench.report.add(str(csv_path), rid, "no_label", f"line {n}: empty imagenet_sysnet_id")
            continue
        path = root / row["imageRelPath"]
        if not path.is_file() and (root / "assets" / row["imageRelPath"]).is_file():
            path = root / "assets" / row["imageRelPath"]
        region_id = row["region.id"].strip().lower()
        meta = {
            "country": row["country.name"],
            "country_code": row.get("country.id", ""),
            "region": REGIONS.get(region_id, region_id),
            "income": income,
            "income_bucket": income_bucket(income),
            "topics": parse_list(row.get("topics", "")),
        }
        record = Record(id=rid, path=str(path), meta=meta)
        out.append(_Row(record, synsets, [str(x) for x in synonyms], path.is_file()))
    return out


def _label_space(
    rows: list[_Row], protocol: Protocol, classnames_file: str | None
) -> tuple[list[str], dict[str, int]]:
    """(class names, {synset or index string: class index})."""
    if classnames_file:
        by_index, user_names = read_classnames_file(Path(classnames_file))
        if by_index is not None:
            return by_index, {str(i): i for i in range(len(by_index))}
        return list(user_names.values()), {w: i for i, w in enumerate(user_names)}
    if protocol.classes == "imagenet":
        classes = imagenet_classes()
        return [name for _, name in classes], {w: i for i, (w, _) in enumerate(classes)}
    names: dict[str, str] = {}
    for r in rows:
        for s, synonyms in zip(r.synsets, r.synonyms, strict=False):
            names.setdefault(s, _first_name(synonyms))
    wnids = sorted({s for r in rows for s in r.synsets})
    return [names.get(w, w) for w in wnids], {w: i for i, w in enumerate(wnids)}


def load(
    root: Path,
    protocol: str = "synsets",
    split: str | None = None,
    classnames_file: str | None = None,
) -> Benchmark:
    """``protocol``: nofilter, datacomp or synsets (see the module docs); ``split``: test,
    train or all (train + test), overriding the protocol's rows; ``classnames_file``: class
    names replacing the protocol's."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"Dollar Street protocol {protocol!r}: use one of {sorted(PROTOCOLS)}")
    proto = PROTOCOLS[protocol]
    split = split or proto.split
    if split not in SPLIT_FILES:
        raise ValueError(f"Dollar Street split {split!r}: use one of {sorted(SPLIT_FILES)}")
    csv_paths = [require_file(root, f, "dollarstreet") for f in SPLIT_FILES[split]]
    bench = Benchmark(
        name=root.name,
        format="dollarstreet",
        root=str(root),
        records=[],
        tasks=("zeroshot_classification", "fewshot_geolocalization"),
        group_keys=("income_bucket", "region", "country"),
        worst_group={"acc_wg": "income_bucket", "acc_top5_wg": "income_bucket"},
        fewshot_targets=("country", "region"),
        index_files=[str(p) for p in csv_paths] + ([classnames_file] if classnames_file else []),
        protocol=protocol,
    )
    rows = [r for p in csv_paths for r in _read_rows(root, p, bench)]
    classnames, lookup = _label_space(rows, proto, classnames_file)
    seen: set[str] = set()
    for r in rows:
        if r.record.id in seen:  # a picture listed twice (train and test) is scored once
            bench.report.add(str(root), r.record.id, "duplicate_row", "id already read")
            continue
        seen.add(r.record.id)
        if not r.present:
            missing_image(bench.report, root, r.record.id, Path(r.record.path))
            continue
        labels = tuple(lookup[s] for s in r.synsets if s in lookup)
        if not labels:
            bench.report.add(
                str(root),
                r.record.id,
                "label_not_in_classes",
                f"synsets {r.synsets} not in classes",
            )
            continue
        r.record.labels = labels
        bench.records.append(r.record)
    if not bench.records:
        counts = dict(bench.report.counts()) or "no rows"
        raise BenchmarkFormatError(
            f"Dollar Street at {root}: no usable rows in {', '.join(p.name for p in csv_paths)} "
            f"({counts})"
        )
    bench.classnames = classnames
    return bench


register_format(
    Format(
        "dollarstreet",
        load,
        detect,
        "Dollar Street: images_v2_imagenet_{train,test}.csv + assets/ (MLCommons)",
    )
)
