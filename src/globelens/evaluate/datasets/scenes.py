"""Scene shards as a benchmark: the generative training layout read for evaluation.

``OUT/scenes/NNNNN.tar`` (``globelens world build``, or any img2dataset shards of the same
kind): each sample's ``.json`` carries ``captions`` ({lang: [...]}) and, when the set has
them, ``objects``, ``qa`` and ``refs`` (the fields of :class:`~globelens.evaluate.datasets.
base.Record`'s ``annotations``) beside the place's metadata (country, region, income ...).
A held-out folder of such shards is what in-training evaluation reads
(``train-vlm``'s ``eval.data``), so ``globelens eval --benchmarks scenes:FOLDER`` scores the
same pictures the same way. A sample whose ``.json`` carries none of them is counted
(``no_annotations``), never dropped silently.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from globelens.data import expand_shards, read_shards
from globelens.data.annotations import ITEM_TYPES, AnnotationError, parse_item
from globelens.data.shards import SHARD_GLOBS
from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError, Record
from globelens.evaluate.datasets.registry import Format, register_format
from globelens.groups import income_bucket

#: annotation keys of a scene's ``.json`` and the evaluator's task that scores each
ANNOTATIONS = {"objects": "detection", "qa": "vqa", "refs": "referring_segmentation"}
#: what the evaluator's task reads of each item (an item lacking one is counted, not scored)
REQUIRED = {
    "objects": ("label", "category_id", "bbox"),
    "qa": ("question", "answers"),
    "refs": ("sent", "bbox", "segmentation"),
}
GROUP_FIELDS = ("income_bucket", "region", "country", "language")


def detect(root: Path) -> bool:
    """Shards directly in the folder whose first sample carries scene annotations."""
    if not any(any(root.glob(g)) for g in SHARD_GLOBS):
        return False
    for s in read_shards(str(root), require_caption=False):
        return any(k in s.meta for k in ("captions", *ANNOTATIONS))
    return False


def _captions(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for lang, caps in value.items():
        caps = [caps] if isinstance(caps, str) else caps
        if isinstance(caps, list) and caps:
            out[str(lang)] = [str(c) for c in caps]
    return out


def _annotations(bench: Benchmark, source: str, key: str, meta: dict) -> dict[str, list]:
    """The usable items of each annotation list, typed (``globelens.data.annotations``): a
    malformed item is counted as ``bad_annotation`` (naming its key), one lacking what its task
    reads as ``bad_KEY``."""
    out: dict[str, list] = {}
    for name in ANNOTATIONS:
        items = meta.get(name)
        if not isinstance(items, list):
            continue
        out[name] = []
        for k, item in enumerate(items):
            try:
                typed = parse_item(ITEM_TYPES[name], item, source, f"{key}:{name}[{k}]")
            except AnnotationError as e:
                bench.report.add(source, key, "bad_annotation", str(e))
                continue
            if any(getattr(typed, f, None) in (None, "", ()) for f in REQUIRED[name]):
                bench.report.add(
                    source, key, f"bad_{name}", f"{name}[{k}] lacks one of {REQUIRED[name]}"
                )
                continue
            out[name].append(typed)
    return out


def load(root: Path) -> Benchmark:
    """``root``: a folder of scene shards, or a glob / brace pattern of them."""
    try:
        shards = expand_shards(str(root))
    except FileNotFoundError as e:
        raise BenchmarkFormatError(f"scenes benchmark at {root}: {e}") from None
    bench = Benchmark(
        name=Path(root).name, format="scenes", root=str(root), records=[], tasks=(), shards=shards
    )
    seen: set[str] = set()
    for s in read_shards(shards, bench.report, require_caption=False):
        if s.key in seen:
            bench.report.add(s.source, s.key, "duplicate_key", "key already seen in this set")
            continue
        seen.add(s.key)
        meta = {k: v for k, v in s.meta.items() if k not in ("captions", *ANNOTATIONS)}
        meta["_shard"] = s.source
        if "income" in meta and "income_bucket" not in meta:
            with contextlib.suppress(TypeError, ValueError):
                meta["income_bucket"] = income_bucket(float(meta["income"]))
        annotations = _annotations(bench, s.source, s.key, s.meta)
        captions = _captions(s.meta.get("captions"))
        if not captions and not any(annotations.values()):
            bench.report.add(s.source, s.key, "no_annotations", "no captions, objects, qa, refs")
            continue
        bench.records.append(
            Record(id=s.key, captions=captions, meta=meta, annotations=annotations)
        )
    has = lambda key: any(r.annotations.get(key) for r in bench.records)  # noqa: E731
    tasks = ["captioning"] if any(r.captions for r in bench.records) else []
    bench.tasks = (*tasks, *(task for key, task in ANNOTATIONS.items() if has(key)))
    bench.group_keys = tuple(
        k for k in GROUP_FIELDS if any(r.meta.get(k) not in (None, "") for r in bench.records)
    )
    return bench


register_format(
    Format("scenes", load, detect, "scene shards of the generative training layout", -1)
)
