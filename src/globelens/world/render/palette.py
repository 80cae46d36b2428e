"""The colours an object may use: its region's accents, jittered per picture, and textiles."""

from __future__ import annotations

import numpy as np

from globelens.world.places import RegionStyle
from globelens.world.render.patterns import pattern as _pattern
from globelens.world.render.pen import Pen, jitter, pick


class Palette:
    """Colours an object may use: regional accents, the wall colour, neutral materials."""

    def __init__(self, style: RegionStyle, rng: np.random.Generator):
        self.style = style
        self.accents = [jitter(a, rng, 10) for a in style.accents]
        self.accent = pick(rng, self.accents)
        self.accent2 = pick(rng, self.accents)
        self.rng = rng

    def textile(self, pen: Pen, u0: float, v0: float, u1: float, v1: float, step: int = 5) -> None:
        x0, y0 = pen.p(u0, v0)
        x1, y1 = pen.p(u1, v1)
        pen.d.rectangle((x0, y0, x1, y1), fill=self.accent)
        _pattern(
            pen.d,
            self.style.pattern,
            (int(x0), int(y0), int(x1), int(y1)),
            self.accents,
            self.rng,
            step,
        )
