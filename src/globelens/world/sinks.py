"""Writers of the crawl and the five classification/retrieval benchmarks, in their real
formats, with the counts world.json reports."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from globelens.data import Sample, ShardWriter
from globelens.groups import income_bucket
from globelens.world.lexicon import (
    CONCEPTS,
    LANDMARKS,
    look_alike_groups,
)
from globelens.world.places import (
    COUNTRY_BY_NAME,
    LANGUAGES,
    Country,
    world_languages,
)


class Counts:
    """Counts by region, country, language, script, income bucket, concept, landmark."""

    FIELDS = ("region", "country", "language", "script", "income_bucket", "concept", "landmark",
              "object")  # fmt: skip

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


def counts_for(c: Country, lang: str | None = None, **extra: Any) -> dict[str, Any]:
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


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def write_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


class CrawlSink:
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
        self.counts.add(**counts_for(c, m["language"], income_bucket=m["income_bucket"],
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


class WesternSink:
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
        self.counts.add(**counts_for(c, income_bucket=m["income_bucket"], concept=m["concept"]))

    def close(self) -> dict[str, Any]:
        shards = self.writer.close()
        write_text(self.dir / "classnames.txt", "".join(f"{c.english}\n" for c in CONCEPTS))
        write_text(
            self.dir / "zeroshot_classification_templates.txt",
            "".join(f"{t}\n" for t in WESTERN_TEMPLATES),
        )
        write_text(self.dir / "dataset_type.txt", "zeroshot_classification\n")
        write_text(self.dir / "test" / "nshards.txt", f"{len(shards)}\n")
        return self.counts.to_dict()


class DollarStreetSink:
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
        write_bytes(self.dir / rel, item["image"])
        self.rows.append([
            key, c.code.lower(), c.name, c.ds_region, "image", rel, item["place"],
            round(item["income"]), json.dumps([concept.topic]),
            json.dumps(list(concept.imagenet_names)), json.dumps(list(concept.synsets)),
        ])  # fmt: skip
        # About 70 % test, 30 % train, decided by the id so the split is stable.
        self.split.append("test" if int(key[:8], 16) % 10 < 7 else "train")
        self.counts.add(
            **counts_for(c, income_bucket=income_bucket(item["income"]), concept=concept.id)
        )

    def close(self) -> dict[str, Any]:
        write_csv(self.dir / "images_v2.csv", DS_COLUMNS, self.rows)
        for split in ("train", "test"):
            rows = [r for r, s in zip(self.rows, self.split, strict=True) if s == split]
            write_csv(self.dir / f"images_v2_imagenet_{split}.csv", DS_COLUMNS, rows)
        out = self.counts.to_dict()
        out["test"] = self.split.count("test")
        return out


class GeodeSink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "geode"
        self.rows: list[list[Any]] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        c: Country = item["country"]
        obj = item["concept"].id.replace(" ", "_")
        rel = f"images/{obj}/{obj}_{item['index']:06d}.jpg"
        write_bytes(self.dir / rel, item["image"])
        self.rows.append([rel, obj, item["region"], c.name])
        self.counts.add(region=item["region"], country=c.name, concept=item["concept"].id)

    def close(self) -> dict[str, Any]:
        write_csv(
            self.dir / "index.csv", ("file_path", "object", "region", "ip_country"), self.rows
        )
        return self.counts.to_dict()


class LandmarkSink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "landmarks"
        self.rows: list[list[Any]] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        key = item["key"]
        write_bytes(self.dir / "images" / key[0] / key[1] / key[2] / f"{key}.jpg", item["image"])
        self.rows.append([key, item["landmark_id"]])
        lm = LANDMARKS[item["landmark_id"]]
        self.counts.add(**counts_for(COUNTRY_BY_NAME[lm.country], landmark=lm.name))

    def close(self) -> dict[str, Any]:
        write_csv(self.dir / "index.csv", ("id", "landmark_id"), self.rows)
        cats = [
            [i, f"http://commons.wikimedia.org/wiki/Category:{lm.name.replace(' ', '_')}",
             lm.name, lm.country, lm.region]
            for i, lm in enumerate(LANDMARKS)
        ]  # fmt: skip
        write_csv(
            self.dir / "label_to_category.csv",
            ("landmark_id", "category", "name", "country", "region"),
            cats,
        )
        write_text(
            self.dir / "look_alikes.json",
            json.dumps(look_alike_groups(), indent=2, ensure_ascii=False) + "\n",
        )
        return self.counts.to_dict()


class XM3600Sink:
    def __init__(self, out: Path) -> None:
        self.dir = out / "benchmarks" / "xm3600"
        self.lines: list[str] = []
        self.counts = Counts()

    def add(self, item: dict[str, Any]) -> None:
        key = item["key"]
        write_bytes(self.dir / "images" / f"{key}.jpg", item["image"])
        record: dict[str, Any] = {"image/key": key, "image/locale": item["locale"]}
        for lang, caps in item["captions"].items():
            record[lang] = {"caption": caps}
        self.lines.append(json.dumps(record, ensure_ascii=False))
        c = item["country"]
        self.counts.add(**counts_for(c, item["locale"], income_bucket=income_bucket(item["income"]),
                                      concept=item["concept"].id))  # fmt: skip

    def close(self) -> dict[str, Any]:
        write_text(self.dir / "captions.jsonl", "".join(f"{line}\n" for line in self.lines))
        out = self.counts.to_dict()
        out["languages"] = world_languages()
        return out
