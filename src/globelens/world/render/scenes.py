"""Scenes: one to four objects (household concepts, landmarks) in one picture of a place.

The renderer knows every object's exact pixels because it drew them: each object's drawing
calls go to the picture and, in white, to that object's own mask (:class:`_TeeDraw`). Later,
nearer objects hide parts of earlier ones, so each mask keeps only its visible pixels; the
camera's mirror flip is applied to the masks as well. Boxes are the masks' tight extents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import numpy as np
from PIL import Image, ImageDraw

from globelens.world.lexicon import LANDMARK_BY_ID
from globelens.world.places import REGION_STYLES
from globelens.world.render.backgrounds import background, clutter, finish_flipped, outdoor
from globelens.world.render.concepts import CONCEPT_DRAWERS
from globelens.world.render.landmarks import LANDMARK_ASPECT, LANDMARK_DRAWERS
from globelens.world.render.palette import Palette
from globelens.world.render.pen import Pen, jitter, shade

# Named colours an annotator would use, with a reference RGB each (nearest wins).
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40), "blue": (40, 80, 200), "green": (50, 150, 60),
    "yellow": (235, 200, 40), "white": (240, 240, 238), "black": (30, 30, 32),
    "brown": (120, 75, 40), "grey": (150, 150, 150), "orange": (240, 130, 30),
}  # fmt: skip
_COLOR_NAMES = tuple(COLORS)
_COLOR_REFS = np.array(list(COLORS.values()), dtype=np.int32)
_COLOR_SQ = (_COLOR_REFS**2).sum(1)

# Share of the image width an object gets, by how many objects share the picture.
_SCALE = {1: 0.9, 2: 0.62, 3: 0.47, 4: 0.4}
# An object that keeps less than this share of its drawn pixels visible is not annotated.
MIN_VISIBLE = 0.25


@dataclass(frozen=True)
class ObjectSpec:
    """What to draw: a concept (by id, at an income level) or a landmark (by id)."""

    kind: str  # "concept" or "landmark"
    name: str
    level: int = 1


@dataclass(eq=False)  # compared by identity: masks are arrays
class SceneObject:
    """One drawn object: what it is, its visible pixel mask and its colours."""

    spec: ObjectSpec
    #: (H, W) bool: the object's visible pixels in the final (possibly mirrored) picture
    mask: np.ndarray
    #: named colour -> share of the visible pixels, largest first
    colors: dict[str, float] = field(default_factory=dict)

    @cached_property
    def area(self) -> int:
        return int(self.mask.sum())

    @cached_property
    def bbox(self) -> tuple[int, int, int, int]:
        """[x, y, w, h] in pixels: the tight extent of the mask (as COCO computes it)."""
        ys, xs = np.nonzero(self.mask)
        x0, y0 = int(xs.min()), int(ys.min())
        return (x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)

    @property
    def center_x(self) -> float:
        x, _, w, _ = self.bbox
        return x + w / 2


@dataclass
class Scene:
    image: Image.Image
    objects: list[SceneObject]
    indoor: bool
    #: objects drawn but hidden behind others (under MIN_VISIBLE), so not annotated
    hidden: int = 0


class _TeeDraw:
    """Sends every drawing call to the picture and, in white, to the current object's mask.

    PIL draws without anti-aliasing, so the same call sets exactly the same pixels in both.
    """

    def __init__(self, picture: ImageDraw.ImageDraw, mask: ImageDraw.ImageDraw) -> None:
        self._picture = picture
        self._mask = mask

    def __getattr__(self, name: str) -> Callable[..., None]:
        draw_picture = getattr(self._picture, name)
        draw_mask = getattr(self._mask, name)

        def both(*args: Any, **kwargs: Any) -> None:
            draw_picture(*args, **kwargs)
            white = {
                k: (None if v is None else 255) if k in ("fill", "outline") else v
                for k, v in kwargs.items()
            }
            draw_mask(*args, **white)

        return both


def named_colors(pixels: np.ndarray) -> dict[str, float]:
    """Share of each named colour among ``pixels`` (N, 3), nearest reference colour wins."""
    if len(pixels) == 0:
        return {}
    # |p - r|^2 = |p|^2 - 2 p.r + |r|^2; |p|^2 is the same for every r, so it drops out.
    # Integers: exact, so ties break the same way on every machine.
    d = _COLOR_SQ[None] - 2 * (pixels.astype(np.int32) @ _COLOR_REFS.T)
    counts = np.bincount(d.argmin(1), minlength=len(_COLOR_NAMES))
    order = np.argsort(-counts, kind="stable")
    return {_COLOR_NAMES[i]: round(float(counts[i]) / len(pixels), 4) for i in order if counts[i]}


def _layout(
    sizes: Sequence[tuple[float, float]], size: int, rng: np.random.Generator
) -> list[float]:
    """Left edges for objects of the given (w, h), side by side with random gaps and a little
    overlap, in a random left-to-right order."""
    n = len(sizes)
    order = rng.permutation(n)
    avail = size * 0.96
    total = sum(w for w, _ in sizes)
    gaps = rng.dirichlet(np.ones(n + 1)) * max(0.0, avail - total)
    xs = [0.0] * n
    x = size * 0.02 + gaps[0]
    for k, i in enumerate(order):
        w = sizes[i][0]
        shift = rng.uniform(-0.12, 0.12) * w  # neighbours may overlap a little
        xs[i] = float(min(max(x + shift, -0.05 * w), size - 0.95 * w))
        x += w + gaps[k + 1]
    return xs


def render_scene(
    specs: Sequence[ObjectSpec],
    region: str,
    wall_index: int,
    level: int,
    rng: np.random.Generator,
    size: int = 64,
) -> Scene:
    """Draw ``specs`` together in ``region``'s style at household income ``level``.

    Indoor when every object is an indoor concept (home walls and floor), else outdoors
    (sky, ground, skyline): landmarks stand behind, concepts in front of them.
    """
    if not 1 <= len(specs) <= 4:
        raise ValueError(f"a scene holds 1 to 4 objects, got {len(specs)}")
    for s in specs:
        known = CONCEPT_DRAWERS if s.kind == "concept" else LANDMARK_BY_ID
        if s.kind not in ("concept", "landmark") or s.name not in known:
            raise KeyError(f"unknown scene object {s.kind} {s.name!r}")
    style = REGION_STYLES[region]
    im = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(im)
    pal = Palette(style, rng)
    indoor = all(s.kind == "concept" and CONCEPT_DRAWERS[s.name][3] for s in specs)
    if indoor:
        ground = background(d, size, level, style, style.walls[wall_index % len(style.walls)], rng)
        clutter(d, size, ground, rng, pal)
    else:
        ground = outdoor(d, size, style, rng, rng.uniform(0.6, 0.72))
        for _ in range(int(rng.integers(2, 5))):  # a low skyline
            x, w, h = rng.uniform(0, size), rng.uniform(4, 11), rng.uniform(3, 12)
            d.rectangle((x, ground - h, x + w, ground), fill=jitter(shade(style.sky, 0.7), rng, 15))

    scale = _SCALE[len(specs)]
    boxes: list[tuple[float, float]] = []
    for s in specs:
        if s.kind == "landmark":
            aspect = LANDMARK_ASPECT.get(LANDMARK_BY_ID[s.name].family, 1.0)
            h = size * rng.uniform(0.5, 0.72)
            w = min(size * scale, h / aspect)
        else:
            _, (wmin, wmax), aspect, _ = CONCEPT_DRAWERS[s.name]
            w = size * rng.uniform(wmin, wmax) * scale
            h = min(w * aspect * rng.uniform(0.9, 1.1), size * 0.85)
        boxes.append((w, h))
    total = sum(w for w, _ in boxes)
    if total > size * 0.96:  # shrink all alike so they fit side by side
        f = size * 0.96 / total
        boxes = [(w * f, h * f) for w, h in boxes]
    xs = _layout(boxes, size, rng)
    bottoms = []
    for s in specs:
        if s.kind == "landmark":
            bottoms.append(ground + rng.uniform(0.0, 0.1) * (size - ground))
        elif indoor:
            bottoms.append(min(size - 1.0, ground + rng.uniform(0.05, 0.3) * (size - ground)))
        else:
            bottoms.append(min(size - 1.0, ground + rng.uniform(0.3, 0.9) * (size - ground)))
    # Farther first: landmarks, then objects whose feet are higher up the floor.
    order = sorted(range(len(specs)), key=lambda i: (specs[i].kind != "landmark", bottoms[i]))
    drawn: list[tuple[int, np.ndarray]] = []
    for i in order:
        s, (w, h) = specs[i], boxes[i]
        mask_im = Image.new("L", (size, size), 0)
        tee = cast(ImageDraw.ImageDraw, _TeeDraw(d, ImageDraw.Draw(mask_im)))
        pen = Pen(tee, (xs[i], bottoms[i] - h, w, h))
        if s.kind == "landmark":
            lm = LANDMARK_BY_ID[s.name]
            LANDMARK_DRAWERS[lm.family](pen, lm, rng)
        else:
            CONCEPT_DRAWERS[s.name][0](pen, s.level, pal, rng)
        drawn.append((i, np.asarray(mask_im) > 0))

    pixels = np.asarray(im)
    finish_level = level if indoor else (1 if rng.random() < 0.5 else 2)
    out, flipped = finish_flipped(im, rng, finish_level)
    objects: list[tuple[int, SceneObject]] = []
    hidden = 0
    covered = np.zeros((size, size), dtype=bool)
    for i, full in reversed(drawn):  # nearest first: what it covers is hidden behind it
        visible = full & ~covered
        covered |= full
        if not visible.any() or visible.sum() < MIN_VISIBLE * max(1, int(full.sum())):
            hidden += 1
            continue
        colors = named_colors(pixels[visible])
        mask = visible[:, ::-1].copy() if flipped else visible
        objects.append((i, SceneObject(specs[i], mask, colors)))
    objects.sort(key=lambda t: t[0])  # back in the order of ``specs``
    return Scene(out, [o for _, o in objects], indoor, hidden)


__all__ = ["COLORS", "ObjectSpec", "Scene", "SceneObject", "named_colors", "render_scene"]
