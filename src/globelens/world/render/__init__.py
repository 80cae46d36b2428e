"""Procedural drawing of the world's pictures with PIL primitives.

A household picture = background (walls, floor: materials decided by income, colours and
patterns by region) + the concept's object, whose *shape* depends on the household's income
level first (a fire of three stones vs a gas cooker vs a range) and whose colours and textiles
follow the region second + clutter, lighting, pose, scale and noise. Landmarks are drawn by
family (pod tower, arch, cathedral ...) with per-landmark details and regional scenery. A
scene puts one to four of them together and returns every object's box and pixel mask.

Modules: ``pen`` (colours, the box-relative pen), ``patterns`` (regional patterns),
``backgrounds`` (interiors, outdoors, clutter, the camera's finish), ``concepts`` and
``landmarks`` (one drawer each), ``scenes`` (several objects with their masks).

Every function takes a ``numpy.random.Generator``; the same generator state gives the same
pixels, so the builder can render in any process and stay deterministic.
"""

from __future__ import annotations

import math

import numpy as np

from globelens.world.render.concepts import CONCEPT_DRAWERS, Palette, render_concept
from globelens.world.render.landmarks import LANDMARK_DRAWERS, render_landmark
from globelens.world.render.pen import RGB, Pen, jitter, pick, shade
from globelens.world.render.scenes import (
    COLORS,
    ObjectSpec,
    Scene,
    SceneObject,
    render_scene,
)

# Income levels: 0 = poorest homes, 1 = middle, 2 = richest. Thresholds on log income are
# blurred per sample so that looks change gradually across the Dollar Street buckets.
_LOG_LOW, _LOG_HIGH = math.log(120.0), math.log(6000.0)


def income_level(income: float, rng: np.random.Generator) -> int:
    """0, 1 or 2 from monthly income, with a little per-household noise around the cuts."""
    t = (math.log(max(income, 1.0)) - _LOG_LOW) / (_LOG_HIGH - _LOG_LOW)
    t += rng.normal(0.0, 0.07)
    return 0 if t < 0.33 else (1 if t < 0.66 else 2)


__all__ = [
    "COLORS",
    "CONCEPT_DRAWERS",
    "LANDMARK_DRAWERS",
    "RGB",
    "ObjectSpec",
    "Palette",
    "Pen",
    "Scene",
    "SceneObject",
    "income_level",
    "jitter",
    "pick",
    "render_concept",
    "render_landmark",
    "render_scene",
    "shade",
]
