"""Build the embedded world: the training crawl, five classification/retrieval benchmarks,
the scenes (generative training shards and four generative benchmarks), the languages and
cultures sets (babel, cvqa, grounding: see ``language_sets``), MetaCLIP metadata
lists (``metadata/{lang}.txt``), world.json and a contact sheet.

Every picture is planned and drawn from its own generator, seeded by (seed, stream, index),
so pictures can be drawn in any process, in any order, and the output stays byte-identical.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from globelens.groups import INCOME_BUCKET_NAMES
from globelens.world.config import (
    IMAGE_SIZE,
    JPEG_QUALITY,
    SIZES,
    WORLD_VERSION,
    WorldConfig,
    WorldSize,
    resolve_size,
)
from globelens.world.language_sets import write_language_sets
from globelens.world.lexicon import (
    CONCEPT_BY_ID,
    LANDMARKS,
    lexicon_dict,
    metadata_lists,
)
from globelens.world.places import (
    COUNTRIES,
    LANGUAGES,
    REGIONS,
)
from globelens.world.plans import PLANNERS as _PICTURE_PLANNERS
from globelens.world.plans import Planner, english_probability, make_caption, sample_income
from globelens.world.scene_sinks import SceneBenchmarkSink, SceneShardSink
from globelens.world.scenes import SCENE_SIZE, plan_benchmark_scene, plan_training_scene
from globelens.world.sheet import contact_sheet
from globelens.world.sinks import (
    CrawlSink,
    DollarStreetSink,
    GeodeSink,
    LandmarkSink,
    WesternSink,
    XM3600Sink,
    write_text,
)

PLANNERS: dict[str, Planner] = {
    **_PICTURE_PLANNERS,
    "scenes": plan_training_scene,
    "scene_benchmarks": plan_benchmark_scene,
}


def _work(job: tuple[str, int, int, WorldConfig]) -> dict[str, Any]:
    stream, seed, index, cfg = job
    return PLANNERS[stream](seed, index, cfg)


def _jobs(
    stream: str, n: int, seed: int, cfg: WorldConfig
) -> Iterator[tuple[str, int, int, WorldConfig]]:
    for i in range(n):
        yield (stream, seed, i, cfg)


def build_world(
    out_dir: str | os.PathLike,
    seed: int = 0,
    size: str | int | WorldSize = "default",
    workers: int | None = None,
    config: WorldConfig | None = None,
    progress: bool = True,
    overwrite: bool = True,
) -> dict[str, Any]:
    """Build the world into ``out_dir``; returns the summary (also written as world.json).

    ``workers``: processes that draw pictures (default: up to 2, one per core; 0 or 1 draws
    in this process). The output is byte-identical whatever the number of workers.
    """
    cfg = config or WorldConfig()
    ws = resolve_size(size)
    out = _empty_output(Path(out_dir), overwrite)
    counts = _draw_streams(out, ws, seed, cfg, workers, progress)
    # Babel-ImageNet, CVQA and GlobalRG analogues, from the pictures drawn above.
    counts["languages"] = write_language_sets(out, seed)
    metadata = metadata_lists()
    for lang, entries in metadata.items():
        write_text(out / "metadata" / f"{lang}.txt", "".join(f"{e}\n" for e in entries))
    sheet = contact_sheet(seed)
    sheet.save(out / "contact_sheet.png", optimize=True)
    summary = {
        "version": WORLD_VERSION,
        "synthetic": True,
        "parameters": {
            "seed": seed,
            "size": size
            if isinstance(size, str)
            else asdict(ws)
            if isinstance(size, WorldSize)
            else int(size),
            "sizes": asdict(ws),
            "image_size": IMAGE_SIZE,
            "scene_image_size": SCENE_SIZE,
            "jpeg_quality": JPEG_QUALITY,
            "config": asdict(cfg),
        },
        "regions": list(REGIONS),
        "countries": [{**asdict(c), "script": c.script} for c in COUNTRIES],
        "languages": {k: asdict(v) for k, v in LANGUAGES.items()},
        "income_buckets": list(INCOME_BUCKET_NAMES),
        "counts": counts,
        # MetaCLIP metadata for the metadata_balance curation step: metadata/{lang}.txt
        "metadata": {lang: len(entries) for lang, entries in sorted(metadata.items())},
        "lexicon": lexicon_dict(),
    }
    write_text(
        out / "world.json", json.dumps(summary, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    )
    return summary


def _empty_output(out: Path, overwrite: bool) -> Path:
    """``out``, created empty; a non-empty one is replaced only when it holds a world."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pass overwrite=True to replace it")
        if not (out / "world.json").exists():
            raise FileExistsError(
                f"{out} is not empty and holds no world.json: refusing to delete it"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _draw_streams(
    out: Path, ws: WorldSize, seed: int, cfg: WorldConfig, workers: int | None, progress: bool
) -> dict[str, Any]:
    """Draw every stream into its sink, in a pool of ``workers`` processes or this one; each
    sink's summary by stream."""
    n_landmarks = ws.landmarks_per_landmark * len(LANDMARKS)
    parts: list[tuple[str, int, Any]] = [
        ("crawl", ws.crawl, CrawlSink(out, maxcount=5_000)),
        ("western", ws.western, WesternSink(out)),
        ("dollarstreet", ws.dollarstreet, DollarStreetSink(out)),
        ("geode", ws.geode, GeodeSink(out)),
        ("landmarks", n_landmarks, LandmarkSink(out)),
        ("xm3600", ws.xm3600, XM3600Sink(out)),
        ("scenes", ws.scenes, SceneShardSink(out, maxcount=5_000)),
        ("scene_benchmarks", ws.scene_benchmarks, SceneBenchmarkSink(out)),
    ]
    total = sum(n for _, n, _ in parts)
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if total >= 2_000 else 1
    pool = None
    if workers > 1:
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        pool = mp.get_context(method).Pool(workers)
    counts: dict[str, Any] = {}
    try:
        bar = tqdm(total=total, desc="world", unit="img", disable=not progress, smoothing=0.1)
        for stream, n, sink in parts:
            bar.set_postfix_str(stream)
            jobs = _jobs(stream, n, seed, cfg)
            results = pool.imap(_work, jobs, chunksize=64) if pool else map(_work, jobs)
            for item in results:
                sink.add(item)
                bar.update(1)
            counts[stream] = sink.close()
        bar.close()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return counts


def format_summary(summary: dict[str, Any], out_dir: str | os.PathLike | None = None) -> str:
    """A short human-readable summary of a built world."""
    counts = summary["counts"]
    crawl = counts["crawl"]
    lines = [
        f"world (synthetic, seed {summary['parameters']['seed']}, size {summary['parameters']['size']})"
    ]
    if out_dir is not None:
        lines[0] += f" -> {out_dir}"
    lines.append(f"  crawl: {crawl['total']} samples in {crawl['shards']} shards, "
                 f"{len(crawl.get('by_language', {}))} languages, {len(crawl.get('by_country', {}))} countries")  # fmt: skip
    en = crawl.get("by_language", {}).get("en", 0)
    lines.append(f"  English captions: {en / max(1, crawl['total']):.1%} of the crawl")
    lines.append("  by region (share of crawl, English share):")
    for region, n in crawl.get("by_region", {}).items():
        lines.append(
            f"    {region:<14} {n / max(1, crawl['total']):6.1%}   en {crawl['english_share_by_region'][region]:.0%}"
        )
    lines.append("  by income bucket: " + ", ".join(
        f"{b} {crawl.get('by_income_bucket', {}).get(b, 0)}" for b in INCOME_BUCKET_NAMES))  # fmt: skip
    for name in ("western", "dollarstreet", "geode", "landmarks", "xm3600"):
        lines.append(f"  benchmark {name}: {counts[name]['total']} images")
    if summary.get("metadata"):
        lists = summary["metadata"]
        lines.append(f"  metadata: {len(lists)} lists, {sum(lists.values())} entries "
                     "(metadata/{lang}.txt, for the metaclip recipes)")  # fmt: skip
    scenes, bench = counts.get("scenes"), counts.get("scene_benchmarks")
    if scenes and scenes["total"]:
        lines.append(f"  scenes (training): {scenes['total']} pictures in {scenes['shards']} shards, "
                     f"{scenes['objects']} objects, {scenes['questions']} questions")  # fmt: skip
    if bench and bench["total"]:
        lines.append(f"  benchmarks coco_det, refcoco, vqa, captions: {bench['total']} scenes, "
                     f"{bench['objects']} objects, {bench['vqa_questions']} questions, "
                     f"{bench['refcoco_sentences']} referring sentences")  # fmt: skip
    if lang := counts.get("languages"):
        lines.append(f"  benchmarks babel, cvqa, grounding: {len(lang['babel'])} languages, "
                     f"{lang['cvqa']['questions']} questions, "
                     f"{lang.get('grounding', {}).get('concepts', 0)} concepts to box")  # fmt: skip
    return "\n".join(lines)


def load_summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Read ``world.json`` of a built world."""
    path = Path(out_dir) / "world.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: build the world first (globelens world build {out_dir})"
        )
    return json.loads(path.read_text(encoding="utf-8"))


__all__ = [
    "CONCEPT_BY_ID",
    "SIZES",
    "WorldConfig",
    "WorldSize",
    "build_world",
    "contact_sheet",
    "english_probability",
    "format_summary",
    "load_summary",
    "make_caption",
    "resolve_size",
    "sample_income",
]
