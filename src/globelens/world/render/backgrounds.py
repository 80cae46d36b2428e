"""What surrounds an object: home interiors, outdoor scenery, clutter, and the camera's finish
(lighting, colour cast, sensor noise, a mirror flip)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from globelens.world.places import RegionStyle
from globelens.world.render.palette import Palette
from globelens.world.render.patterns import pattern as _pattern
from globelens.world.render.pen import RGB, jitter, pick, shade


def background(
    d: ImageDraw.ImageDraw,
    size: int,
    level: int,
    style: RegionStyle,
    wall: RGB,
    rng: np.random.Generator,
) -> int:
    """Walls and floor of a home; returns the y of the floor line."""
    floor_y = int(size * rng.uniform(0.62, 0.74))
    acc = list(style.accents)
    if level == 0:
        # Mud, bare brick or corrugated sheet walls; earth floor.
        wall_c = jitter(style.earth, rng, 18)
        d.rectangle((0, 0, size, floor_y), fill=wall_c)
        kind = int(rng.integers(3))
        if kind == 0:  # mud blotches
            for _ in range(7):
                x, y, r = rng.uniform(0, size), rng.uniform(0, floor_y), rng.uniform(3, 9)
                d.ellipse(
                    (x - r, y - r * 0.6, x + r, y + r * 0.6),
                    fill=shade(wall_c, rng.uniform(0.75, 0.9)),
                )
        elif kind == 1:  # rough brick courses
            for y in range(0, floor_y, 6):
                d.line((0, y, size, y), fill=shade(wall_c, 0.7), width=1)
                for x in range((y // 6) % 2 * 6, size, 12):
                    d.line((x, y, x, y + 6), fill=shade(wall_c, 0.7), width=1)
        else:  # corrugated sheet
            sheet = jitter((140, 135, 125), rng, 15)
            d.rectangle((0, 0, size, floor_y), fill=sheet)
            for x in range(0, size, 4):
                d.line((x, 0, x, floor_y), fill=shade(sheet, 0.75), width=1)
            r = rng.uniform(8, 16)
            x, y = rng.uniform(0, size), rng.uniform(0, floor_y)
            d.ellipse((x - r, y - r, x + r, y + r), fill=(150, 90, 50))  # rust
        # A hanging regional textile in some homes (region, not income, decides its pattern).
        if rng.random() < 0.7:
            x = rng.uniform(0, size * 0.6)
            _pattern(
                d, style.pattern, (int(x), 4, int(x + size * 0.4), int(floor_y * 0.55)), acc, rng, 6
            )
        floor_c = jitter(shade(style.earth, 0.8), rng, 12)
        d.rectangle((0, floor_y, size, size), fill=floor_c)
        for _ in range(10):
            x, y = rng.uniform(0, size), rng.uniform(floor_y, size)
            d.point((x, y), fill=shade(floor_c, 0.6))
    elif level == 1:
        # Plain painted plaster with a regional band; cement floor.
        wall_c = jitter(shade(wall, 0.85), rng, 12)
        d.rectangle((0, 0, size, floor_y), fill=wall_c)
        band_y = int(floor_y * rng.uniform(0.45, 0.6))
        _pattern(d, style.pattern, (0, band_y, size, band_y + 7), acc, rng, 7)
        for _ in range(2):  # cracks and stains
            x, y = rng.uniform(0, size), rng.uniform(0, band_y)
            d.line((x, y, x + rng.uniform(-8, 8), y + rng.uniform(4, 12)), fill=shade(wall_c, 0.7))
        floor_c = jitter((150, 150, 145), rng, 12)
        d.rectangle((0, floor_y, size, size), fill=floor_c)
    else:
        # Finished walls with the regional pattern as wallpaper; wood or tile floor; window.
        wall_c = jitter(shade(wall, 1.1), rng, 8)
        d.rectangle((0, 0, size, floor_y), fill=wall_c)
        faint = [shade(wall_c, 0.9), shade(wall_c, 0.95), shade(acc[0], 1.5)]
        _pattern(d, style.pattern, (0, 0, size, floor_y), faint, rng, 10)
        if rng.random() < 0.6:
            wx = rng.uniform(0, size * 0.7)
            wy = rng.uniform(4, floor_y * 0.3)
            d.rectangle(
                (wx, wy, wx + size * 0.28, wy + size * 0.25),
                fill=shade(style.sky, 1.2),
                outline=(250, 250, 250),
                width=2,
            )
            d.line(
                (wx + size * 0.14, wy, wx + size * 0.14, wy + size * 0.25),
                fill=(250, 250, 250),
                width=1,
            )
        d.rectangle((0, floor_y - 3, size, floor_y), fill=(245, 245, 240))  # skirting board
        floor_c = jitter(style.floor, rng, 10)
        d.rectangle((0, floor_y, size, size), fill=floor_c)
        for y in range(floor_y + 5, size, 6):
            d.line((0, y, size, y), fill=shade(floor_c, 0.85), width=1)
    if style.rug and level >= 1 and rng.random() < 0.6:
        rx = rng.uniform(-size * 0.1, size * 0.3)
        _pattern(
            d, style.pattern, (int(rx), floor_y + 6, int(rx + size * 0.8), size - 2), acc, rng, 6
        )
    return floor_y


def outdoor(
    d: ImageDraw.ImageDraw, size: int, style: RegionStyle, rng: np.random.Generator, horizon: float
) -> int:
    """Sky and ground; returns the horizon y."""
    sky = jitter(style.sky, rng, 15)
    hy = int(size * horizon)
    for i in range(4):  # a cheap vertical gradient
        d.rectangle((0, hy * i // 4, size, hy * (i + 1) // 4), fill=shade(sky, 1.0 + 0.08 * i))
    if rng.random() < 0.5:  # a cloud
        x, y = rng.uniform(0, size), rng.uniform(2, hy * 0.4)
        d.ellipse((x - 10, y - 4, x + 10, y + 4), fill=(245, 245, 245))
    ground = jitter(style.ground, rng, 12)
    d.rectangle((0, hy, size, size), fill=ground)
    return hy


def clutter(
    d: ImageDraw.ImageDraw, size: int, floor_y: int, rng: np.random.Generator, pal: Palette
) -> None:
    """A few small unrelated things at the edges: a box, a cup, a bag."""
    for _ in range(int(rng.integers(0, 4))):
        x = pick(rng, [rng.uniform(0, size * 0.18), rng.uniform(size * 0.8, size)])
        y = rng.uniform(floor_y - 6, size - 6)
        w, h = rng.uniform(4, 12), rng.uniform(4, 12)
        col = jitter(pick(rng, [*pal.accents, (120, 120, 120), (200, 190, 170)]), rng, 20)
        if rng.random() < 0.5:
            d.rectangle((x, y - h, x + w, y), fill=col)
        else:
            d.ellipse((x, y - h, x + w, y), fill=col)


_NOISE: dict[int, np.ndarray] = {}


def _noise_bank(size: int) -> np.ndarray:
    """Fixed tiles of unit Gaussian noise; drawing fresh noise per picture costs more than
    drawing the picture. A tile, a flip and a scale are chosen per picture."""
    if size not in _NOISE:
        bank = np.random.default_rng(20240517).standard_normal(
            (16, size, size, 3), dtype=np.float32
        )
        _NOISE[size] = bank
    return _NOISE[size]


def finish(im: Image.Image, rng: np.random.Generator, level: int) -> Image.Image:
    """Lighting (darker, warmer in poor homes), colour cast, flips and sensor noise."""
    return finish_flipped(im, rng, level)[0]


def finish_flipped(
    im: Image.Image, rng: np.random.Generator, level: int
) -> tuple[Image.Image, bool]:
    """:func:`finish`, also saying whether the picture was mirrored (scenes flip their masks)."""
    arr = np.asarray(im, dtype=np.float32)
    base = (0.8, 0.92, 1.05)[level]
    gain = base * rng.uniform(0.85, 1.12) * (1 + rng.normal(0, 0.04, 3))
    if level == 0:
        gain = gain * np.array([1.05, 0.97, 0.85])
    bank = _noise_bank(arr.shape[0])
    noise = bank[int(rng.integers(len(bank)))]
    if rng.random() < 0.5:
        noise = noise[::-1]
    arr = arr * gain.astype(np.float32) + noise * np.float32(rng.uniform(3, 9))
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    flipped = bool(rng.random() < 0.5)
    if flipped:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return out, flipped
