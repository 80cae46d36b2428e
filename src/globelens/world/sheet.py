"""The contact sheet: pictures by region and income bucket, look-alike landmarks, scenes."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from globelens.groups import INCOME_BUCKET_NAMES
from globelens.world import render
from globelens.world.config import IMAGE_SIZE
from globelens.world.lexicon import (
    LANDMARKS,
)
from globelens.world.places import (
    COUNTRIES,
    COUNTRY_BY_NAME,
    REGIONS,
)
from globelens.world.plans import picture_rng

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


def contact_sheet(seed: int) -> Image.Image:
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
