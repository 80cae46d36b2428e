"""Regional pattern families (kente, zigzag, lattice ...) that fill a box."""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw

from globelens.world.render.pen import RGB


def pattern(
    d: ImageDraw.ImageDraw,
    kind: str,
    box: tuple[int, int, int, int],
    colors: list[RGB],
    rng: np.random.Generator,
    step: int = 8,
) -> None:
    """Fill ``box`` with a regional pattern family."""
    x0, y0, x1, y1 = box
    off = int(rng.integers(step))
    if kind == "kente":  # bold blocks of alternating colours
        for i, x in enumerate(range(x0 - off, x1, step)):
            d.rectangle((x, y0, x + step // 2, y1), fill=colors[i % len(colors)])
        for j, y in enumerate(range(y0, y1, step * 2)):
            d.rectangle((x0, y, x1, y + 2), fill=colors[(j + 1) % len(colors)])
    elif kind == "zigzag":
        for j, y in enumerate(range(y0 - off, y1, step)):
            pts = [
                (x, y + (step // 2 if (i % 2) else 0))
                for i, x in enumerate(range(x0, x1 + step, step // 2))
            ]
            d.line(pts, fill=colors[j % len(colors)], width=2)
    elif kind == "lattice":  # shoji-like grid
        for x in range(x0 - off, x1, step):
            d.line((x, y0, x, y1), fill=colors[0], width=1)
        for y in range(y0 - off, y1, step):
            d.line((x0, y, x1, y), fill=colors[0], width=1)
    elif kind == "stripes":
        for i, x in enumerate(range(x0 - off, x1, step)):
            if i % 2 == 0:
                d.rectangle((x, y0, x + step // 3, y1), fill=colors[0])
    elif kind == "bamboo":
        for i, x in enumerate(range(x0 - off, x1, step)):
            d.rectangle((x, y0, x + step - 2, y1), fill=colors[i % len(colors)])
            for y in range(y0 + (i * 5) % step, y1, step * 2):
                d.line((x, y, x + step - 2, y), fill=colors[-1], width=1)
    elif kind == "arabesque":  # diamonds / tiles
        for j, y in enumerate(range(y0 - off, y1, step)):
            for i, x in enumerate(range(x0 - off + (step // 2 if j % 2 else 0), x1, step)):
                h = step // 2
                d.polygon(
                    [(x, y - h + 2), (x + h - 1, y), (x, y + h - 2), (x - h + 1, y)],
                    fill=colors[(i + j) % len(colors)],
                )
    else:  # plain: faint panel lines
        for x in range(x0 - off, x1, step * 3):
            d.line((x, y0, x, y1), fill=colors[0], width=1)
