"""Benchmark loaders, one module per on-disk format, and the named-benchmark registry."""

from globelens.evaluate.datasets import (  # noqa: F401  (each module registers itself)
    babel_imagenet,
    coco,
    coco_captions,
    coco_det,
    cvqa,
    dollarstreet,
    geode,
    gldv2,
    globalrg,
    hfparquet,
    imagefolder,
    imagenet_val,
    landmarks,
    refcoco,
    scenes,
    vqa,
    wds,
    xm3600,
    xm3600_captions,
)
from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError, Record
from globelens.evaluate.datasets.registry import (
    FORMATS,
    NAMED,
    Format,
    Named,
    available,
    load_benchmark,
    register_benchmark,
    register_format,
    resolve,
)

# The embedded world's sets (under the folder `globelens world build` wrote) ...
for _name, _fmt in (
    ("western", "wds"),
    ("dollarstreet", "dollarstreet"),
    ("geode", "geode"),
    ("landmarks", "landmarks"),
    ("xm3600", "xm3600"),
):
    register_benchmark(
        f"world/{_name}", Named(_fmt, f"benchmarks/{_name}", description=f"the world's {_name} set")
    )
#: The world's zero-shot (contrastive) sets.
WORLD_BENCHMARKS: tuple[str, ...] = tuple(n for n in NAMED if n.startswith("world/"))
# ... its generative sets (scenes: captions in the place's language and English, questions,
# boxes, masks, referring expressions) ...
for _name, _fmt, _rel in (
    ("coco_det", "coco_det", "coco_det"),
    ("refcoco", "refcoco", "refcoco"),
    ("vqa", "vqav2", "vqa"),
    ("captions", "xm3600_captions", "captions"),
    ("coco_captions", "coco_captions", "captions"),
):
    register_benchmark(
        f"world/{_name}",
        Named(_fmt, f"benchmarks/{_rel}", description=f"the world's {_name} set ({_fmt} format)"),
    )
# ... and the real releases, in folders of these names under --data-root.
for _name, _fmt, _rel in (
    ("geode", "geode", "geode"),
    ("gldv2", "gldv2", "gldv2"),
    ("xm3600", "xm3600", "xm3600"),
    ("coco", "coco", "coco"),
    ("imagenet", "imagenet", "imagenet"),
    ("imagenet1k", "wds", "wds_imagenet1k"),
    ("mscoco_captions", "wds", "wds_mscoco_captions"),
    ("coco_det", "coco_det", "coco"),
    ("coco_captions", "coco_captions", "coco"),
    ("vqav2", "vqav2", "vqav2"),
    ("refcoco", "refcoco", "refcoco"),
    ("refcoco+", "refcoco", "refcoco+"),
    ("refcocog", "refcoco", "refcocog"),
    ("xm3600_captions", "xm3600_captions", "xm3600"),
):
    register_benchmark(_name, Named(_fmt, _rel, description=f"{_name} ({_fmt} format)"))
# The real Dollar Street is scored as No Filter and SigLIP 2 score it (the format's default,
# the listed synsets, stays what the embedded world's set is scored with).
register_benchmark(
    "dollarstreet",
    Named("dollarstreet", "dollarstreet", {"protocol": "nofilter"}, "Dollar Street (No Filter)"),
)

#: The world's generative sets (captioning, VQA, detection, referring segmentation).
WORLD_GENERATIVE_BENCHMARKS: tuple[str, ...] = tuple(
    n for n in NAMED if n.startswith("world/") and n not in WORLD_BENCHMARKS
)
# The languages and cultures pack: Babel-ImageNet, CVQA and GlobalRG grounding, as released
# and as the world writes them (its babel set names the western set's classes and reads its
# pictures). Kept out of the two tuples above, so the default suite and demo stay as fast.
for _name, _fmt, _rel, _opts in (
    ("babel_imagenet", "babel_imagenet", "babel_imagenet", {}),
    ("cvqa", "cvqa", "cvqa", {}),
    ("globalrg", "globalrg", "globalrg", {}),
    ("world/babel", "babel_imagenet", "benchmarks/babel", {"images": "../western"}),
    ("world/cvqa", "cvqa", "benchmarks/cvqa", {}),
    ("world/grounding", "globalrg", "benchmarks/grounding", {}),
):
    register_benchmark(_name, Named(_fmt, _rel, _opts, description=f"{_name} ({_fmt} format)"))
#: The world's languages-and-cultures sets (one zero-shot, one for both model kinds, one
#: generative).
WORLD_LANGUAGE_BENCHMARKS: tuple[str, ...] = ("world/babel", "world/cvqa", "world/grounding")

__all__ = [
    "FORMATS",
    "NAMED",
    "WORLD_BENCHMARKS",
    "WORLD_GENERATIVE_BENCHMARKS",
    "WORLD_LANGUAGE_BENCHMARKS",
    "Benchmark",
    "BenchmarkFormatError",
    "Format",
    "Named",
    "Record",
    "available",
    "load_benchmark",
    "register_benchmark",
    "register_format",
    "resolve",
]
