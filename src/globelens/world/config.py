"""How big the world is and the knobs of its crawl."""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_SIZE = 96
JPEG_QUALITY = 90
WORLD_VERSION = 2  # 2: more code-mixed captions, a flatter English bridge


@dataclass(frozen=True)
class WorldSize:
    """How many pictures each part of the world gets."""

    crawl: int
    western: int
    dollarstreet: int
    geode: int
    landmarks_per_landmark: int
    xm3600: int
    #: generative training scenes (OUT/scenes) and benchmark scenes (coco_det, refcoco, vqa,
    #: captions share them); 0 builds none
    scenes: int = 0
    scene_benchmarks: int = 0


SIZES: dict[str, WorldSize] = {
    "tiny": WorldSize(400, 48, 96, 72, 2, 24, 200, 48),
    "small": WorldSize(5_000, 240, 480, 360, 6, 120, 1_500, 240),
    "default": WorldSize(30_000, 800, 1_600, 1_200, 20, 360, 6_000, 1_000),
}


def resolve_size(size: str | int | WorldSize) -> WorldSize:
    """``tiny``/``small``/``default``, a crawl sample count (benchmarks scale with it), or a
    :class:`WorldSize` (each part sized on its own)."""
    if isinstance(size, WorldSize):
        return size
    if isinstance(size, str) and size in SIZES:
        return SIZES[size]
    try:
        n = int(size)
    except (TypeError, ValueError):
        raise ValueError(
            f"unknown world size {size!r}; use one of {', '.join(SIZES)} or a number of crawl samples"
        ) from None
    if n < 1:
        raise ValueError(f"the crawl needs at least 1 sample, got {n}")
    ref, low = SIZES["default"], SIZES["tiny"]
    f = n / ref.crawl

    def scale(a: int, b: int) -> int:
        return int(min(2 * a, max(b, round(a * f))))

    return WorldSize(
        n,
        scale(ref.western, low.western),
        scale(ref.dollarstreet, low.dollarstreet),
        scale(ref.geode, low.geode),
        scale(ref.landmarks_per_landmark, low.landmarks_per_landmark),
        scale(ref.xm3600, low.xm3600),
        # Training scenes grow with the crawl; their benchmarks are capped like the others.
        max(low.scenes, round(ref.scenes * f)),
        scale(ref.scene_benchmarks, low.scene_benchmarks),
    )


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of the crawl. The defaults are what the demo's study is calibrated on."""

    landmark_share: float = 0.1  # share of crawl pictures that show a landmark
    crawl_income_boost: float = 1.4  # the web shows richer households than the census
    # English captions grow with income (the bridge is richer), but not steeply: NGO, news,
    # travel and shop sites also caption modest homes in English.
    english_income_power: float = 0.3
    english_share_max: float = 0.6
    unrelated_rate: float = 0.07  # captions that say nothing about the picture
    missing_word_rate: float = 0.08  # captions without the concept word
    filler_rate: float = 0.3  # captions with an extra word
    # Local captions that also give the English name, "چراغ (lamp)", as bilingual shop,
    # classified and travel alt text often does in multilingual countries; language ID still
    # calls them local, so an English filter drops them.
    code_mix_rate: float = 0.3
