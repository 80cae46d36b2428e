"""CLIP_benchmark / DataComp WebDataset eval sets.

A folder with ``classnames.txt``, ``zeroshot_classification_templates.txt``,
``dataset_type.txt`` and ``<split>/nshards.txt`` + ``<split>/N.tar`` holding ``key.jpg|png|webp``
with ``key.cls`` (class index) for classification or ``key.txt`` (captions, one per line) for
retrieval. A ``key.json`` (globelens' world) carries group metadata (country, region, income
...); DataComp's fairness sets carry a ``key.npy`` instead (``[income_ds, income_meta,
region]`` for Dollar Street, ``[region, country]`` for GeoDE: integer codes), read as named
groups with DataComp's worst-group metric. Shards (``.tar``, ``.tar.gz`` ...) are read with
:func:`globelens.data.read_shards`.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from globelens.data import expand_shards, read_shards
from globelens.data.shards import SHARD_GLOBS
from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    language_files,
    read_lines,
)
from globelens.evaluate.datasets.registry import Format, register_format
from globelens.evaluate.templates import OPENAI_IMAGENET_TEMPLATES
from globelens.groups import income_bucket

GROUP_FIELDS = ("income_bucket", "region", "country")


def detect(root: Path) -> bool:
    return (root / "test").is_dir() and any(any((root / "test").glob(g)) for g in SHARD_GLOBS)


#: DataComp's fairness sets: what each ``.npy`` entry is (its ``fairness/*`` evaluators), the
#: group keys reported, and the worst-group metric DataComp's table takes over which key.
FAIRNESS = {
    "dollar_street": (
        ("income_ds", "income_meta", "region"),
        {"acc_top5_wg": "income_ds", "acc_wg": "income_ds"},
    ),
    "geode": (("region", "country"), {"acc_wg": "region"}),
}
#: which fairness set an ``.npy`` of this many entries belongs to, when not named
FAIRNESS_BY_LENGTH = {len(fields): name for name, (fields, _) in FAIRNESS.items()}


def _npy_meta(data: bytes, fairness: str | None) -> dict:
    """DataComp fairness metadata (a small integer array, never unpickled) as named groups."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError:
        return {}
    values = arr.reshape(-1).tolist()
    kind = fairness or FAIRNESS_BY_LENGTH.get(len(values))
    if kind not in FAIRNESS or len(values) != len(FAIRNESS[kind][0]):
        return {"npy": values}
    return {"npy": values, **{k: str(v) for k, v in zip(FAIRNESS[kind][0], values, strict=True)}}


def load(root: Path, split: str = "test", fairness: str | None = None) -> Benchmark:
    """``split``: the shard folder; ``fairness``: dollar_street or geode, DataComp's fairness
    set whose ``.npy`` metadata the shards carry (default: told by the entries' count)."""
    if fairness is not None and fairness not in FAIRNESS:
        raise ValueError(f"wds fairness {fairness!r}: use one of {sorted(FAIRNESS)}")
    split_dir = root / split
    if not split_dir.is_dir():
        raise BenchmarkFormatError(f"wds benchmark at {root}: missing folder {split!r}")
    shards = expand_shards(str(split_dir))
    dtype_file = root / "dataset_type.txt"
    dtype = dtype_file.read_text().strip() if dtype_file.is_file() else "classification"
    retrieval = "retrieval" in dtype
    index_files = [str(dtype_file)] if dtype_file.is_file() else []
    classnames = None
    templates = list(OPENAI_IMAGENET_TEMPLATES)
    if not retrieval:
        names_file = root / "classnames.txt"
        if not names_file.is_file():
            raise BenchmarkFormatError(f"wds benchmark at {root}: missing file 'classnames.txt'")
        classnames = read_lines(names_file)
        index_files.append(str(names_file))
        tfile = root / "zeroshot_classification_templates.txt"
        if tfile.is_file():
            templates = read_lines(tfile)
            index_files.append(str(tfile))
    bench = Benchmark(
        name=root.name,
        format="wds",
        root=str(root),
        records=[],
        tasks=("zeroshot_retrieval",) if retrieval else ("zeroshot_classification",),
        classnames=classnames,
        templates=templates,
        classnames_by_lang=language_files(root, "classnames"),
        templates_by_lang=language_files(root, "zeroshot_classification_templates"),
        index_files=index_files,
        shards=shards,
    )
    seen: set[str] = set()
    for s in read_shards(shards, bench.report, require_caption=False):
        if s.key in seen:
            bench.report.add(s.source, s.key, "duplicate_key", "key already seen in this set")
            continue
        seen.add(s.key)
        meta = dict(s.meta)
        meta["_shard"] = s.source
        if "npy" in s.extras:
            meta.update(_npy_meta(s.extras["npy"], fairness))
        if "income" in meta and "income_bucket" not in meta:
            with contextlib.suppress(TypeError, ValueError):
                meta["income_bucket"] = income_bucket(float(meta["income"]))
        rec = Record(id=s.key, meta=meta)
        if retrieval:
            caps = [c.strip() for c in (s.caption or "").splitlines() if c.strip()]
            if not caps:
                bench.report.add(s.source, s.key, "missing_caption", "no .txt member")
                continue
            rec.captions = {"en": caps}
        else:
            cls = s.extras.get("cls")
            try:
                label = int(cls.decode().strip()) if cls is not None else -1
            except ValueError:
                label = -1
            if not 0 <= label < len(classnames or []):
                bench.report.add(s.source, s.key, "bad_label", f".cls is {cls!r}")
                continue
            rec.labels = (label,)
        bench.records.append(rec)
    kinds = {FAIRNESS_BY_LENGTH.get(len(r.meta.get("npy", []))) for r in bench.records[:50]}
    kind = fairness or next((k for k in kinds if k), None)
    present = [k for k in GROUP_FIELDS if any(k in r.meta for r in bench.records[:50])]
    bench.group_keys = tuple(present)
    if kind is not None and any("npy" in r.meta for r in bench.records[:50]):
        fields, worst = FAIRNESS[kind]
        bench.group_keys = tuple(dict.fromkeys([*fields, *present]))
        bench.worst_group = dict(worst)
        bench.protocol = f"datacomp/{kind}"
    elif "income_bucket" in present:
        bench.worst_group = {"acc_wg": "income_bucket", "acc_top5_wg": "income_bucket"}
    elif "region" in present:
        bench.worst_group = {"acc_wg": "region", "acc_top5_wg": "region"}
    return bench


register_format(Format("wds", load, detect, "CLIP_benchmark/DataComp WebDataset eval sets"))
