"""Draw what a generative model found (boxes, masks, labels) on the picture."""

from __future__ import annotations

import colorsys

from PIL import Image, ImageDraw, ImageFont

from globelens.data.images import blend_masks
from globelens.models.tasklang import Parsed, Segmentation

MASK_ALPHA = 0.45


def label_colour(label: str) -> tuple[int, int, int]:
    """A bright colour fixed per label (same label, same colour in every picture)."""
    h = (sum(ord(c) * 31**i for i, c in enumerate(label)) % 360) / 360
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_parsed(image: Image.Image, parsed: Parsed) -> Image.Image:
    """A copy of ``image`` with every object's mask (translucent), box and label drawn.

    Boxes and masks are in the picture's own pixels (``tasklang.parse`` of its width and
    height), so they land where the model meant them.
    """
    masks = [
        (obj.mask, label_colour(obj.label))
        for obj in parsed.objects
        if isinstance(obj, Segmentation)
    ]
    canvas = blend_masks(image, masks, MASK_ALPHA)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    width = max(1, round(min(canvas.size) / 150))
    for obj in parsed.objects:
        colour = label_colour(obj.label)
        x0, y0, x1, y1 = obj.box
        draw.rectangle([x0, y0, max(x1, x0), max(y1, y0)], outline=colour, width=width)
        tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), obj.label, font=font)
        tw, th = tx1 - tx0, ty1 - ty0
        top = y0 - th - 2 if y0 - th - 2 >= 0 else y0
        draw.rectangle([x0, top, x0 + tw + 4, top + th + 2], fill=colour)
        draw.text((x0 + 2, top - ty0 + 1), obj.label, fill=(0, 0, 0), font=font)
    return canvas
