"""Build the embedded world: the training crawl, five benchmarks, world.json, a contact sheet.

Every picture is planned and drawn from its own generator, seeded by (seed, stream, index),
so pictures can be drawn in any process, in any order, and the output stays byte-identical.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from globelens.data import Sample, ShardWriter
from globelens.groups import INCOME_BUCKET_NAMES, income_bucket
from globelens.world import render
from globelens.world.lexicon import (
    CONCEPT_BY_ID,
    CONCEPTS,
    FILLERS,
    LANDMARK_TEMPLATES,
    LANDMARKS,
    NO_SPACE_LANGS,
    TEMPLATES,
    UNRELATED,
    Landmark,
    landmarks_of,
    lexicon_dict,
    look_alike_groups,
)
from globelens.world.places import (
    COUNTRIES,
    COUNTRY_BY_NAME,
    GEODE_REGIONS,
    LANGUAGES,
    REGIONS,
    Country,
    world_languages,
)

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


SIZES: dict[str, WorldSize] = {
    "tiny": WorldSize(400, 48, 96, 72, 2, 24),
    "small": WorldSize(5_000, 240, 480, 360, 6, 120),
    "default": WorldSize(30_000, 800, 1_600, 1_200, 20, 360),
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


# ------------------------------------------------------------------------------ plans


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


def _uid(seed: int, stream: int, index: int) -> str:
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


_WEB_P = np.array([c.web_weight for c in COUNTRIES]) / sum(c.web_weight for c in COUNTRIES)
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


def _encode(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _household_picture(
    c: Country, concept: str, income: float, rng: np.random.Generator
) -> tuple[bytes, int]:
    level = render.income_level(income, rng)
    wall_index = COUNTRIES.index(c)
    im = render.render_concept(concept, level, c.region, wall_index, rng, IMAGE_SIZE)
    return _encode(im), level


def _landmark_picture(lm: Landmark, rng: np.random.Generator) -> bytes:
    return _encode(render.render_landmark(lm, rng, IMAGE_SIZE))


def _base_meta(uid: str, c: Country, income: float) -> dict[str, Any]:
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
}


def plan_crawl(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """One crawl sample: image bytes, caption and the metadata contract."""
    rng = _rng(seed, STREAMS["crawl"], index)
    uid = _uid(seed, STREAMS["crawl"], index)
    c = COUNTRIES[int(rng.choice(len(COUNTRIES), p=_WEB_P))]
    income = sample_income(c, rng, boost=cfg.crawl_income_boost)
    lang = "en" if rng.random() < english_probability(c, income, cfg) else c.language
    countries = (c.local_name if lang != "en" else c.name, c.name)
    meta = _base_meta(uid, c, income)
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
    rng = _rng(seed, STREAMS["western"], index)
    pool = [c for c in COUNTRIES if c.region in ("Anglosphere", "Europe")]
    c = pool[int(rng.integers(len(pool)))]
    income = round(
        max(sample_income(c, rng, boost=1.5, spread=0.6), 2000.0 * rng.uniform(1.0, 2.5)), 1
    )
    cls = int(rng.integers(len(CONCEPTS)))
    image, level = _household_picture(c, CONCEPTS[cls].id, income, rng)
    meta = _base_meta(_uid(seed, STREAMS["western"], index), c, income)
    meta.update(concept=CONCEPTS[cls].id, look_level=level)
    return {"key": f"s{index:06d}", "image": image, "cls": cls, "meta": meta}


def plan_dollarstreet(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A Dollar Street-style picture: every country, every income, household objects."""
    rng = _rng(seed, STREAMS["dollarstreet"], index)
    c = COUNTRIES[index % len(COUNTRIES)]  # every country equally, as Dollar Street aims to
    income = sample_income(c, rng, spread=1.3)
    concept = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
    image, level = _household_picture(c, concept.id, income, rng)
    uid = _uid(seed, STREAMS["dollarstreet"], index)
    place = hashlib.blake2b(f"{uid}:place".encode(), digest_size=12).hexdigest()
    return {"key": uid[:24], "image": image, "country": c, "income": income, "concept": concept,
            "place": place, "level": level}  # fmt: skip


def plan_geode(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A GeoDE-style picture: objects balanced over the six GeoDE regions."""
    rng = _rng(seed, STREAMS["geode"], index)
    region = GEODE_REGIONS[index % len(GEODE_REGIONS)]
    pool = [c for c in COUNTRIES if c.geode_region == region]
    c = pool[int(rng.integers(len(pool)))]
    income = sample_income(c, rng)
    concept = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
    image, _level = _household_picture(c, concept.id, income, rng)
    return {"image": image, "country": c, "concept": concept, "region": region, "index": index}


def plan_landmarks(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A GLDv2-style landmark picture; landmarks take turns so each gets the same count."""
    rng = _rng(seed, STREAMS["landmarks"], index)
    lm_index = index % len(LANDMARKS)
    image = _landmark_picture(LANDMARKS[lm_index], rng)
    key = _uid(seed, STREAMS["landmarks"], index)[:16]
    return {"key": key, "image": image, "landmark_id": lm_index}


def plan_xm3600(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """An XM3600-style picture with two clean captions in every world language."""
    rng = _rng(seed, STREAMS["xm3600"], index)
    c = COUNTRIES[index % len(COUNTRIES)]
    income = sample_income(c, rng)
    concept = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
    image, _level = _household_picture(c, concept.id, income, rng)
    picks = rng.choice(np.arange(1, len(TEMPLATES["en"])), size=2, replace=False)
    captions = {
        lang: [TEMPLATES[lang][int(i)].format(c=concept.names[lang]) for i in picks]
        for lang in world_languages()
    }
    key = _uid(seed, STREAMS["xm3600"], index)[:16]
    return {"key": key, "image": image, "locale": c.language, "captions": captions,
            "country": c, "concept": concept, "income": income}  # fmt: skip


PLANNERS: dict[str, Callable[[int, int, WorldConfig], dict[str, Any]]] = {
    "crawl": plan_crawl,
    "western": plan_western,
    "dollarstreet": plan_dollarstreet,
    "geode": plan_geode,
    "landmarks": plan_landmarks,
    "xm3600": plan_xm3600,
}


def _work(job: tuple[str, int, int, WorldConfig]) -> dict[str, Any]:
    stream, seed, index, cfg = job
    return PLANNERS[stream](seed, index, cfg)


# ------------------------------------------------------------------------------ counts


class Counts:
    """Counts by region, country, language, script, income bucket, concept, landmark."""

    FIELDS = ("region", "country", "language", "script", "income_bucket", "concept", "landmark")

    def __init__(self) -> None:
        self.total = 0
        self.by: dict[str, Counter[str]] = {f: Counter() for f in self.FIELDS}

    def add(self, **values: Any) -> None:
        self.total += 1
        for k, v in values.items():
            if v is not None:
                self.by[k][str(v)] += 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"total": self.total}
        for k, counter in self.by.items():
            if counter:
                out[f"by_{k}"] = dict(sorted(counter.items()))
        return out


def _counts_for(c: Country, lang: str | None = None, **extra: Any) -> dict[str, Any]:
    values = {"region": c.region, "country": c.name, **extra}
    if lang is not None:
        values.update(language=lang, script=LANGUAGES[lang].script)
    return values


# ----------------------------------------------------------------------------- writers

WESTERN_TEMPLATES = (
    "a photo of a {c}.",
    "a bad photo of a {c}.",
    "a photo of the large {c}.",
    "a photo of the small {c}.",
    "a close-up photo of a {c}.",
    "a bright photo of a {c}.",
    "a cropped photo of a {c}.",
    "itap of a {c}.",
)

DS_COLUMNS = (
    "id", "country.id", "country.name", "region.id", "type", "imageRelPath", "place",
    "income", "topics", "imagenet_synonyms", "imagenet_sysnet_id",
)  # fmt: skip


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _write_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


class _CrawlSink:
    def __init__(self, out: Path, maxcount: int) -> None:
        self.writer = ShardWriter(out / "crawl", maxcount=maxcount)
        self.counts = Counts()
        self.english_by_region: Counter[str] = Counter()

    def add(self, item: dict[str, Any]) -> None:
        m = item["meta"]
        self.writer.write(
            Sample(key=item["key"], image_bytes=item["image"], caption=item["caption"], meta=m)
        )
        c = COUNTRY_BY_NAME[m["country"]]
        self.counts.add(**_counts_for(c, m["language"], income_bucket=m["income_bucket"],
                                      concept=m["concept"], landmark=m["landmark"]))  # fmt: skip
        if m["language"] == "en":
            self.english_by_region[m["region"]] += 1

    def close(self) -> dict[str, Any]:
        shards = self.writer.close()
        out = self.counts.to_dict()
        out["shards"] = len(shards)
        out["english_share_by_region"] = {
            r: round(self.english_by_region[r] / n, 4)
            for r, n in sorted(self.counts.by["region"].items())
        }
        return out


class _WesternSink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "western"
        self.writer = ShardWriter(self.dir / "test", maxcount=10**9, name_format="{}")
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        m = item["meta"]
        extras = {"cls": str(item["cls"]).encode()}
        self.writer.write(
            Sample(key=item["key"], image_bytes=item["image"], caption=None, meta=m, extras=extras)
        )
        c = COUNTRY_BY_NAME[m["country"]]
        self.counts.add(**_counts_for(c, income_bucket=m["income_bucket"], concept=m["concept"]))

    def close(self) -> dict[str, Any]:
        shards = self.writer.close()
        _write_text(self.dir / "classnames.txt", "".join(f"{c.english}\n" for c in CONCEPTS))
        _write_text(
            self.dir / "zeroshot_classification_templates.txt",
            "".join(f"{t}\n" for t in WESTERN_TEMPLATES),
        )
        _write_text(self.dir / "dataset_type.txt", "zeroshot_classification\n")
        _write_text(self.dir / "test" / "nshards.txt", f"{len(shards)}\n")
        return self.counts.to_dict()


class _DollarStreetSink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "dollarstreet"
        self.rows: list[list[Any]] = []
        self.split: list[str] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        c: Country = item["country"]
        concept = item["concept"]
        key = item["key"]
        rel = f"assets/{key}/{concept.id.replace(' ', '_')}-{key[:8]}.jpg"
        _write_bytes(self.dir / rel, item["image"])
        self.rows.append([
            key, c.code.lower(), c.name, c.ds_region, "image", rel, item["place"],
            round(item["income"]), json.dumps([concept.topic]),
            json.dumps(list(concept.imagenet_names)), json.dumps(list(concept.synsets)),
        ])  # fmt: skip
        # About 70 % test, 30 % train, decided by the id so the split is stable.
        self.split.append("test" if int(key[:8], 16) % 10 < 7 else "train")
        self.counts.add(
            **_counts_for(c, income_bucket=income_bucket(item["income"]), concept=concept.id)
        )

    def close(self) -> dict[str, Any]:
        _write_csv(self.dir / "images_v2.csv", DS_COLUMNS, self.rows)
        for split in ("train", "test"):
            rows = [r for r, s in zip(self.rows, self.split, strict=True) if s == split]
            _write_csv(self.dir / f"images_v2_imagenet_{split}.csv", DS_COLUMNS, rows)
        out = self.counts.to_dict()
        out["test"] = self.split.count("test")
        return out


class _GeodeSink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "geode"
        self.rows: list[list[Any]] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        c: Country = item["country"]
        obj = item["concept"].id.replace(" ", "_")
        rel = f"images/{obj}/{obj}_{item['index']:06d}.jpg"
        _write_bytes(self.dir / rel, item["image"])
        self.rows.append([rel, obj, item["region"], c.name])
        self.counts.add(region=item["region"], country=c.name, concept=item["concept"].id)

    def close(self) -> dict[str, Any]:
        _write_csv(
            self.dir / "index.csv", ("file_path", "object", "region", "ip_country"), self.rows
        )
        return self.counts.to_dict()


class _LandmarkSink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "landmarks"
        self.rows: list[list[Any]] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        key = item["key"]
        _write_bytes(self.dir / "images" / key[0] / key[1] / key[2] / f"{key}.jpg", item["image"])
        self.rows.append([key, item["landmark_id"]])
        lm = LANDMARKS[item["landmark_id"]]
        self.counts.add(**_counts_for(COUNTRY_BY_NAME[lm.country], landmark=lm.name))

    def close(self) -> dict[str, Any]:
        _write_csv(self.dir / "index.csv", ("id", "landmark_id"), self.rows)
        cats = [
            [i, f"http://commons.wikimedia.org/wiki/Category:{lm.name.replace(' ', '_')}",
             lm.name, lm.country, lm.region]
            for i, lm in enumerate(LANDMARKS)
        ]  # fmt: skip
        _write_csv(
            self.dir / "label_to_category.csv",
            ("landmark_id", "category", "name", "country", "region"),
            cats,
        )
        _write_text(
            self.dir / "look_alikes.json",
            json.dumps(look_alike_groups(), indent=2, ensure_ascii=False) + "\n",
        )
        return self.counts.to_dict()


class _XM3600Sink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "xm3600"
        self.lines: list[str] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        key = item["key"]
        _write_bytes(self.dir / "images" / f"{key}.jpg", item["image"])
        record: dict[str, Any] = {"image/key": key, "image/locale": item["locale"]}
        for lang, caps in item["captions"].items():
            record[lang] = {"caption": caps}
        self.lines.append(json.dumps(record, ensure_ascii=False))
        c = item["country"]
        self.counts.add(**_counts_for(c, item["locale"], income_bucket=income_bucket(item["income"]),
                                      concept=item["concept"].id))  # fmt: skip

    def close(self) -> dict[str, Any]:
        _write_text(self.dir / "captions.jsonl", "".join(f"{line}\n" for line in self.lines))
        out = self.counts.to_dict()
        out["languages"] = world_languages()
        return out


# ------------------------------------------------------------------------ contact sheet

# A representative country per region for the contact sheet, and incomes inside each bucket.
_SHEET_COUNTRY = {
    "Africa": "Kenya", "Americas": "Mexico", "EastAsia": "China", "Europe": "Germany",
    "SouthEastAsia": "Indonesia", "WestAsia": "Iran", "Anglosphere": "United States",
}  # fmt: skip
_SHEET_INCOMES = (90.0, 420.0, 1200.0, 5000.0)
_SHEET_CONCEPTS = ("stove", "lamp", "toilet")
_SHEET_LANDMARKS = ("milad_tower", "cn_tower", "se_cathedral", "notre_dame_montreal",
                    "eiffel_tower", "tokyo_tower", "giza_pyramids", "chichen_itza")  # fmt: skip


def _ascii(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def contact_sheet(seed: int) -> Image.Image:
    """Pictures by region (rows) and income bucket (columns), plus look-alike landmarks."""
    t = IMAGE_SIZE
    label_w, head_h, gap = 120, 22, 6
    cell_w = len(_SHEET_CONCEPTS) * t + gap
    width = label_w + len(_SHEET_INCOMES) * cell_w
    lm_row = head_h + t + 20
    height = head_h + len(REGIONS) * (t + 2) + lm_row
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    font, small = _font(13), _font(11)
    for j, name in enumerate(INCOME_BUCKET_NAMES):
        d.text(
            (label_w + j * cell_w + 4, 4),
            f"{name} /month: {', '.join(_SHEET_CONCEPTS)}",
            fill=(0, 0, 0),
            font=font,
        )
    for i, region in enumerate(REGIONS):
        c = COUNTRY_BY_NAME[_SHEET_COUNTRY[region]]
        y = head_h + i * (t + 2)
        d.text((4, y + t // 2 - 16), region, fill=(0, 0, 0), font=font)
        d.text((4, y + t // 2 + 2), f"({c.name}, {c.language})", fill=(80, 80, 80), font=small)
        for j, income in enumerate(_SHEET_INCOMES):
            for k, concept in enumerate(_SHEET_CONCEPTS):
                rng = _rng(seed, 100 + i, j * 10 + k)
                level = render.income_level(income, rng)
                im = render.render_concept(concept, level, region, COUNTRIES.index(c), rng, t)
                sheet.paste(im, (label_w + j * cell_w + k * t, y))
    y = head_h + len(REGIONS) * (t + 2) + 14
    d.text((4, y + t // 2 - 8), "look-alike\nlandmarks", fill=(0, 0, 0), font=font)
    for k, lid in enumerate(_SHEET_LANDMARKS):
        lm = next(x for x in LANDMARKS if x.id == lid)
        x = label_w + k * (t + 24)
        sheet.paste(render.render_landmark(lm, _rng(seed, 200, k), t), (x, y))
        d.text((x, y - 13), _ascii(lm.name)[:20], fill=(0, 0, 0), font=small)
        d.text((x, y + t + 1), f"({lm.country})", fill=(80, 80, 80), font=small)
    return sheet


# ------------------------------------------------------------------------------- build


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
    from tqdm import tqdm

    cfg = config or WorldConfig()
    ws = resolve_size(size)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pass overwrite=True to replace it")
        if not (out / "world.json").exists():
            raise FileExistsError(
                f"{out} is not empty and holds no world.json: refusing to delete it"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    n_landmarks = ws.landmarks_per_landmark * len(LANDMARKS)
    parts: list[tuple[str, int, Any]] = [
        ("crawl", ws.crawl, _CrawlSink(out, maxcount=5_000)),
        ("western", ws.western, _WesternSink(out)),
        ("dollarstreet", ws.dollarstreet, _DollarStreetSink(out)),
        ("geode", ws.geode, _GeodeSink(out)),
        ("landmarks", n_landmarks, _LandmarkSink(out)),
        ("xm3600", ws.xm3600, _XM3600Sink(out)),
    ]
    total = sum(n for _, n, _ in parts)
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if total >= 2_000 else 1
    pool = None
    if workers > 1:
        import multiprocessing as mp

        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        pool = mp.get_context(method).Pool(workers)
    summary_parts: dict[str, Any] = {}
    try:
        bar = tqdm(total=total, desc="world", unit="img", disable=not progress, smoothing=0.1)
        for stream, n, sink in parts:
            bar.set_postfix_str(stream)
            jobs = _jobs(stream, n, seed, cfg)
            results = pool.imap(_work, jobs, chunksize=64) if pool else map(_work, jobs)
            for item in results:
                sink.add(item)
                bar.update(1)
            summary_parts[stream] = sink.close()
        bar.close()
    finally:
        if pool is not None:
            pool.close()
            pool.join()

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
            "jpeg_quality": JPEG_QUALITY,
            "config": asdict(cfg),
        },
        "regions": list(REGIONS),
        "countries": [{**asdict(c), "script": c.script} for c in COUNTRIES],
        "languages": {k: asdict(v) for k, v in LANGUAGES.items()},
        "income_buckets": list(INCOME_BUCKET_NAMES),
        "counts": summary_parts,
        "lexicon": lexicon_dict(),
    }
    _write_text(
        out / "world.json", json.dumps(summary, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    )
    return summary


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
