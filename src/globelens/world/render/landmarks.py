"""Landmarks, drawn by family (pod tower, arch, cathedral ...) with per-landmark details, and
the landmark photo with its regional sky, skyline and tourists."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

import numpy as np
from PIL import Image, ImageDraw

from globelens.world.lexicon import Landmark
from globelens.world.places import REGION_STYLES
from globelens.world.render.backgrounds import finish, outdoor
from globelens.world.render.pen import BLACK, FLAME, RGB, WHITE, Pen, jitter, pick, shade


class LandmarkParams:
    """Typed reads of a landmark's free-form drawing details (``Landmark.params``): each key's
    type is fixed by the table in lexicon.py, so a wrong one fails loudly here."""

    def __init__(self, params: Mapping[str, object]) -> None:
        self._p = params

    def __getitem__(self, key: str) -> object:
        return self._p[key]

    def get(self, key: str) -> object:
        return self._p.get(key)

    def rgb(self, key: str) -> RGB:
        r, g, b = cast("tuple[int, int, int]", self._p[key])
        return (r, g, b)

    def num(self, key: str) -> float:
        return float(cast(float, self._p[key]))

    def int(self, key: str) -> int:
        return int(cast(int, self._p[key]))

    def triple(self, key: str) -> tuple[float, float, float]:
        a, b, c = cast("tuple[float, float, float]", self._p[key])
        return (a, b, c)


def _lm_pod_tower(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    pv, pw, ph = q.triple("pod")
    shaft, podc = q.rgb("shaft"), q.rgb("pod_color")
    tip = q.num("tip")
    top = tip
    p.poly([(0.46, top + 0.05), (0.54, top + 0.05), (0.57, 1.0), (0.43, 1.0)], shaft)
    p.line([(0.5, 0.0), (0.5, top + 0.06)], shade(shaft, 0.7), 0.02)  # antenna
    if q["base"] == "legs":
        p.poly([(0.43, 0.75), (0.3, 1.0), (0.36, 1.0), (0.47, 0.8)], shaft)
        p.poly([(0.57, 0.75), (0.7, 1.0), (0.64, 1.0), (0.53, 0.8)], shaft)
    elif q["base"] == "octagon":
        p.rect(0.34, 0.86, 0.66, 1.0, shade(shaft, 0.85))
        p.poly([(0.34, 0.86), (0.4, 0.8), (0.6, 0.8), (0.66, 0.86)], shade(shaft, 0.9))
    else:  # on a wooded hill
        p.ell(-0.2, 0.85, 1.2, 1.3, (60, 110, 60))
    for k in range(q.int("pods")):
        v = pv + k * 0.15 if k else pv
        w = pw if k == 0 else pw * 0.6
        if lm.id == "oriental_pearl":
            r = (0.12, 0.08, 0.05)[k]
            v = (0.62, 0.3, 0.15)[k]
            p.ell(0.5 - r, v - r * 0.8, 0.5 + r, v + r * 0.8, podc)
            continue
        hh = ph if k == 0 else ph * 0.4
        p.ell(0.5 - w, v - hh / 2, 0.5 + w, v + hh / 2, podc)
        if lm.id == "milad_tower":  # Milad's pod: stacked floors, a bulb below
            for i in range(3):
                p.line(
                    [
                        (0.5 - w * 0.9, v - hh / 4 + i * hh / 4),
                        (0.5 + w * 0.9, v - hh / 4 + i * hh / 4),
                    ],
                    shade(podc, 0.7),
                    0.01,
                )
            p.ell(
                0.5 - w * 0.5,
                v + hh / 2 - 0.02,
                0.5 + w * 0.5,
                v + hh / 2 + 0.05,
                shade(podc, 0.85),
            )
        if lm.id == "cn_tower" and k == 0:  # the CN Tower's ring of windows
            p.rect(0.5 - w, v - 0.01, 0.5 + w, v + 0.01, (40, 40, 50))


def _lm_lattice_tower(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    p.poly(
        [(0.48, 0.0), (0.52, 0.0), (0.85, 1.0), (0.7, 1.0), (0.5, 0.6), (0.3, 1.0), (0.15, 1.0)],
        col,
    )
    for v in (0.35, 0.62):
        half = 0.03 + v * 0.33
        p.rect(0.5 - half, v - 0.02, 0.5 + half, v + 0.02, shade(col, 0.75))
    if q["band"]:
        for v in (0.2, 0.45, 0.75):
            half = 0.02 + v * 0.33
            p.rect(0.5 - half, v - 0.03, 0.5 + half, v + 0.03, q.rgb("band"))
    if q["arch"]:
        p.ell(0.32, 0.8, 0.68, 1.1, shade(col, 1.6))


def _lm_cathedral(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    tall = 0.0 if q.get("tall") else 0.15
    p.rect(0.2, 0.35 + tall, 0.8, 1.0, col)
    for u in (0.05, 0.75):  # two towers
        p.rect(u, 0.2 + tall, u + 0.2, 1.0, shade(col, 0.95))
        if q["spires"]:
            p.poly(
                [(u, 0.2 + tall), (u + 0.1, 0.0 + tall * 0.5), (u + 0.2, 0.2 + tall)],
                shade(col, 0.8),
            )
        else:
            p.rect(u - 0.01, 0.17 + tall, u + 0.21, 0.21 + tall, shade(col, 0.8))
        p.rect(u + 0.07, 0.3 + tall, u + 0.13, 0.45 + tall, (50, 45, 45))
    if q.get("dome"):
        p.ell(0.38, 0.22 + tall, 0.62, 0.45 + tall, (70, 120, 110))
    if q["rose"]:
        p.ell(0.42, 0.45, 0.58, 0.6, (110, 60, 120))
    doors = q.int("doors")
    for i in range(doors):
        u = 0.5 + (i - (doors - 1) / 2) * 0.14
        p.poly(
            [(u - 0.05, 1.0), (u - 0.05, 0.8), (u, 0.72), (u + 0.05, 0.8), (u + 0.05, 1.0)],
            (50, 40, 35),
        )
    if lm.id == "notre_dame_montreal":  # blue-lit statues niches on the facade
        for u in (0.32, 0.5, 0.68):
            p.rect(u - 0.02, 0.5, u + 0.02, 0.6, (60, 90, 170))


def _lm_arch(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    top = q["top"]
    if top == "flare":  # Azadi: a flared inverted-Y with a small cupola
        p.poly(
            [
                (0.1, 1.0),
                (0.35, 0.3),
                (0.42, 0.1),
                (0.58, 0.1),
                (0.65, 0.3),
                (0.9, 1.0),
                (0.65, 1.0),
                (0.5, 0.55),
                (0.35, 1.0),
            ],
            col,
        )
        p.ell(0.44, 0.02, 0.56, 0.14, shade(col, 0.9))
        p.line([(0.38, 0.35), (0.5, 0.25), (0.62, 0.35)], (60, 150, 170), 0.02)
        return
    n = q.int("openings")
    p.rect(0.1, 0.25, 0.9, 1.0, col)
    if n == 1:
        p.poly(
            [(0.38, 1.0), (0.38, 0.55), (0.5, 0.45), (0.62, 0.55), (0.62, 1.0)], shade(col, 0.45)
        )
    else:
        for i in range(n):
            u = 0.15 + i * 0.7 / (n - 1) * (n - 1) / n + 0.02
            p.rect(u, 0.4, u + 0.08, 1.0, shade(col, 0.45))
    if top == "quadriga":
        p.rect(0.1, 0.18, 0.9, 0.25, shade(col, 0.9))
        p.poly([(0.4, 0.18), (0.45, 0.05), (0.55, 0.05), (0.6, 0.18)], (70, 120, 90))
    elif top == "dome_step":
        p.rect(0.3, 0.15, 0.7, 0.25, shade(col, 0.9))
        p.ell(0.42, 0.05, 0.58, 0.2, shade(col, 0.85))
    else:  # flat attic with a frieze
        p.rect(0.08, 0.2, 0.92, 0.3, shade(col, 0.9))
        p.rect(0.1, 0.32, 0.9, 0.35, shade(col, 0.75))


def _lm_statue(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    if q.get("mountain"):
        p.poly([(-0.2, 1.0), (0.5, 0.6), (1.2, 1.0)], (70, 110, 60))
    base = 0.62 if q["pedestal"] else 0.7
    if q["pedestal"]:
        p.rect(0.35, 0.62, 0.65, 1.0, (170, 150, 120))
    if q["arms"] == "open":  # a cross-shaped figure
        p.rect(0.44, 0.15, 0.56, base, col)
        p.rect(0.15, 0.22, 0.85, 0.28, col)
        p.ell(0.45, 0.06, 0.55, 0.16, col)
    elif q["arms"] == "torch":
        p.poly([(0.4, base), (0.44, 0.2), (0.56, 0.2), (0.6, base)], col)
        p.ell(0.45, 0.1, 0.55, 0.21, col)
        p.line([(0.54, 0.25), (0.62, 0.02)], col, 0.04)
        p.ell(0.59, -0.02, 0.66, 0.05, FLAME)
        for u in (0.45, 0.5, 0.55):  # crown spikes
            p.line([(0.5, 0.13), (u + (u - 0.5) * 2, 0.05)], col, 0.015)
    else:  # a man, a woman and a child reaching forward
        p.poly([(0.3, base), (0.4, 0.15), (0.55, 0.15), (0.6, base)], col)
        p.ell(0.42, 0.04, 0.54, 0.16, col)
        p.line([(0.5, 0.2), (0.8, 0.05)], col, 0.05)
        p.ell(0.76, 0.0, 0.86, 0.09, col)
        p.poly([(0.55, base), (0.62, 0.3), (0.72, 0.35), (0.7, base)], shade(col, 0.9))


def _lm_pyramid(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    if q["stepped"]:
        for i in range(6):
            half = 0.45 - i * 0.06
            p.rect(
                0.5 - half,
                1.0 - (i + 1) * 0.11,
                0.5 + half,
                1.0 - i * 0.11,
                shade(col, 1.0 - (i % 2) * 0.1),
            )
        p.rect(0.4, 0.22, 0.6, 0.34, shade(col, 0.85))
        p.poly([(0.45, 1.0), (0.47, 0.34), (0.53, 0.34), (0.55, 1.0)], shade(col, 0.75))
    else:
        for k, (u, s) in enumerate(((0.05, 0.45), (0.45, 0.55), (0.8, 0.3))[: q.int("count")]):
            p.poly(
                [(u - s / 2, 1.0), (u + s / 2 * 0.2, 1.0 - s * 1.1), (u + s / 2 + 0.1, 1.0)],
                shade(col, 1.0 - 0.05 * k),
            )
            p.poly(
                [(u + s / 2 * 0.2, 1.0 - s * 1.1), (u + s / 2 + 0.1, 1.0), (u + s / 2 * 0.6, 1.0)],
                shade(col, 0.8),
            )


def _lm_domed(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    wide = 0.1 if q.get("wide") else 0.0
    p.rect(0.2 - wide, 0.5, 0.8 + wide, 1.0, col)
    if q["dome"] == "onion":
        p.ell(0.32, 0.15, 0.68, 0.55, col)
        p.poly([(0.45, 0.2), (0.5, 0.05), (0.55, 0.2)], col)
    else:
        p.ell(0.25, 0.3, 0.75, 0.7, shade(col, 0.9))
        p.rect(0.25, 0.5, 0.75, 0.55, shade(col, 0.8))
    p.poly([(0.42, 1.0), (0.42, 0.7), (0.5, 0.62), (0.58, 0.7), (0.58, 1.0)], shade(col, 0.6))
    m = q.int("minarets")
    for u in ((0.05, 0.9, 0.13, 0.82) if m else ())[:m]:
        p.rect(u, 0.15, u + 0.04, 1.0, shade(col, 0.95))
        p.poly([(u - 0.01, 0.15), (u + 0.02, 0.05), (u + 0.05, 0.15)], shade(col, 0.85))
    if q.get("pool"):
        p.rect(0.35, 0.95, 0.65, 1.0, (100, 150, 200))


def _lm_pagoda(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    tiers = q.int("tiers")
    wide = 0.15 if q.get("wide") else 0.0
    if q.get("pillar"):
        p.rect(0.46, 0.55, 0.54, 1.0, (150, 140, 120))
        p.rect(0.2, 0.85, 0.8, 1.0, (90, 140, 170))
    base_v = 0.55 if q.get("pillar") else 1.0
    body = (220, 60, 40) if lm.id != "kinkakuji" else (230, 190, 70)
    for i in range(tiers):
        v1 = base_v - i * (base_v - 0.15) / tiers
        v0 = v1 - (base_v - 0.15) / tiers
        half = 0.3 + wide - i * 0.07
        if q.get("round"):
            p.ell(0.5 - half + 0.05, v0 + 0.02, 0.5 + half - 0.05, v1, body)
            p.ell(0.5 - half, v0 - 0.03, 0.5 + half, v0 + 0.09, col)
        else:
            p.rect(0.5 - half + 0.06, v0 + 0.05, 0.5 + half - 0.06, v1, body)
            p.poly(
                [
                    (0.5 - half - 0.08, v0 + 0.08),
                    (0.5 - half + 0.05, v0),
                    (0.5 + half - 0.05, v0),
                    (0.5 + half + 0.08, v0 + 0.08),
                ],
                col,
            )
    p.line([(0.5, 0.15), (0.5, 0.05)], (220, 190, 80), 0.03)


def _lm_spire_temple(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    if q.get("terraces"):
        for i in range(5):
            half = 0.48 - i * 0.08
            p.rect(
                0.5 - half,
                1.0 - (i + 1) * 0.1,
                0.5 + half,
                1.0 - i * 0.1,
                shade(col, 1.0 - (i % 2) * 0.12),
            )
            for u in np.arange(0.5 - half + 0.03, 0.5 + half, 0.08):
                p.ell(
                    u - 0.02,
                    1.0 - (i + 1) * 0.1 - 0.03,
                    u + 0.02,
                    1.0 - (i + 1) * 0.1 + 0.01,
                    shade(col, 0.8),
                )
        p.poly([(0.42, 0.5), (0.5, 0.25), (0.58, 0.5)], shade(col, 0.9))
        return
    for u, s in ((0.5, 1.0), (0.18, 0.5), (0.82, 0.5), (0.32, 0.4), (0.68, 0.4))[: q.int("spires")]:
        top = 1.0 - 0.95 * s
        p.poly(
            [
                (u - 0.12 * s, 1.0),
                (u - 0.06 * s, top + 0.2 * s),
                (u, top),
                (u + 0.06 * s, top + 0.2 * s),
                (u + 0.12 * s, 1.0),
            ],
            col,
        )
        for i in range(4):
            v = top + (i + 1) * 0.18 * s
            p.line([(u - 0.08 * s, v), (u + 0.08 * s, v)], (90, 140, 180), 0.02)


def _lm_clock_tower(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    if q.get("lean"):  # Pisa: a leaning white cylinder of arcades
        for i in range(7):
            off = i * 0.03
            p.rect(0.35 + off, 0.92 - (i + 1) * 0.12, 0.62 + off, 1.0 - (i + 1) * 0.12 + 0.08, col)
            for u in (0.4, 0.48, 0.56):
                p.rect(
                    u + off,
                    0.9 - (i + 1) * 0.12 + 0.03,
                    u + off + 0.03,
                    0.9 - (i + 1) * 0.12 + 0.08,
                    shade(col, 0.7),
                )
        return
    p.rect(0.38, 0.25, 0.62, 1.0, col)
    if q.get("cone"):
        p.rect(0.34, 0.25, 0.66, 1.0, col)
        p.poly([(0.32, 0.25), (0.5, 0.0), (0.68, 0.25)], (80, 80, 90))
        for v in (0.4, 0.55, 0.7):
            p.rect(0.46, v, 0.54, v + 0.06, (60, 50, 45))
        return
    p.poly([(0.38, 0.25), (0.5, 0.02), (0.62, 0.25)], shade(col, 0.7))
    if q["clock"]:
        p.ell(0.4, 0.28, 0.6, 0.43, WHITE, BLACK)
        p.line([(0.5, 0.355), (0.5, 0.3)], BLACK, 0.02)
    for v in np.arange(0.5, 1.0, 0.1):
        p.line([(0.42, v), (0.58, v)], shade(col, 0.8), 0.01)
    p.rect(0.0, 0.75, 0.38, 1.0, shade(col, 0.9))


def _lm_bridge(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    q = LandmarkParams(lm.params)
    col = q.rgb("color")
    p.rect(-0.1, 0.8, 1.1, 1.0, (70, 110, 150))  # water
    p.rect(-0.1, 0.68, 1.1, 0.74, col)
    for u in (0.25, 0.75):
        if q["suspension"]:
            p.rect(u - 0.03, 0.1, u + 0.03, 0.9, col)
            p.rect(u - 0.04, 0.25, u + 0.04, 0.28, col)
        else:  # gothic stone towers with pointed roofs and an upper walkway
            p.rect(u - 0.08, 0.25, u + 0.08, 0.9, col)
            p.poly([(u - 0.08, 0.25), (u, 0.1), (u + 0.08, 0.25)], (70, 80, 100))
            p.rect(u - 0.03, 0.4, u + 0.03, 0.55, (60, 60, 70))
    if q["suspension"]:
        p.arc(0.25, -0.1, 0.75, 0.72, 0, 180, col, 2)
        p.line([(-0.1, 0.68), (0.25, 0.1)], col, 0.015)
        p.line([(1.1, 0.68), (0.75, 0.1)], col, 0.015)
    else:
        p.rect(0.25, 0.3, 0.75, 0.35, (90, 140, 190))


def _lm_colosseum(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    col = LandmarkParams(lm.params).rgb("color")
    p.poly([(0.0, 1.0), (0.0, 0.3), (0.6, 0.2), (1.0, 0.5), (1.0, 1.0)], col)
    for i in range(4):
        v = 0.35 + i * 0.16
        for u in np.arange(0.03, 0.97, 0.09):
            p.poly(
                [
                    (u, v + 0.12),
                    (u, v + 0.04),
                    (u + 0.03, v),
                    (u + 0.06, v + 0.04),
                    (u + 0.06, v + 0.12),
                ],
                shade(col, 0.45),
            )


def _lm_rock(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    col = LandmarkParams(lm.params).rgb("color")
    if lm.params.get("ruins"):  # a green peak over terraced stone ruins
        p.poly([(0.45, 1.0), (0.7, 0.05), (0.8, 0.1), (1.05, 1.0)], col)
        p.poly([(-0.05, 1.0), (0.2, 0.45), (0.55, 1.0)], shade(col, 0.8))
        for i in range(4):
            p.rect(
                0.0 + i * 0.08, 0.78 + i * 0.05, 0.7 - i * 0.04, 0.82 + i * 0.05, (150, 140, 120)
            )
        for u in (0.15, 0.3, 0.45):
            p.rect(u, 0.7, u + 0.08, 0.78, (160, 150, 130))
        return
    p.poly([(0.0, 1.0), (0.1, 0.3), (0.3, 0.08), (0.7, 0.05), (0.9, 0.3), (1.0, 1.0)], col)
    for u in (0.3, 0.5, 0.7):
        p.line([(u, 0.15), (u + 0.05, 0.95)], shade(col, 0.75), 0.025)
    if lm.params.get("face"):
        p.ell(0.38, 0.3, 0.46, 0.36, shade(col, 0.6))
        p.ell(0.54, 0.3, 0.62, 0.36, shade(col, 0.6))
        p.line([(0.42, 0.5), (0.58, 0.5)], shade(col, 0.6), 0.02)


def _lm_cylinder(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    col = LandmarkParams(lm.params).rgb("color")
    p.rect(0.38, 0.15, 0.62, 1.0, col)
    for v in np.arange(0.2, 1.0, 0.05):
        p.line([(0.39, v), (0.61, v)], shade(col, 0.7), 0.01)
    p.ell(0.3, 0.05, 0.7, 0.2, (200, 200, 190))
    p.rect(0.1, 0.82, 0.38, 1.0, (180, 170, 160))
    p.poly([(0.62, 1.0), (0.62, 0.75), (0.9, 0.82), (0.9, 1.0)], (170, 120, 90))


def _lm_obelisk(p: Pen, lm: Landmark, rng: np.random.Generator) -> None:
    col = LandmarkParams(lm.params).rgb("color")
    p.rect(0.1, 0.85, 0.9, 1.0, col)
    p.poly([(0.15, 0.85), (0.3, 0.78), (0.7, 0.78), (0.85, 0.85)], shade(col, 0.9))
    p.poly([(0.45, 0.78), (0.47, 0.15), (0.53, 0.15), (0.55, 0.78)], col)
    p.rect(0.44, 0.12, 0.56, 0.15, shade(col, 0.8))
    p.poly([(0.46, 0.12), (0.5, 0.0), (0.54, 0.12)], (230, 190, 40))


LANDMARK_DRAWERS: dict[str, Callable[[Pen, Landmark, np.random.Generator], None]] = {
    "pod_tower": _lm_pod_tower,
    "lattice_tower": _lm_lattice_tower,
    "cathedral": _lm_cathedral,
    "arch": _lm_arch,
    "statue": _lm_statue,
    "pyramid": _lm_pyramid,
    "domed": _lm_domed,
    "pagoda": _lm_pagoda,
    "spire_temple": _lm_spire_temple,
    "clock_tower": _lm_clock_tower,
    "bridge": _lm_bridge,
    "colosseum": _lm_colosseum,
    "rock": _lm_rock,
    "cylinder": _lm_cylinder,
    "obelisk": _lm_obelisk,
}

# Tall, narrow families get a narrow box; wide ones a wide box.
LANDMARK_ASPECT: dict[str, float] = {
    "pod_tower": 1.5, "lattice_tower": 1.7, "clock_tower": 1.8, "obelisk": 2.2, "cylinder": 1.7,
    "statue": 1.3, "bridge": 0.6, "colosseum": 0.6, "pyramid": 0.7, "rock": 0.7,
}  # fmt: skip


def render_landmark(lm: Landmark, rng: np.random.Generator, size: int = 96) -> Image.Image:
    """Draw a photo of a landmark: regional sky and ground, skyline, the landmark, people."""
    style = REGION_STYLES[lm.region]
    im = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(im)
    hy = outdoor(d, size, style, rng, rng.uniform(0.72, 0.85))
    if lm.params.get("mountains"):  # Tehran's Alborz range behind the city
        d.polygon(
            [
                (0, hy),
                (size * 0.25, hy - size * 0.25),
                (size * 0.5, hy - size * 0.12),
                (size * 0.8, hy - size * 0.3),
                (size, hy),
            ],
            fill=(150, 140, 150),
        )
        d.polygon(
            [
                (size * 0.7, hy - size * 0.24),
                (size * 0.8, hy - size * 0.3),
                (size * 0.88, hy - size * 0.22),
            ],
            fill=WHITE,
        )
    if lm.params.get("water"):  # a lakefront
        d.rectangle((0, hy - 3, size, size), fill=(80, 120, 160))
    for _ in range(int(rng.integers(2, 6))):  # a low skyline
        x, w, h = rng.uniform(0, size), rng.uniform(6, 16), rng.uniform(4, 18)
        d.rectangle((x, hy - h, x + w, hy), fill=jitter(shade(style.sky, 0.7), rng, 15))
    aspect = LANDMARK_ASPECT.get(lm.family, 1.0)
    h = size * rng.uniform(0.62, 0.85)
    w = min(size * 0.95, h / aspect)
    x = rng.uniform(0.02 * size, size - w - 0.02 * size)
    y = hy + rng.uniform(0, 0.1) * (size - hy) - h
    LANDMARK_DRAWERS[lm.family](Pen(d, (x, y, w, h)), lm, rng)
    for _ in range(int(rng.integers(0, 4))):  # tourists
        px, py = rng.uniform(0, size), rng.uniform(hy + 2, size - 2)
        col = jitter(pick(rng, list(style.accents)), rng, 30)
        d.rectangle((px, py - 6, px + 2.5, py), fill=col)
        d.ellipse((px - 0.5, py - 8.5, px + 3, py - 5.5), fill=(120, 90, 70))
    return finish(im, rng, 1 if rng.random() < 0.5 else 2)
