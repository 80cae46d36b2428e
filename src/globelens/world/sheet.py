"""The contact sheet: pictures by region and income bucket, look-alike landmarks, scenes."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import globelens.world.render as render
from globelens.groups import INCOME_BUCKET_NAMES
from globelens.world.config import IMAGE_SIZE, WorldConfig
from globelens.world.lexicon import (
    LANDMARKS,
)
from globelens.world.places import (
    COUNTRIES,
    COUNTRY_BY_NAME,
    REGIONS,
)
from globelens.world.plans import STREAMS, picture_rng
from globelens.world.scenes import captions_for, draw_scene, object_name

_SHEET_COUNTRY = {
    "Africa": "Kenya", "Americas": "Mexico", "EastAsia": "China", "Europe": "Germany",
    "SouthEastAsia": "Indonesia", "WestAsia": "Iran", "Anglosphere": "United States",
}  # fmt: skip
_SHEET_INCOMES = (90.0, 420.0, 1200.0, 5000.0)
_SHEET_CONCEPTS = ("stove", "lamp", "toilet")
_SHEET_LANDMARKS = ("milad_tower", "cn_tower", "se_cathedral", "notre_dame_montreal",
                    "eiffel_tower", "tokyo_tower", "giza_pyramids", "chichen_itza")  # fmt: skip


def _ascii(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def _classic(seed: int) -> Image.Image:
    """Pictures by region (rows) and income bucket (columns), plus look-alike landmarks."""
    t = IMAGE_SIZE
    label_w, head_h, gap = 120, 22, 6
    cell_w = len(_SHEET_CONCEPTS) * t + gap
    width = label_w + len(_SHEET_INCOMES) * cell_w
    lm_row = head_h + t + 20
    height = head_h + len(REGIONS) * (t + 2) + lm_row
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    font, small = _font(13), _font(11)
    for j, name in enumerate(INCOME_BUCKET_NAMES):
        d.text(
            (label_w + j * cell_w + 4, 4),
            f"{name} /month: {', '.join(_SHEET_CONCEPTS)}",
            fill=(0, 0, 0),
            font=font,
        )
    for i, region in enumerate(REGIONS):
        c = COUNTRY_BY_NAME[_SHEET_COUNTRY[region]]
        y = head_h + i * (t + 2)
        d.text((4, y + t // 2 - 16), region, fill=(0, 0, 0), font=font)
        d.text((4, y + t // 2 + 2), f"({c.name}, {c.language})", fill=(80, 80, 80), font=small)
        for j, income in enumerate(_SHEET_INCOMES):
            for k, concept in enumerate(_SHEET_CONCEPTS):
                rng = picture_rng(seed, 100 + i, j * 10 + k)
                level = render.income_level(income, rng)
                im = render.render_concept(concept, level, region, COUNTRIES.index(c), rng, t)
                sheet.paste(im, (label_w + j * cell_w + k * t, y))
    y = head_h + len(REGIONS) * (t + 2) + 14
    d.text((4, y + t // 2 - 8), "look-alike\nlandmarks", fill=(0, 0, 0), font=font)
    for k, lid in enumerate(_SHEET_LANDMARKS):
        lm = next(x for x in LANDMARKS if x.id == lid)
        x = label_w + k * (t + 24)
        sheet.paste(render.render_landmark(lm, picture_rng(seed, 200, k), t), (x, y))
        d.text((x, y - 13), _ascii(lm.name)[:20], fill=(0, 0, 0), font=small)
        d.text((x, y + t + 1), f"({lm.country})", fill=(80, 80, 80), font=small)
    return sheet


# Distinct colours for up to four objects of a scene.
_OBJECT_COLORS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48))
_SHEET_SCENES = 8


def _scene_panel(seed: int, index: int, zoom: int) -> tuple[Image.Image, str]:
    """A benchmark scene (as drawn, before JPEG) with its boxes and labels, beside its masks."""
    scene, c, _income, _level, rng = draw_scene(
        seed, STREAMS["scene_benchmarks"], index, WorldConfig(), balanced=True
    )
    side = scene.image.width * zoom
    big = scene.image.resize((side, side), Image.Resampling.NEAREST)
    boxes = big.copy()
    d = ImageDraw.Draw(boxes)
    masks = np.asarray(big, dtype=np.float32) * 0.35
    for k, o in enumerate(scene.objects):
        col = _OBJECT_COLORS[k % len(_OBJECT_COLORS)]
        x, y, w, h = (v * zoom for v in o.bbox)
        d.rectangle((x, y, x + w - 1, y + h - 1), outline=col, width=2)
        d.text((x + 2, y + 1), _ascii(object_name(o.spec, "en"))[:14], fill=col, font=_font(10))
        m = np.kron(o.mask, np.ones((zoom, zoom), dtype=bool))
        masks[m] = masks[m] * 0.3 + np.array(col, dtype=np.float32) * 0.7
    panel = Image.new("RGB", (2 * side + 4, side), (255, 255, 255))
    panel.paste(boxes, (0, 0))
    panel.paste(Image.fromarray(masks.astype(np.uint8)), (side + 4, 0))
    caption = captions_for(scene.objects, "en", c, rng)[0]
    return panel, f"{c.name}: {_ascii(caption)}"


def _scene_rows(seed: int, width: int, label_w: int) -> Image.Image:
    """Benchmark scenes with their boxes and masks, so a person can see what the sets hold."""
    zoom, per_row, gap, text_h = 2, 4, 24, 16
    panels = [_scene_panel(seed, i, zoom) for i in range(_SHEET_SCENES)]
    pw, ph = panels[0][0].size
    rows = -(-len(panels) // per_row)
    out = Image.new("RGB", (width, 14 + rows * (ph + text_h + 6)), (255, 255, 255))
    d = ImageDraw.Draw(out)
    d.text((4, 14 + ph // 2 - 16), "scenes:\nboxes,\nmasks", fill=(0, 0, 0), font=_font(13))
    for n, (panel, text) in enumerate(panels):
        x = label_w + (n % per_row) * (pw + gap)
        y = 14 + (n // per_row) * (ph + text_h + 6)
        out.paste(panel, (x, y))
        d.text((x, y + ph + 2), text[:40], fill=(80, 80, 80), font=_font(11))
    return out


def contact_sheet(seed: int) -> Image.Image:
    """Pictures by region (rows) and income bucket (columns), look-alike landmarks, and
    benchmark scenes with their boxes and masks drawn."""
    top = _classic(seed)
    scenes = _scene_rows(seed, top.width, 120)
    sheet = Image.new("RGB", (top.width, top.height + scenes.height), (255, 255, 255))
    sheet.paste(top, (0, 0))
    sheet.paste(scenes, (0, top.height))
    return sheet
