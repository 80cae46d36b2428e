"""Scenes for the generative half: what each scene shows and its task targets.

A scene is one to four objects of a household (concepts at the place's income) or a landmark
of the country with things in front of it. From the renderer's exact masks come COCO-style
objects (box, compressed RLE, area); from the lexicon come captions in the place's language
and English, VQAv2-style questions with ten simulated annotators' answers, and referring
expressions ("the lamp left of the bed") in both languages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

import globelens.world.render as render
from globelens.world.config import JPEG_QUALITY, WorldConfig
from globelens.world.lexicon import (
    CONCEPT_BY_ID,
    CONCEPTS,
    LANDMARK_BY_ID,
    LANDMARK_TEMPLATES,
    LANDMARKS,
    TEMPLATES,
    landmarks_of,
)
from globelens.world.places import COUNTRIES, Country
from globelens.world.plans import (
    STREAMS,
    WEB_P,
    base_meta,
    encode_jpeg,
    picture_rng,
    picture_uid,
    sample_income,
)
from globelens.world.render import ObjectSpec, Scene, SceneObject
from globelens.world.scenelang import (
    ANSWER_TYPES,
    COLOR_NAMES,
    REF_TEMPLATES,
    join_names,
    question,
)

#: Scene pictures are 64 px: tiny PaliGemma models read 48-64 px, so nothing is upsampled,
#: and one to four objects still get boxes of 10-60 px.
SCENE_SIZE = 64
LANDMARK_SCENE_SHARE = 0.2
_OBJECT_COUNTS, _OBJECT_COUNT_P = (1, 2, 3, 4), (0.3, 0.3, 0.25, 0.15)
_INDOOR = tuple(c.id for c in CONCEPTS if render.CONCEPT_DRAWERS[c.id][3])
_OUTDOOR = tuple(c.id for c in CONCEPTS if not render.CONCEPT_DRAWERS[c.id][3])

#: COCO categories: the concepts in lexicon order, then the landmarks; ids from 1.
CATEGORIES: list[dict[str, Any]] = [
    *({"id": i + 1, "name": c.english, "supercategory": "household"}
      for i, c in enumerate(CONCEPTS)),
    *({"id": len(CONCEPTS) + i + 1, "name": lm.name, "supercategory": "landmark"}
      for i, lm in enumerate(LANDMARKS)),
]  # fmt: skip
_CATEGORY_ID = {
    **{("concept", c.id): i + 1 for i, c in enumerate(CONCEPTS)},
    **{("landmark", lm.id): len(CONCEPTS) + i + 1 for i, lm in enumerate(LANDMARKS)},
}


def category_id(spec: ObjectSpec) -> int:
    return _CATEGORY_ID[(spec.kind, spec.name)]


def object_name(spec: ObjectSpec, lang: str) -> str:
    """The object's name in ``lang`` (a landmark: English or its local name)."""
    if spec.kind == "concept":
        return CONCEPT_BY_ID[spec.name].names[lang]
    lm = LANDMARK_BY_ID[spec.name]
    return lm.name if lang == "en" else lm.local_name


def country_name(c: Country, lang: str) -> str:
    return c.name if lang == "en" else c.local_name


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE of a bool (H, W) mask, ``counts`` as a str (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode()}


# ------------------------------------------------------------------------------ choose


def choose_objects(
    c: Country, income: float, rng: np.random.Generator
) -> tuple[list[ObjectSpec], int]:
    """The scene's objects and the household's income level (drawn in this order)."""
    level = render.income_level(income, rng)
    if rng.random() < LANDMARK_SCENE_SHARE:
        lms = landmarks_of(c.name)
        first = lms[int(rng.integers(len(lms)))]
        specs = [ObjectSpec("landmark", first.id, 0)]
        if len(lms) > 1 and rng.random() < 0.2:
            specs.append(ObjectSpec("landmark", next(x for x in lms if x is not first).id, 0))
        for _ in range(int(rng.integers(0, 3))):
            name = _OUTDOOR[int(rng.integers(len(_OUTDOOR)))]
            specs.append(ObjectSpec("concept", name, render.income_level(income, rng)))
        return specs, level
    n = int(rng.choice(_OBJECT_COUNTS, p=_OBJECT_COUNT_P))
    names: list[str] = []
    for _ in range(n):
        if names and rng.random() < 0.3:  # a second one of something: something to count
            names.append(names[int(rng.integers(len(names)))])
        else:
            names.append(_INDOOR[int(rng.integers(len(_INDOOR)))])
    return [ObjectSpec("concept", x, render.income_level(income, rng)) for x in names], level


# ----------------------------------------------------------------------------- targets


def _left_to_right(objects: list[SceneObject]) -> list[SceneObject]:
    return sorted(objects, key=lambda o: o.center_x)


def captions_for(
    objects: list[SceneObject], lang: str, c: Country, rng: np.random.Generator
) -> list[str]:
    """Clean captions of a scene in ``lang``: its objects named left to right."""
    ordered = _left_to_right(objects)
    names = list(dict.fromkeys(object_name(o.spec, lang) for o in ordered))
    landmark = next((o for o in ordered if o.spec.kind == "landmark"), None)
    if landmark is not None:
        lname = object_name(landmark.spec, lang)
        out = [t.format(l=lname, k=country_name(c, lang)) for t in LANDMARK_TEMPLATES[lang]]
        if len(names) > 1:
            out.append(join_names(lang, names))
        return out
    out = []
    for i, template in enumerate(TEMPLATES[lang]):
        shown = names if i % 2 == 0 else [names[j] for j in rng.permutation(len(names))]
        out.append(template.format(c=join_names(lang, shown)))
    return out


def _answers(main: str, alts: list[str], p_alt: float, rng: np.random.Generator) -> list[str]:
    """Ten annotators: most give ``main``, some a plausible other answer (as in VQAv2).

    Answers are lower-case, as VQAv2's are: its scorer leaves the human answers as they are
    when all ten agree, so "Machu Picchu" would match no normalised prediction.
    """
    main, alts = main.lower(), [a.lower() for a in alts]
    return [
        alts[int(rng.integers(len(alts)))] if alts and rng.random() < p_alt else main
        for _ in range(10)
    ]


def _look_alikes(lm_id: str) -> list[str]:
    lm = LANDMARK_BY_ID[lm_id]
    return [x.id for x in LANDMARKS if x.family == lm.family and x.id != lm_id]


def _what(o: SceneObject, n: int, lang: str, c: Country, rng: np.random.Generator) -> list[str]:
    main = object_name(o.spec, lang)
    alts: list[str] = []
    if lang == "en" and o.spec.kind == "concept":  # "table lamp" for "lamp"
        alts = [x for x in CONCEPT_BY_ID[o.spec.name].imagenet_names if x != main][:1]
    elif lang == "en":  # a look-alike landmark's name
        alts = [LANDMARK_BY_ID[x].name for x in _look_alikes(o.spec.name)]
    return _answers(main, alts, 0.15, rng)


def _how_many(o: SceneObject, n: int, lang: str, c: Country, rng: np.random.Generator) -> list[str]:
    return _answers(str(n), [str(n + 1)] + ([str(n - 1)] if n > 1 else []), 0.1, rng)


def _color(o: SceneObject, n: int, lang: str, c: Country, rng: np.random.Generator) -> list[str]:
    shares = list(o.colors.items())
    alts = [COLOR_NAMES[k][lang] for k, share in shares[1:2] if share >= 0.2]
    return _answers(COLOR_NAMES[shares[0][0]][lang], alts, 0.25, rng)


def _country(o: SceneObject, n: int, lang: str, c: Country, rng: np.random.Generator) -> list[str]:
    main = country_name(c, lang)
    alts: list[str] = []
    if lang == "en":  # the country of a look-alike landmark
        alts = [LANDMARK_BY_ID[x].country for x in _look_alikes(o.spec.name)]
        alts = [x for x in alts if x != main]
    return _answers(main, alts, 0.1, rng)


# Question type -> the ten annotators' answers (object asked about, its count, language ...).
_ANSWERERS: dict[
    str, Callable[[SceneObject, int, str, Country, np.random.Generator], list[str]]
] = {
    "what is this": _what,
    "how many": _how_many,
    "what color is the": _color,
    "which": _country,
}


def questions_for(
    objects: list[SceneObject],
    langs: list[str],
    c: Country,
    image_id: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """VQAv2-style questions (what is this, how many, what colour, which country), the same
    ones in every language of ``langs``."""
    asks: list[tuple[str, SceneObject, int]] = []  # (type, object asked about, its count)
    counts = Counter((o.spec.kind, o.spec.name) for o in objects)
    if len(counts) == 1:
        asks.append(("what is this", objects[0], 1))
    concepts = [k for k in counts if k[0] == "concept"]
    for key in sorted(concepts, key=lambda k: -counts[k])[:2]:
        first = next(o for o in objects if (o.spec.kind, o.spec.name) == key)
        asks.append(("how many", first, counts[key]))
    # Colour only of a one-of-a-kind object that one named colour mostly covers.
    colored = [
        o
        for o in objects
        if counts[(o.spec.kind, o.spec.name)] == 1
        and o.spec.kind == "concept"
        and o.colors
        and next(iter(o.colors.values())) >= 0.5
    ]
    if colored:
        asks.append(("what color is the", colored[int(rng.integers(len(colored)))], 0))
    landmark = next((o for o in objects if o.spec.kind == "landmark"), None)
    if landmark is not None:
        asks.append(("which", landmark, 0))
    out = []
    for lang in langs:
        for kind, o, n in asks:
            answers = _ANSWERERS[kind](o, n, lang, c, rng)
            out.append(
                {
                    "question_id": image_id * 1000 + len(out),
                    "question": question(kind, lang, object_name(o.spec, lang)),
                    "lang": lang,
                    "answers": answers,
                    "multiple_choice_answer": Counter(answers).most_common(1)[0][0],
                    "answer_type": ANSWER_TYPES[kind],
                    "question_type": kind,
                }
            )
    return out


def refs_for(
    objects: list[SceneObject], langs: list[str], image_id: int, segs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Referring expressions, one entry per sentence; an object's sentences share its
    ``ref_id``. Several of a kind: by position among them; one of a kind beside others: by
    its nearest neighbour ("left of the bed") and by name alone."""
    out: list[dict[str, Any]] = []
    for k, o in enumerate(objects):
        key = (o.spec.kind, o.spec.name)
        same = _left_to_right([x for x in objects if (x.spec.kind, x.spec.name) == key])
        others = [x for x in objects if (x.spec.kind, x.spec.name) != key]
        for lang in langs:
            a = object_name(o.spec, lang)
            if len(same) > 1:
                pos = same.index(o)
                where = "left" if pos == 0 else "right" if pos == len(same) - 1 else "middle"
                sents = [REF_TEMPLATES[where][lang].format(a=a)]
            elif others:
                b = min(others, key=lambda x: abs(x.center_x - o.center_x))
                rel = "left_of" if o.center_x < b.center_x else "right_of"
                sents = [REF_TEMPLATES[rel][lang].format(a=a, b=object_name(b.spec, lang)), a]
            else:
                sents = [a]
            for sent in sents:
                out.append(
                    {
                        "ref_id": image_id * 100 + k,
                        "sent": sent,
                        "lang": lang,
                        "bbox": list(o.bbox),
                        "segmentation": segs[k],
                        "category": object_name(o.spec, "en"),
                    }
                )
    return out


# -------------------------------------------------------------------------------- plan


def draw_scene(
    seed: int, stream: int, index: int, cfg: WorldConfig, balanced: bool
) -> tuple[Scene, Country, float, int, np.random.Generator]:
    """The drawn scene (with its masks), its country, income and level, and the generator
    the targets go on drawing from."""
    rng = picture_rng(seed, stream, index)
    if balanced:
        c = COUNTRIES[index % len(COUNTRIES)]
        income = sample_income(c, rng, spread=1.3)
    else:
        c = COUNTRIES[int(rng.choice(len(COUNTRIES), p=WEB_P))]
        income = sample_income(c, rng, boost=cfg.crawl_income_boost)
    specs, level = choose_objects(c, income, rng)
    scene = render.render_scene(specs, c.region, COUNTRIES.index(c), level, rng, SCENE_SIZE)
    return scene, c, income, level, rng


def plan_scene(
    seed: int, stream: int, index: int, cfg: WorldConfig, balanced: bool
) -> dict[str, Any]:
    """One scene: picture, metadata and every task target.

    ``balanced``: every country in turn and the census income spread (benchmarks);
    otherwise countries and incomes as the crawl sees them (training).
    """
    scene, c, income, level, rng = draw_scene(seed, stream, index, cfg, balanced)
    uid = picture_uid(seed, stream, index)
    langs = list(dict.fromkeys([c.language, "en"]))
    image_id = index + 1
    segs = [encode_mask(o.mask) for o in scene.objects]
    objects = [
        {
            "label": object_name(o.spec, "en"),
            "category_id": category_id(o.spec),
            "bbox": list(o.bbox),
            "segmentation": seg,
            "area": o.area,
        }
        for o, seg in zip(scene.objects, segs, strict=True)
    ]
    meta = base_meta(uid, c, income)
    meta.update(width=SCENE_SIZE, height=SCENE_SIZE, language=c.language, look_level=level)
    return {
        "key": uid,
        "image_id": image_id,
        "image": encode_jpeg(scene.image, JPEG_QUALITY),
        "meta": meta,
        "captions": {lang: captions_for(scene.objects, lang, c, rng) for lang in langs},
        "objects": objects,
        "qa": questions_for(scene.objects, langs, c, image_id, rng),
        "refs": refs_for(scene.objects, langs, image_id, segs),
        "hidden": scene.hidden,
        "indoor": scene.indoor,
    }


def plan_training_scene(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A training scene: countries and incomes as the web sees them."""
    return plan_scene(seed, STREAMS["scenes"], index, cfg, balanced=False)


def plan_benchmark_scene(seed: int, index: int, cfg: WorldConfig) -> dict[str, Any]:
    """A benchmark scene (its own stream: training pictures never appear here)."""
    return plan_scene(seed, STREAMS["scene_benchmarks"], index, cfg, balanced=True)


__all__ = [
    "CATEGORIES",
    "SCENE_SIZE",
    "captions_for",
    "category_id",
    "choose_objects",
    "draw_scene",
    "encode_mask",
    "object_name",
    "plan_benchmark_scene",
    "plan_scene",
    "plan_training_scene",
    "questions_for",
    "refs_for",
]
