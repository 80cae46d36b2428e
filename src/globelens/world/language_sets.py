"""The world's languages-and-cultures sets, in the layouts of the releases they stand for,
written from pictures the build already drew (so the build's time barely changes):

- ``benchmarks/babel``: Babel-ImageNet's ``babel_imagenet-298.json`` over the western set's
  classes, each world language naming them from the lexicon. Babel-ImageNet's label sets
  are partial (BabelNet lacks a word for some classes in some languages); here every
  non-English language drops a seeded fifth of the concepts (at least two kept), so the
  per-language scoring is exercised as on the release. ``EN`` names every class.
- ``benchmarks/cvqa``: CVQA's parquet: Dollar Street-style pictures ("what is this?") and
  landmarks ("which country is this landmark in?"), each asked in the place's language and
  in English, four options; a landmark's distractors are the countries of its look-alikes.
- ``benchmarks/grounding``: GlobalRG's parquet + ``answers.json``: one place-specific object
  per benchmark scene (its landmark when it has one) to box, by country.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from globelens.world.lexicon import CONCEPTS, LANDMARKS
from globelens.world.places import COUNTRY_BY_NAME, LANGUAGES
from globelens.world.scenelang import question
from globelens.world.sinks import write_text

N_OPTIONS = 4
#: share of the concepts a non-English language keeps in the babel set
BABEL_KEEP = 0.8
PARQUET = "data/test-00000-of-00001.parquet"


def _unit(seed: int, *parts: object) -> float:
    """A stable number in [0, 1) from the seed and ``parts`` (no generator state to share)."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def babel_label_sets(seed: int) -> dict[str, list[list[Any]]]:
    """``{"FR": [[class indices], [names]], ...}`` over the western set's classes."""
    out: dict[str, list[list[Any]]] = {}
    for lang in LANGUAGES:
        ranked = sorted(range(len(CONCEPTS)), key=lambda k: _unit(seed, "babel", lang, k))
        keep = len(CONCEPTS) if lang == "en" else max(2, round(BABEL_KEEP * len(CONCEPTS)))
        idx = sorted(ranked[:keep])
        out[lang.upper()] = [idx, [CONCEPTS[k].names[lang] for k in idx]]
    return out


def _choices(
    seed: int, key: str, right: int, pool: list[int], first: list[int]
) -> tuple[list[int], int]:
    """Four option ids: ``right``, the look-alikes in ``first``, then others of ``pool``;
    shuffled by the key. Returns (options, position of the right one)."""
    picks = [right, *[f for f in first if f != right]]
    rest = sorted((p for p in pool if p not in picks), key=lambda p: _unit(seed, key, p))
    opts = (picks + rest)[:N_OPTIONS]
    opts.sort(key=lambda p: _unit(seed, key, "order", p))
    return opts, opts.index(right)


def _row(key: str, image: bytes, country: str, asked: dict[str, Any]) -> dict[str, Any]:
    lang = COUNTRY_BY_NAME[country].language
    return {
        "image": {"bytes": image, "path": f"{key}.jpg"}, "ID": key,
        "Subset": str((LANGUAGES[lang].name, country)),
        "Question": asked["local"][0], "Translated Question": asked["en"][0],
        "Options": asked["local"][1], "Translated Options": asked["en"][1],
        "Label": asked["label"], "Category": asked["category"], "Image Type": "Synthetic",
        "Image Source": "globelens world", "License": "CC0",
    }  # fmt: skip


def _concept_rows(out: Path, seed: int) -> list[dict[str, Any]]:
    root = out / "benchmarks" / "dollarstreet"
    by_topic = {c.topic: k for k, c in enumerate(CONCEPTS)}
    rows = []
    with open(root / "images_v2_imagenet_test.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            k = by_topic[json.loads(r["topics"])[0]]
            country = r["country.name"]
            lang = COUNTRY_BY_NAME[country].language
            opts, label = _choices(seed, r["id"], k, list(range(len(CONCEPTS))), [])
            asked = {
                "local": (question("what is this", lang), [CONCEPTS[o].names[lang] for o in opts]),
                "en": (question("what is this", "en"), [CONCEPTS[o].english for o in opts]),
                "label": label, "category": "Objects / materials / clothing",
            }  # fmt: skip
            image = (root / r["imageRelPath"]).read_bytes()
            rows.append(_row(f"ds-{r['id']}", image, country, asked))
    return rows


def _landmark_rows(out: Path, seed: int) -> list[dict[str, Any]]:
    root = out / "benchmarks" / "landmarks"
    countries = sorted({lm.country for lm in LANDMARKS})
    cid = {c: i for i, c in enumerate(countries)}
    rows = []
    with open(root / "index.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            lm = LANDMARKS[int(r["landmark_id"])]
            alike = [cid[x.country] for x in LANDMARKS if x.family == lm.family]
            opts, label = _choices(seed, r["id"], cid[lm.country], list(cid.values()), alike)
            lang = COUNTRY_BY_NAME[lm.country].language
            names = [COUNTRY_BY_NAME[countries[o]] for o in opts]
            asked = {
                "local": (question("which", lang), [c.local_name for c in names]),
                "en": (question("which", "en"), [c.name for c in names]),
                "label": label, "category": "Landmarks",
            }  # fmt: skip
            key = r["id"]
            image = (root / "images" / key[0] / key[1] / key[2] / f"{key}.jpg").read_bytes()
            rows.append(_row(f"lm-{key}", image, lm.country, asked))
    return rows


def _grounding(out: Path) -> tuple[list[dict[str, Any]], dict[str, list[list[float]]]]:
    root = out / "benchmarks" / "coco_det"
    coco = json.loads((root / "annotations" / "instances_val2017.json").read_text("utf-8"))
    cats = {c["id"]: c for c in coco["categories"]}
    objects: dict[int, list[dict[str, Any]]] = {}
    for a in coco["annotations"]:
        objects.setdefault(a["image_id"], []).append(a)
    rows, answers = [], {}
    for im in coco["images"]:
        objs = objects.get(im["id"], [])
        if not objs:
            continue
        lms = [a for a in objs if cats[a["category_id"]]["supercategory"] == "landmark"]
        cat = (lms or objs)[0]["category_id"]
        uid = f"{im['id']:012d}_{cat}"
        image = (root / "val2017" / im["file_name"]).read_bytes()
        rows.append({"u_id": uid, "image": {"bytes": image, "path": im["file_name"]},
                     "region": im["country"], "concept": cats[cat]["name"]})  # fmt: skip
        answers[uid] = [[float(v) for v in a["bbox"]] for a in objs if a["category_id"] == cat]
    return rows, answers


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    path.write_bytes(buf.getvalue())


def write_language_sets(out: Path, seed: int) -> dict[str, Any]:
    """Write ``benchmarks/{babel,cvqa,grounding}``; returns their counts for world.json."""
    bench = out / "benchmarks"
    babel = babel_label_sets(seed)
    write_text(bench / "babel" / "babel_imagenet-298.json",
               json.dumps(babel, ensure_ascii=False, indent=1) + "\n")  # fmt: skip
    counts: dict[str, Any] = {"babel": {k.lower(): len(v[0]) for k, v in babel.items()}}
    cvqa = _concept_rows(out, seed) + _landmark_rows(out, seed)
    _write_parquet(bench / "cvqa" / PARQUET, cvqa)
    counts["cvqa"] = {"questions": len(cvqa)}
    if (bench / "coco_det" / "annotations" / "instances_val2017.json").is_file():
        rows, answers = _grounding(out)
        _write_parquet(bench / "grounding" / PARQUET, rows)
        write_text(bench / "grounding" / "answers.json", json.dumps(answers, indent=1) + "\n")
        counts["grounding"] = {"concepts": len(rows)}
    return counts
