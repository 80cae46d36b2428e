"""What each picture of the world shows: one plan per picture, drawn from its own generator
seeded by (seed, stream, index), so any process can draw any picture in any order."""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

import globelens.world.render as render
from globelens.groups import income_bucket
from globelens.world.config import IMAGE_SIZE, JPEG_QUALITY, WorldConfig
from globelens.world.lexicon import (
    CONCEPTS,
    FILLERS,
    LANDMARK_TEMPLATES,
    LANDMARKS,
    NO_SPACE_LANGS,
    TEMPLATES,
    UNRELATED,
    Landmark,
    landmarks_of,
)
from globelens.world.places import (
    COUNTRIES,
    GEODE_REGIONS,
    LANGUAGES,
    Country,
    world_languages,
)


def picture_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


def picture_uid(seed: int, stream: int, index: int) -> str:
    return hashlib.blake2b(f"{seed}:{stream}:{index}".encode(), digest_size=16).hexdigest()


def sample_income(
    c: Country, rng: np.random.Generator, boost: float = 1.0, spread: float = 1.0
) -> float:
    """A monthly household income (USD PPP) from the country's log-normal distribution."""
    value = math.exp(rng.normal(math.log(c.income_median * boost), c.income_sigma * spread))
    return round(min(max(value, 15.0), 60_000.0), 1)


def english_probability(c: Country, income: float, cfg: WorldConfig) -> float:
    """Chance that a caption from this household is in English: the English bridge."""
    if c.english_speaking:
        return 1.0
    p = c.english_share * (income / c.income_median) ** cfg.english_income_power
    return float(min(cfg.english_share_max, max(0.01, p)))


WEB_P = np.array([c.web_weight for c in COUNTRIES]) / sum(c.web_weight for c in COUNTRIES)
_SITES = ("photos", "shop", "blog", "news", "forum", "market", "img", "media")


def _join(lang: str, a: str, b: str) -> str:
    return a + b if lang in NO_SPACE_LANGS else f"{a} {b}"


def make_caption(
    lang: str,
    concept_names: tuple[str, str] | None,
    landmark_names: tuple[str, str] | None,
    country_names: tuple[str, str],
    rng: np.random.Generator,
    cfg: WorldConfig,
) -> tuple[str, str, str]:
    """(caption in ``lang``, its English translation, noise kind) for one picture.

    ``*_names`` are (local, English) pairs. Noise: unrelated alt text, a caption missing the
    concept word, an extra word.
    """
    r = rng.random()
    if r < cfg.unrelated_rate:
        i = int(rng.integers(len(UNRELATED["en"])))
        return UNRELATED[lang][i], UNRELATED["en"][i], "unrelated"
    missing = r < cfg.unrelated_rate + cfg.missing_word_rate
    if landmark_names is not None:
        i = int(rng.integers(len(LANDMARK_TEMPLATES["en"])))
        local, en = landmark_names
        if missing:  # "visiting ..." with only the country left
            local, en = country_names
        cap = LANDMARK_TEMPLATES[lang][i].format(l=local, k=country_names[0])
        cap_en = LANDMARK_TEMPLATES["en"][i].format(l=en, k=country_names[1])
    else:
        assert concept_names is not None
        local, en = concept_names
        if missing:
            i = int(rng.integers(1, len(TEMPLATES["en"])))
            cap = " ".join(TEMPLATES[lang][i].replace("{c}", "").split()).strip(" :：")
            cap_en = " ".join(TEMPLATES["en"][i].replace("{c}", "").split()).strip(" :")
        else:
            i = int(rng.integers(len(TEMPLATES["en"])))
            cap = TEMPLATES[lang][i].format(c=local)
            cap_en = TEMPLATES["en"][i].format(c=en)
    kind = "missing_word" if missing else "clean"
    if not missing and lang != "en" and rng.random() < cfg.code_mix_rate:
        cap = f"{cap} ({en})"
        kind += "+codemix"
    if rng.random() < cfg.filler_rate:
        j = int(rng.integers(len(FILLERS["en"])))
        if rng.random() < 0.5:
            cap, cap_en = _join(lang, cap, FILLERS[lang][j]), f"{cap_en} {FILLERS['en'][j]}"
        else:
            cap, cap_en = _join(lang, FILLERS[lang][j], cap), f"{FILLERS['en'][j]} {cap_en}"
        kind += "+filler"
    return cap, cap_en, kind


def encode_jpeg(im: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _household_picture(
    c: Country, concept: str, income: float, rng: np.random.Generator
) -> tuple[bytes, int]:
    level = render.income_level(income, rng)
    wall_index = COUNTRIES.index(c)
    im = render.render_concept(concept, level, c.region, wall_index, rng, IMAGE_SIZE)
    return encode_jpeg(im), level


def _landmark_picture(lm: Landmark, rng: np.random.Generator) -> bytes:
    return encode_jpeg(render.render_landmark(lm, rng, IMAGE_SIZE))


def base_meta(uid: str, c: Country, income: float) -> dict[str, Any]:
    return {
        "uid": uid,
        "country": c.name,
        "country_code": c.code,
        "region": c.region,
        "income": income,
        "income_bucket": income_bucket(income),
        "width": IMAGE_SIZE,
        "height": IMAGE_SIZE,
    }


# Streams: each part of the world draws from its own generator family.
STREAMS: dict[str, int] = {
    "crawl": 0,
    "western": 1,
    "dollarstreet": 2,
    "geode": 3,
    "landmarks": 4,
    "xm3600": 5,
    "scenes": 6,
    "scene_benchmarks": 7,
}


def plan_crawl(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """One crawl sample: image bytes, caption and the metadata contract."""
    rng = picture_rng(seed, STREAMS["crawl"], index)
    uid = picture_uid(seed, STREAMS["crawl"], index)
    c = COUNTRIES[int(rng.choice(len(COUNTRIES), p=WEB_P))]
    income = sample_income(c, rng, boost=cfg.crawl_income_boost)
    lang = "en" if rng.random() < english_probability(c, income, cfg) else c.language
    countries = (c.local_name if lang != "en" else c.name, c.name)
    meta = base_meta(uid, c, income)
    if rng.random() < cfg.landmark_share:
        lm = landmarks_of(c.name)[int(rng.integers(len(landmarks_of(c.name))))]
        names = (lm.local_name if lang != "en" else lm.name, lm.name)
        caption, caption_en, noise = make_caption(lang, None, names, countries, rng, cfg)
        image = _landmark_picture(lm, rng)
        meta.update(concept="landmark", landmark=lm.name, look_level=None)
    else:
        concept = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
        names = (concept.names[lang], concept.names["en"])
        caption, caption_en, noise = make_caption(lang, names, None, countries, rng, cfg)
        image, level = _household_picture(c, concept.id, income, rng)
        meta.update(concept=concept.id, landmark=None, look_level=level)
    site = _SITES[int(rng.integers(len(_SITES)))]
    meta.update(
        language=lang,
        script=LANGUAGES[lang].script,
        caption_en=caption_en,
        caption_noise=noise,
        url=f"https://{site}.example.{c.tld}/{uid[:2]}/{uid[2:14]}.jpg",
    )
    return {"key": uid, "image": image, "caption": caption, "meta": meta}


def plan_western(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A Western-benchmark picture: high-income homes of the Anglosphere and Europe."""
    rng = picture_rng(seed, STREAMS["western"], index)
    pool = [c for c in COUNTRIES if c.region in ("Anglosphere", "Europe")]
    c = pool[int(rng.integers(len(pool)))]
    income = round(
        max(sample_income(c, rng, boost=1.5, spread=0.6), 2000.0 * rng.uniform(1.0, 2.5)), 1
    )
    cls = int(rng.integers(len(CONCEPTS)))
    image, level = _household_picture(c, CONCEPTS[cls].id, income, rng)
    meta = base_meta(picture_uid(seed, STREAMS["western"], index), c, income)
    meta.update(concept=CONCEPTS[cls].id, look_level=level)
    return {"key": f"s{index:06d}", "image": image, "cls": cls, "meta": meta}


def plan_dollarstreet(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A Dollar Street-style picture: every country, every income, household objects."""
    rng = picture_rng(seed, STREAMS["dollarstreet"], index)
    c = COUNTRIES[index % len(COUNTRIES)]  # every country equally, as Dollar Street aims to
    income = sample_income(c, rng, spread=1.3)
    concept = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
    image, level = _household_picture(c, concept.id, income, rng)
    uid = picture_uid(seed, STREAMS["dollarstreet"], index)
    place = hashlib.blake2b(f"{uid}:place".encode(), digest_size=12).hexdigest()
    return {"key": uid[:24], "image": image, "country": c, "income": income, "concept": concept,
            "place": place, "level": level}  # fmt: skip


def plan_geode(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A GeoDE-style picture: objects balanced over the six GeoDE regions."""
    rng = picture_rng(seed, STREAMS["geode"], index)
    region = GEODE_REGIONS[index % len(GEODE_REGIONS)]
    pool = [c for c in COUNTRIES if c.geode_region == region]
    c = pool[int(rng.integers(len(pool)))]
    income = sample_income(c, rng)
    concept = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
    image, _level = _household_picture(c, concept.id, income, rng)
    return {"image": image, "country": c, "concept": concept, "region": region, "index": index}


def plan_landmarks(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A GLDv2-style landmark picture; landmarks take turns so each gets the same count."""
    rng = picture_rng(seed, STREAMS["landmarks"], index)
    lm_index = index % len(LANDMARKS)
    image = _landmark_picture(LANDMARKS[lm_index], rng)
    key = picture_uid(seed, STREAMS["landmarks"], index)[:16]
    return {"key": key, "image": image, "landmark_id": lm_index}


def plan_xm3600(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """An XM3600-style picture with two clean captions in every world language."""
    rng = picture_rng(seed, STREAMS["xm3600"], index)
    c = COUNTRIES[index % len(COUNTRIES)]
    income = sample_income(c, rng)
    concept = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
    image, _level = _household_picture(c, concept.id, income, rng)
    picks = rng.choice(np.arange(1, len(TEMPLATES["en"])), size=2, replace=False)
    captions = {
        lang: [TEMPLATES[lang][int(i)].format(c=concept.names[lang]) for i in picks]
        for lang in world_languages()
    }
    key = picture_uid(seed, STREAMS["xm3600"], index)[:16]
    return {"key": key, "image": image, "locale": c.language, "captions": captions,
            "country": c, "concept": concept, "income": income}  # fmt: skip


Planner = Callable[[int, int, WorldConfig], dict[str, Any]]

#: The single-object parts of the world; scenes.py adds the scenes.
PLANNERS: dict[str, Planner] = {
    "crawl": plan_crawl,
    "western": plan_western,
    "dollarstreet": plan_dollarstreet,
    "geode": plan_geode,
    "landmarks": plan_landmarks,
    "xm3600": plan_xm3600,
}
