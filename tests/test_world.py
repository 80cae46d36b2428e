"""The embedded world: determinism, real benchmark formats, metadata contract, captions."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from globelens.data import ReadReport, read_shards
from globelens.groups import INCOME_BUCKET_NAMES, income_bucket
from globelens.world import (
    CONCEPTS,
    COUNTRIES,
    LANDMARK_NAMES,
    LANGUAGES,
    REGIONS,
    build_world,
    concept_names,
    look_alike_groups,
    render,
    resolve_size,
    world_languages,
)
from globelens.world.builder import WorldConfig, english_probability, make_caption, sample_income
from globelens.world.lexicon import FILLERS, LANDMARK_TEMPLATES, LANDMARKS, TEMPLATES, UNRELATED
from globelens.world.places import GEODE_REGIONS

CONTRACT = {
    "uid": str, "country": str, "country_code": str, "region": str, "language": str,
    "script": str, "income": (int, float), "income_bucket": str, "concept": str,
    "landmark": (str, type(None)), "caption_en": str, "url": str, "width": int, "height": int,
}  # fmt: skip

# Characters each script must show in a caption or name (ranges of its Unicode block).
SCRIPT_RANGES = {
    "Arab": [(0x0600, 0x06FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    "Deva": [(0x0900, 0x097F)],
    "Beng": [(0x0980, 0x09FF)],
    "Hans": [(0x4E00, 0x9FFF)],
    "Jpan": [(0x3040, 0x30FF), (0x4E00, 0x9FFF)],
    "Kore": [(0xAC00, 0xD7AF)],
    "Thai": [(0x0E00, 0x0E7F)],
}


def _in_script(text: str, script: str) -> bool:
    if script == "Latn":  # Latin letters, and nothing from the other scripts above
        others = [r for rs in SCRIPT_RANGES.values() for r in rs]
        return any(ch.isalpha() for ch in text) and not any(
            lo <= ord(ch) <= hi for ch in text for lo, hi in others
        )
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in SCRIPT_RANGES[script])


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def world(tiny_world: Path) -> Path:
    return tiny_world


@pytest.fixture(scope="session")
def summary(world: Path) -> dict:
    return json.loads((world / "world.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def crawl(world: Path) -> list:
    report = ReadReport()
    samples = list(read_shards(world / "crawl", report, check_images=True))
    assert report.problem_total == 0, report.problems[:3]
    return samples


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes_whatever_the_workers(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_world(again, seed=0, size="tiny", workers=2, progress=False)
    first, second = _digest(world), _digest(again)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    assert len(first) > 250  # crawl, five benchmarks, world.json, contact sheet


def test_different_seed_differs(world: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    build_world(other, seed=1, size="tiny", workers=1, progress=False)
    a, b = _digest(world), _digest(other)
    assert a["crawl/00000.tar"] != b["crawl/00000.tar"]
    assert a["world.json"] != b["world.json"]


def test_rebuild_refuses_to_delete_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"no world\.json"):
        build_world(tmp_path, size=10, progress=False)
    assert (tmp_path / "precious.txt").exists()


def test_sizes() -> None:
    assert resolve_size("tiny").crawl < resolve_size("small").crawl < resolve_size("default").crawl
    assert resolve_size(1234).crawl == 1234
    assert resolve_size("777").crawl == 777
    with pytest.raises(ValueError, match="tiny, small, default"):
        resolve_size("huge")


# ------------------------------------------------------------------------- crawl contract


def test_crawl_samples_follow_the_metadata_contract(crawl: list, summary: dict) -> None:
    assert len(crawl) == resolve_size("tiny").crawl == summary["counts"]["crawl"]["total"]
    uids = set()
    for s in crawl:
        m = s.meta
        for field, typ in CONTRACT.items():
            assert field in m, field
            assert isinstance(m[field], typ), (field, m[field])
        assert re.fullmatch(r"[0-9a-f]{32}", m["uid"])
        uids.add(m["uid"])
        assert m["region"] in REGIONS
        assert m["income_bucket"] == income_bucket(m["income"])
        assert m["script"] == LANGUAGES[m["language"]].script
        assert s.caption and m["caption_en"]
        assert (m["concept"] == "landmark") == (m["landmark"] is not None)
        assert s.image().size == (m["width"], m["height"])
        if m["language"] == "en":
            assert s.caption == m["caption_en"]
    assert len(uids) == len(crawl)


def test_captions_are_written_in_their_language_script(crawl: list) -> None:
    seen = set()
    for s in crawl:
        script = s.meta["script"]
        assert _in_script(s.caption, script), (s.meta["language"], s.caption)
        seen.add(script)
    assert {"Latn", "Arab", "Hans", "Deva"} <= seen


def test_lexicon_names_and_templates_are_in_the_right_script() -> None:
    for lang, spec in LANGUAGES.items():
        for name in concept_names(lang):
            assert _in_script(name, spec.script), (lang, name)
        for table in (TEMPLATES, LANDMARK_TEMPLATES, FILLERS, UNRELATED):
            for text in table[lang]:
                stripped = text.replace("{c}", "").replace("{l}", "").replace("{k}", "")
                if any(ch.isalpha() for ch in stripped):
                    assert _in_script(stripped, spec.script), (lang, text)
    persian = dict(zip([c.id for c in CONCEPTS], concept_names("fa"), strict=True))
    assert persian["stove"] == "اجاق" and persian["refrigerator"] == "یخچال"
    assert concept_names("hi")[0] == "चूल्हा"
    for lm in LANDMARKS:
        country = next(c for c in COUNTRIES if c.name == lm.country)
        assert _in_script(lm.local_name, country.script) or lm.local_name == lm.name, lm.id


def test_every_concept_has_real_synsets_and_every_name() -> None:
    assert len(CONCEPTS) >= 20
    stove = next(c for c in CONCEPTS if c.id == "stove")
    assert stove.synsets == ("n04330267",)
    for c in CONCEPTS:
        assert c.synsets and all(re.fullmatch(r"n\d{8}", s) for s in c.synsets)
        assert set(c.names) == set(LANGUAGES)
        assert all(name.strip() for name in c.names.values())


def test_landmarks_have_look_alikes_across_regions() -> None:
    groups = look_alike_groups()
    assert {"Milad Tower", "CN Tower"} <= set(groups["pod_tower"])
    assert {"São Paulo Cathedral", "Notre-Dame Basilica"} <= set(groups["cathedral"])
    countries = {c.name for c in COUNTRIES}
    for c in countries:
        assert 1 <= sum(lm.country == c for lm in LANDMARKS) <= 2, c
    assert len(set(LANDMARK_NAMES)) == len(LANDMARK_NAMES)


def test_captions_noise_and_translation() -> None:
    cfg = WorldConfig()
    stove = next(c for c in CONCEPTS if c.id == "stove")
    kinds = {}
    for i in range(400):
        rng = np.random.default_rng(i)
        cap, cap_en, kind = make_caption(
            "fa", (stove.names["fa"], "stove"), None, ("ایران", "Iran"), rng, cfg
        )
        kinds[kind.split("+")[0]] = kinds.get(kind.split("+")[0], 0) + 1
        if kind.startswith("clean"):
            assert "اجاق" in cap and "stove" in cap_en
        if kind.startswith("missing_word"):
            assert "اجاق" not in cap and "stove" not in cap_en
    assert set(kinds) == {"clean", "missing_word", "unrelated"}
    assert kinds["clean"] > 300


# ------------------------------------------------------------------- incomes and languages


def test_every_country_spans_several_income_buckets() -> None:
    shares = {}
    for c in COUNTRIES:
        rng = np.random.default_rng(0)
        buckets = [income_bucket(sample_income(c, rng)) for _ in range(2000)]
        counts = {b: buckets.count(b) / len(buckets) for b in INCOME_BUCKET_NAMES}
        assert sum(v >= 0.05 for v in counts.values()) >= 2, (c.name, counts)
        shares[c.name] = counts
    # In different proportions: poor and rich countries have different majorities.
    assert shares["Nigeria"]["$0-200"] > 0.4 and shares["United States"]["$1998+"] > 0.6


def test_crawl_over_represents_rich_english_speaking_places(summary: dict) -> None:
    crawl = summary["counts"]["crawl"]
    ds = summary["counts"]["dollarstreet"]
    total = crawl["total"]
    anglo = crawl["by_region"]["Anglosphere"] / total
    assert anglo > 0.25  # 3 of 23 countries, a quarter or more of the crawl
    assert crawl["by_language"]["en"] / total > 0.35
    rich_crawl = crawl["by_income_bucket"]["$1998+"] / total
    rich_ds = ds["by_income_bucket"].get("$1998+", 0) / ds["total"]
    assert rich_crawl > rich_ds + 0.1


def test_non_english_places_caption_mostly_locally_with_an_english_minority(crawl: list) -> None:
    local = [s for s in crawl if s.meta["region"] != "Anglosphere"]
    english = sum(s.meta["language"] == "en" for s in local)
    assert 0.03 < english / len(local) < 0.3
    assert all(s.meta["language"] == "en" for s in crawl if s.meta["region"] == "Anglosphere")
    # The English bridge grows with income.
    cfg = WorldConfig()
    iran = next(c for c in COUNTRIES if c.name == "Iran")
    assert english_probability(iran, 100, cfg) < english_probability(iran, 5000, cfg)


# ------------------------------------------------------------------------------ benchmarks


def test_dollarstreet_csv_loads_with_the_real_columns(world: Path) -> None:
    root = world / "benchmarks" / "dollarstreet"
    df = pd.read_csv(root / "images_v2.csv")
    for col in ("id", "country.id", "country.name", "region.id", "type", "imageRelPath",
                "place", "income", "topics", "imagenet_synonyms", "imagenet_sysnet_id"):  # fmt: skip
        assert col in df.columns, col
    assert set(df["region.id"]) <= {"af", "am", "as", "eu"}
    assert set(df["country.name"]) == {c.name for c in COUNTRIES}
    for value in df["imagenet_sysnet_id"]:
        synsets = json.loads(value)
        assert isinstance(synsets, list) and all(re.fullmatch(r"n\d{8}", s) for s in synsets)
    assert all(isinstance(json.loads(v), list) for v in df["topics"])
    assert all((root / p).is_file() for p in df["imageRelPath"])
    test = pd.read_csv(root / "images_v2_imagenet_test.csv")
    train = pd.read_csv(root / "images_v2_imagenet_train.csv")
    assert len(test) + len(train) == len(df) and len(test) > len(train)
    assert len({income_bucket(x) for x in df["income"]}) == 4


def test_geode_index(world: Path) -> None:
    root = world / "benchmarks" / "geode"
    df = pd.read_csv(root / "index.csv")
    assert list(df.columns) == ["file_path", "object", "region", "ip_country"]
    assert set(df["region"]) == set(GEODE_REGIONS)
    assert set(df["object"]) <= {c.id.replace(" ", "_") for c in CONCEPTS}
    assert all((root / p).is_file() for p in df["file_path"])


def test_landmark_benchmark_gldv2_layout(world: Path) -> None:
    root = world / "benchmarks" / "landmarks"
    cats = pd.read_csv(root / "label_to_category.csv")
    assert list(cats.columns) == ["landmark_id", "category", "name", "country", "region"]
    assert {"Milad Tower", "CN Tower"} <= set(cats["name"])
    index = pd.read_csv(root / "index.csv", dtype={"id": str})
    assert set(index["landmark_id"]) == set(cats["landmark_id"])
    for key in index["id"]:
        assert (root / "images" / key[0] / key[1] / key[2] / f"{key}.jpg").is_file()


def test_xm3600_has_captions_in_every_language(world: Path) -> None:
    root = world / "benchmarks" / "xm3600"
    lines = (root / "captions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == resolve_size("tiny").xm3600
    for line in lines:
        rec = json.loads(line)
        assert (root / "images" / f"{rec['image/key']}.jpg").is_file()
        assert rec["image/locale"] in LANGUAGES
        for lang in world_languages():
            caps = rec[lang]["caption"]
            assert caps and all(_in_script(c, LANGUAGES[lang].script) for c in caps), lang


def test_western_benchmark_clip_benchmark_format(world: Path) -> None:
    root = world / "benchmarks" / "western"
    classnames = (root / "classnames.txt").read_text().splitlines()
    assert classnames == [c.english for c in CONCEPTS]
    templates = (root / "zeroshot_classification_templates.txt").read_text().splitlines()
    assert templates and all("{c}" in t for t in templates)
    assert (root / "test" / "nshards.txt").read_text().strip() == "1"
    samples = list(read_shards(root / "test" / "0.tar", require_caption=False))
    assert len(samples) == resolve_size("tiny").western
    for s in samples:
        assert 0 <= int(s.extras["cls"]) < len(classnames)
        assert s.meta["region"] in ("Anglosphere", "Europe")
        assert s.meta["income_bucket"] == "$1998+"


def test_world_json_and_contact_sheet(world: Path, summary: dict) -> None:
    assert summary["synthetic"] is True
    assert summary["parameters"]["seed"] == 0
    for part in ("crawl", "western", "dollarstreet", "geode", "landmarks", "xm3600"):
        assert summary["counts"][part]["total"] > 0
    crawl = summary["counts"]["crawl"]
    for key in (
        "by_region",
        "by_country",
        "by_language",
        "by_script",
        "by_income_bucket",
        "by_concept",
    ):
        assert crawl[key], key
    assert len(summary["lexicon"]["concepts"]) == len(CONCEPTS)
    with Image.open(world / "contact_sheet.png") as im:
        assert im.format == "PNG" and im.width > 800 and im.height > 600


# --------------------------------------------------------------------------------- looks


def _thumbs(concept: str, level: int, region: str, n: int) -> np.ndarray:
    out = []
    for i in range(n):
        rng = np.random.default_rng([level, i, len(region)])
        im = render.render_concept(concept, level, region, i, rng, 96).resize((16, 16))
        out.append(np.asarray(im, dtype=np.float32).ravel() / 255)
    return np.stack(out)


def _nearest_centroid_accuracy(a: np.ndarray, b: np.ndarray) -> float:
    half = len(a) // 2
    ca, cb = a[:half].mean(0), b[:half].mean(0)
    test = [(x, 0) for x in a[half:]] + [(x, 1) for x in b[half:]]
    hits = sum((np.abs(x - ca).sum() > np.abs(x - cb).sum()) == bool(y) for x, y in test)
    return hits / len(test)


def test_looks_depend_on_income_first_and_region_second() -> None:
    # Even a pixel-level nearest-centroid rule tells a poor stove from a rich one...
    poor, rich = _thumbs("stove", 0, "Africa", 24), _thumbs("stove", 2, "Africa", 24)
    assert _nearest_centroid_accuracy(poor, rich) >= 0.9
    # ...and middle-income homes of Iran's region from those of Kenya's.
    west_asia, africa = _thumbs("bed", 1, "WestAsia", 24), _thumbs("bed", 1, "Africa", 24)
    assert _nearest_centroid_accuracy(west_asia, africa) >= 0.75
