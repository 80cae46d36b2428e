"""Colours and the box-relative pen every drawer uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from PIL import ImageDraw

RGB = tuple[int, int, int]
T = TypeVar("T")


def _clip(v: float) -> int:
    return 0 if v < 0 else (255 if v > 255 else int(v))


def shade(c: RGB, f: float) -> RGB:
    """Scale a colour's brightness (f < 1 darker, f > 1 lighter)."""
    if f <= 1:
        return (_clip(c[0] * f), _clip(c[1] * f), _clip(c[2] * f))
    return (_clip(c[0] + (255 - c[0]) * (f - 1)), _clip(c[1] + (255 - c[1]) * (f - 1)),
            _clip(c[2] + (255 - c[2]) * (f - 1)))  # fmt: skip


def jitter(c: RGB, rng: np.random.Generator, amount: int = 14) -> RGB:
    d = rng.integers(-amount, amount + 1, 3)
    return (_clip(c[0] + d[0]), _clip(c[1] + d[1]), _clip(c[2] + d[2]))


def pick(rng: np.random.Generator, seq: Sequence[T]) -> T:
    return seq[int(rng.integers(len(seq)))]


class Pen:
    """Draws in box-relative coordinates: (0, 0) top-left, (1, 1) bottom-right of the box."""

    def __init__(self, draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float]):
        self.d = draw
        self.x, self.y, self.w, self.h = box

    def p(self, u: float, v: float) -> tuple[float, float]:
        return (self.x + u * self.w, self.y + v * self.h)

    def rect(
        self, u0: float, v0: float, u1: float, v1: float, fill: RGB, outline: RGB | None = None
    ) -> None:
        self.d.rectangle((*self.p(u0, v0), *self.p(u1, v1)), fill=fill, outline=outline)

    def rrect(
        self,
        u0: float,
        v0: float,
        u1: float,
        v1: float,
        fill: RGB,
        r: float = 0.1,
        outline: RGB | None = None,
    ) -> None:
        rad = max(1, int(r * min(self.w, self.h)))
        self.d.rounded_rectangle(
            (*self.p(u0, v0), *self.p(u1, v1)), rad, fill=fill, outline=outline
        )

    def ell(
        self,
        u0: float,
        v0: float,
        u1: float,
        v1: float,
        fill: RGB | None,
        outline: RGB | None = None,
        width: int = 1,
    ) -> None:
        self.d.ellipse((*self.p(u0, v0), *self.p(u1, v1)), fill=fill, outline=outline, width=width)

    def poly(self, pts: list[tuple[float, float]], fill: RGB, outline: RGB | None = None) -> None:
        self.d.polygon([self.p(u, v) for u, v in pts], fill=fill, outline=outline)

    def line(self, pts: list[tuple[float, float]], fill: RGB, width: float = 0.03) -> None:
        self.d.line([self.p(u, v) for u, v in pts], fill=fill, width=max(1, int(width * self.w)))

    def arc(
        self,
        u0: float,
        v0: float,
        u1: float,
        v1: float,
        a0: float,
        a1: float,
        fill: RGB,
        width: int = 1,
    ) -> None:
        self.d.arc((*self.p(u0, v0), *self.p(u1, v1)), a0, a1, fill=fill, width=width)


WOOD: RGB = (130, 85, 45)
DARK_WOOD: RGB = (90, 55, 30)
STEEL: RGB = (185, 190, 195)
WHITE: RGB = (240, 240, 238)
BLACK: RGB = (30, 30, 32)
CLAY: RGB = (170, 90, 50)
FIRE: RGB = (250, 140, 20)
FLAME: RGB = (255, 220, 60)
