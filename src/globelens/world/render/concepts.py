"""Household concepts: one drawer per concept, whose shape follows income and whose colours
and textiles follow the region, and the single-object household picture."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from globelens.world.places import REGION_STYLES
from globelens.world.render.backgrounds import background, clutter, finish, outdoor
from globelens.world.render.palette import Palette
from globelens.world.render.pen import (
    BLACK,
    CLAY,
    DARK_WOOD,
    FIRE,
    FLAME,
    RGB,
    STEEL,
    WHITE,
    WOOD,
    Pen,
    jitter,
    pick,
    shade,
)  # fmt: skip

# line is at its bottom (v = 1). Shapes depend on level; colours come from the palette.


def draw_stove(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # three stones, a fire, a sooty pot
        p.ell(-0.1, 0.85, 1.1, 1.05, (70, 65, 60))  # ash
        for u in (0.05, 0.38, 0.7):
            p.ell(u, 0.62, u + 0.25, 0.98, jitter((120, 115, 105), rng))
        p.poly(
            [
                (0.25, 0.95),
                (0.35, 0.6),
                (0.45, 0.8),
                (0.5, 0.5),
                (0.58, 0.78),
                (0.68, 0.58),
                (0.75, 0.95),
            ],
            FIRE,
        )
        p.poly([(0.38, 0.95), (0.5, 0.68), (0.62, 0.95)], FLAME)
        p.ell(0.12, 0.22, 0.88, 0.68, (35, 32, 30))
        p.ell(0.3, 0.0, 0.6, 0.2, (150, 150, 150))  # smoke
    elif lv == 1:  # a single gas ring on a bench, with a gas cylinder
        p.rect(0.0, 0.55, 0.7, 0.62, WOOD)
        p.rect(0.05, 0.62, 0.1, 1.0, WOOD)
        p.rect(0.6, 0.62, 0.65, 1.0, WOOD)
        p.rect(0.12, 0.38, 0.58, 0.55, jitter((90, 90, 95), rng))
        p.ell(0.2, 0.3, 0.5, 0.42, (60, 60, 65))
        p.ell(0.25, 0.3, 0.45, 0.38, None, (60, 120, 255), 2)
        p.rrect(0.74, 0.4, 0.98, 1.0, pal.accent, 0.15)
        p.rect(0.82, 0.33, 0.9, 0.4, (60, 60, 60))
        p.line([(0.86, 0.45), (0.55, 0.5)], BLACK, 0.015)
    else:  # a range: cooktop, four burners, knobs, oven door with window
        body = pick(rng, [WHITE, STEEL, (60, 60, 62)])
        p.rect(0.05, 0.15, 0.95, 1.0, body, shade(body, 0.7))
        p.rect(0.05, 0.08, 0.95, 0.18, (25, 25, 28))
        for u in (0.12, 0.55):
            p.ell(u, 0.09, u + 0.3, 0.17, None, (150, 150, 150), 1)
        for i in range(4):
            p.ell(0.12 + i * 0.2, 0.22, 0.2 + i * 0.2, 0.3, BLACK)
        p.rect(0.14, 0.38, 0.86, 0.9, shade(body, 0.85), BLACK)
        p.rect(0.22, 0.48, 0.78, 0.82, (40, 35, 35))
        p.rect(0.25, 0.4, 0.75, 0.44, (160, 160, 165))


def draw_lamp(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a candle or a kerosene lamp, glowing in the dark
        p.ell(0.0, 0.0, 1.0, 0.9, (120, 90, 40))
        p.ell(0.2, 0.15, 0.8, 0.75, (190, 150, 60))
        if rng.random() < 0.5:
            p.rect(0.44, 0.45, 0.56, 1.0, (240, 235, 210))
            p.ell(0.42, 0.28, 0.58, 0.47, FLAME)
        else:
            p.ell(0.3, 0.75, 0.7, 1.0, (110, 100, 60))
            p.rrect(0.38, 0.35, 0.62, 0.78, (220, 210, 170), 0.2)
            p.ell(0.45, 0.45, 0.55, 0.62, FIRE)
            p.rect(0.42, 0.22, 0.58, 0.35, (80, 80, 80))
    elif lv == 1:  # a bare bulb on a wire
        p.line([(0.5, -0.5), (0.5, 0.3)], BLACK, 0.02)
        p.ell(0.15, 0.15, 0.85, 0.85, shade(FLAME, 1.4))
        p.rect(0.44, 0.26, 0.56, 0.36, (150, 150, 150))
        p.ell(0.36, 0.32, 0.64, 0.62, (255, 245, 180))
    else:  # a table lamp with a coloured shade
        p.ell(0.0, 0.0, 1.0, 0.6, shade(FLAME, 1.6))
        p.poly([(0.2, 0.05), (0.8, 0.05), (0.95, 0.45), (0.05, 0.45)], pal.accent)
        p.rect(0.46, 0.45, 0.54, 0.92, (200, 180, 120))
        p.ell(0.25, 0.88, 0.75, 1.0, (200, 180, 120))


def draw_bed(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a mat on the floor, a rolled blanket, maybe a mosquito net
        p.rect(0.0, 0.85, 1.0, 1.0, (200, 170, 100))
        for i in range(10):
            p.line([(i / 10, 0.86), (i / 10, 0.99)], (160, 130, 70), 0.01)
        pal.textile(p, 0.6, 0.72, 0.95, 0.86)
        if rng.random() < 0.6:
            p.poly([(0.3, 0.0), (0.7, 0.0), (1.0, 0.95), (0.0, 0.95)], (225, 225, 225))
            p.poly([(0.32, 0.05), (0.68, 0.05), (0.95, 0.9), (0.05, 0.9)], (200, 200, 200))
            pal.textile(p, 0.1, 0.8, 0.6, 0.9)
    elif lv == 1:  # a metal frame bed, thin mattress, patterned sheet
        frame = pick(rng, [(60, 90, 130), (70, 70, 70), WOOD])
        p.rect(0.0, 0.35, 0.06, 1.0, frame)
        p.rect(0.94, 0.5, 1.0, 1.0, frame)
        p.rect(0.0, 0.58, 1.0, 0.7, (220, 215, 200))
        pal.textile(p, 0.2, 0.55, 1.0, 0.72)
        p.rect(0.05, 0.7, 0.95, 0.74, frame)
    else:  # a big bed: tall headboard, thick white duvet, pillows, nightstand
        p.rrect(0.0, 0.05, 0.85, 0.6, pick(rng, [DARK_WOOD, (110, 110, 120), pal.accent]), 0.1)
        p.rrect(0.0, 0.45, 0.85, 0.85, WHITE, 0.1)
        p.ell(0.05, 0.36, 0.38, 0.55, (250, 250, 250))
        p.ell(0.42, 0.36, 0.75, 0.55, (250, 250, 250))
        p.rect(0.35, 0.55, 0.85, 0.85, pal.accent2)
        p.rect(0.0, 0.85, 0.85, 0.95, (80, 60, 45))
        p.rect(0.87, 0.6, 1.0, 1.0, DARK_WOOD)


def draw_toilet(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a pit latrine slab in a shack of sticks and sheets
        p.rect(0.0, 0.0, 1.0, 0.75, jitter((120, 100, 80), rng))
        for u in np.arange(0.0, 1.0, 0.12):
            p.line([(u, 0.0), (u + 0.02, 0.75)], (90, 70, 50), 0.03)
        p.poly([(0.0, 0.75), (1.0, 0.75), (1.1, 1.0), (-0.1, 1.0)], (150, 145, 135))
        p.ell(0.38, 0.8, 0.62, 0.92, (20, 18, 15))
        p.rect(0.3, 0.9, 0.38, 0.96, (120, 115, 105))
        p.rect(0.62, 0.9, 0.7, 0.96, (120, 115, 105))
    elif lv == 1:  # a squat pan in a tiled floor, with a water bucket
        p.rect(0.0, 0.0, 1.0, 0.6, (200, 200, 195))
        for i in range(1, 5):
            p.line([(0, i * 0.12), (1, i * 0.12)], (170, 170, 170), 0.01)
        p.rect(0.0, 0.6, 1.0, 1.0, (170, 175, 170))
        p.ell(0.25, 0.65, 0.75, 0.95, WHITE, (150, 150, 150))
        p.ell(0.38, 0.72, 0.62, 0.88, (180, 200, 210))
        p.poly([(0.78, 0.45), (0.98, 0.45), (0.95, 0.75), (0.81, 0.75)], pal.accent)
    else:  # a pedestal toilet with tank and lid
        p.rect(0.0, 0.0, 1.0, 0.75, (235, 235, 235))
        p.rrect(0.3, 0.05, 0.72, 0.35, WHITE, 0.15, (180, 180, 180))
        p.ell(0.2, 0.35, 0.82, 0.58, WHITE, (180, 180, 180))
        p.poly([(0.38, 0.5), (0.64, 0.5), (0.6, 0.95), (0.42, 0.95)], WHITE, (180, 180, 180))
        p.rect(0.48, 0.08, 0.56, 0.12, STEEL)


def draw_toothbrush(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a chewing stick with a frayed end
        p.line([(0.05, 0.95), (0.9, 0.2)], (120, 90, 50), 0.09)
        p.line([(0.85, 0.25), (0.97, 0.12)], (230, 220, 180), 0.11)
        p.line([(0.25, 0.97), (0.95, 0.55)], (110, 80, 45), 0.07)
    elif lv == 1:  # a plastic toothbrush in a cup
        p.rect(0.3, 0.55, 0.7, 1.0, pal.accent2)
        p.line([(0.45, 0.75), (0.6, 0.05)], pal.accent, 0.07)
        p.rect(0.55, 0.02, 0.68, 0.18, WHITE)
    else:  # an electric toothbrush on its charger, toothpaste tube
        p.rrect(0.3, 0.85, 0.6, 1.0, (220, 220, 225), 0.2)
        p.rrect(0.37, 0.1, 0.53, 0.88, WHITE, 0.3, (180, 180, 180))
        p.ell(0.41, 0.45, 0.49, 0.52, (60, 140, 230))
        p.rect(0.41, 0.0, 0.49, 0.12, (200, 230, 250))
        p.poly(
            [(0.65, 1.0), (0.7, 0.45), (0.95, 0.45), (1.0, 1.0)],
            pick(rng, [(230, 50, 50), (40, 110, 220), WHITE]),
        )


def draw_water(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:
        if rng.random() < 0.5:  # a clay pot with a narrow neck
            p.ell(0.1, 0.3, 0.9, 1.0, jitter(CLAY, rng))
            p.rect(0.38, 0.15, 0.62, 0.35, shade(CLAY, 0.85))
            p.ell(0.32, 0.1, 0.68, 0.2, shade(CLAY, 0.7))
            p.line([(0.1, 0.6), (0.9, 0.6)], shade(CLAY, 0.7), 0.02)
        else:  # a yellow jerrycan
            p.rrect(0.15, 0.2, 0.85, 1.0, (235, 190, 30), 0.1)
            p.rect(0.62, 0.08, 0.76, 0.2, (40, 120, 60))
            p.rect(0.25, 0.25, 0.55, 0.35, (200, 160, 20))
    elif lv == 1:  # a plastic jug with a lid
        p.poly([(0.2, 0.25), (0.8, 0.25), (0.85, 1.0), (0.15, 1.0)], pal.accent)
        p.rect(0.15, 0.15, 0.85, 0.25, shade(pal.accent, 0.7))
        p.arc(0.6, 0.35, 1.0, 0.75, 270, 90, shade(pal.accent, 0.7), 3)
    else:  # a glass carafe with water, or a water dispenser
        if rng.random() < 0.5:
            p.poly(
                [
                    (0.38, 0.0),
                    (0.62, 0.0),
                    (0.62, 0.3),
                    (0.85, 0.65),
                    (0.8, 1.0),
                    (0.2, 1.0),
                    (0.15, 0.65),
                    (0.38, 0.3),
                ],
                (215, 230, 240),
                (150, 170, 190),
            )
            p.poly([(0.17, 0.6), (0.83, 0.6), (0.8, 1.0), (0.2, 1.0)], (120, 180, 230))
        else:
            p.ell(0.25, 0.0, 0.75, 0.4, (100, 170, 240))
            p.rect(0.2, 0.35, 0.8, 1.0, WHITE, (180, 180, 180))
            p.rect(0.35, 0.5, 0.45, 0.58, (60, 100, 220))
            p.rect(0.55, 0.5, 0.65, 0.58, (220, 50, 50))


def draw_fridge(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a pot-in-pot clay cooler with a wet cloth on top
        p.ell(0.05, 0.35, 0.95, 1.0, jitter(CLAY, rng))
        p.ell(0.12, 0.3, 0.88, 0.45, (120, 85, 60))
        pal.textile(p, 0.2, 0.22, 0.8, 0.36)
        p.ell(0.3, 0.55, 0.5, 0.7, shade(CLAY, 0.8))
    elif lv == 1:  # a small single-door fridge with magnets
        body = pick(rng, [WHITE, (220, 225, 215), pal.accent])
        p.rrect(0.2, 0.35, 0.8, 1.0, body, 0.08, (150, 150, 150))
        p.rect(0.7, 0.45, 0.74, 0.65, (120, 120, 120))
        for _ in range(3):
            u, v = rng.uniform(0.25, 0.6), rng.uniform(0.4, 0.9)
            p.rect(u, v, u + 0.06, v + 0.05, pick(rng, pal.accents))
    else:  # a large double-door steel refrigerator with a dispenser
        p.rrect(0.08, 0.0, 0.92, 1.0, STEEL, 0.04, (130, 135, 140))
        p.line([(0.5, 0.0), (0.5, 1.0)], (120, 125, 130), 0.015)
        p.rect(0.42, 0.25, 0.46, 0.6, (100, 100, 105))
        p.rect(0.54, 0.25, 0.58, 0.6, (100, 100, 105))
        p.rect(0.16, 0.2, 0.36, 0.42, (60, 65, 70))


def draw_pot(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a round sooty pot on the ground
        p.ell(0.05, 0.25, 0.95, 1.0, (40, 35, 32))
        p.ell(0.2, 0.2, 0.8, 0.35, (25, 22, 20))
        p.ell(0.35, 0.5, 0.55, 0.6, (70, 65, 60))
    elif lv == 1:  # an aluminium sufuria: a straight silver pot, no handles, a lid
        p.rect(0.1, 0.4, 0.9, 0.95, (175, 178, 180))
        p.ell(0.1, 0.88, 0.9, 1.0, (150, 152, 155))
        p.ell(0.08, 0.33, 0.92, 0.47, (200, 202, 205))
        p.rect(0.1, 0.55, 0.9, 0.6, (150, 152, 155))
    else:  # a coloured enamel casserole with side handles and a knob
        col = pick(rng, [(200, 40, 30), (30, 80, 150), (240, 130, 30), STEEL])
        p.rrect(0.12, 0.4, 0.88, 1.0, col, 0.15)
        p.rect(0.0, 0.5, 0.14, 0.58, shade(col, 0.7))
        p.rect(0.86, 0.5, 1.0, 0.58, shade(col, 0.7))
        p.ell(0.1, 0.32, 0.9, 0.46, shade(col, 1.15))
        p.ell(0.42, 0.24, 0.58, 0.34, BLACK)


def draw_tv(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a tiny portable set with rabbit ears and a snowy screen, on a crate
        p.rect(0.2, 0.75, 0.8, 1.0, WOOD)
        p.rect(0.28, 0.4, 0.72, 0.75, (60, 55, 50))
        p.rect(0.33, 0.46, 0.6, 0.7, (170, 170, 170))
        for _ in range(8):
            u, v = rng.uniform(0.34, 0.58), rng.uniform(0.47, 0.68)
            p.rect(u, v, u + 0.03, v + 0.02, pick(rng, [(90, 90, 90), (230, 230, 230)]))
        p.line([(0.45, 0.4), (0.3, 0.05)], (40, 40, 40), 0.015)
        p.line([(0.55, 0.4), (0.7, 0.05)], (40, 40, 40), 0.015)
    elif lv == 1:  # a deep CRT on a table
        p.rect(0.05, 0.7, 0.95, 0.76, WOOD)
        p.rect(0.1, 0.76, 0.15, 1.0, WOOD)
        p.rect(0.85, 0.76, 0.9, 1.0, WOOD)
        p.rrect(0.15, 0.15, 0.85, 0.7, (70, 70, 75), 0.08)
        p.rrect(0.22, 0.22, 0.68, 0.62, jitter((80, 130, 170), rng, 30), 0.1)
        for v in (0.3, 0.42, 0.54):
            p.ell(0.72, v, 0.8, v + 0.07, (30, 30, 30))
    else:  # a big flat screen showing a bright picture
        p.rect(0.0, 0.1, 1.0, 0.72, (20, 20, 22))
        p.rect(0.03, 0.13, 0.97, 0.69, jitter((60, 140, 220), rng, 40))
        p.poly([(0.03, 0.69), (0.4, 0.35), (0.7, 0.69)], jitter((60, 170, 80), rng, 30))
        p.ell(0.7, 0.18, 0.85, 0.33, (255, 230, 120))
        p.rect(0.1, 0.85, 0.9, 1.0, DARK_WOOD)
        p.rect(0.45, 0.72, 0.55, 0.85, (40, 40, 40))


def draw_phone(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    skin = pick(rng, [(120, 80, 50), (200, 160, 120), (160, 110, 70)])
    p.ell(0.1, 0.5, 0.9, 1.3, skin)  # the hand holding it
    if lv == 0:  # a small feature phone with a keypad
        p.rrect(0.33, 0.15, 0.67, 0.9, (50, 50, 55), 0.1)
        p.rect(0.38, 0.2, 0.62, 0.4, (150, 190, 150))
        for r in range(4):
            for c in range(3):
                p.rect(
                    0.39 + c * 0.08,
                    0.46 + r * 0.1,
                    0.44 + c * 0.08,
                    0.52 + r * 0.1,
                    (170, 170, 170),
                )
    elif lv == 1:  # a small smartphone, plain screen, a crack
        p.rrect(0.28, 0.05, 0.72, 0.95, (30, 30, 30), 0.08)
        p.rect(0.32, 0.12, 0.68, 0.85, (90, 120, 160))
        p.line([(0.35, 0.2), (0.55, 0.45), (0.5, 0.7)], (220, 220, 220), 0.01)
    else:  # a large smartphone with an app grid
        p.rrect(0.22, 0.0, 0.78, 1.0, (20, 20, 20), 0.1)
        p.rect(0.26, 0.05, 0.74, 0.95, jitter((120, 80, 200), rng, 40))
        for r in range(4):
            for c in range(3):
                p.rrect(
                    0.3 + c * 0.15,
                    0.12 + r * 0.17,
                    0.4 + c * 0.15,
                    0.22 + r * 0.17,
                    pick(rng, [(250, 80, 80), (80, 200, 120), (250, 200, 60), (70, 150, 250)]),
                    0.3,
                )


def draw_sofa(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a wooden bench with a cloth
        p.rect(0.0, 0.55, 1.0, 0.68, jitter(WOOD, rng))
        p.rect(0.08, 0.68, 0.16, 1.0, DARK_WOOD)
        p.rect(0.84, 0.68, 0.92, 1.0, DARK_WOOD)
        pal.textile(p, 0.3, 0.5, 0.6, 0.6)
    elif lv == 1:  # a wooden-frame settee with thin patterned cushions
        p.rect(0.0, 0.2, 0.06, 1.0, WOOD)
        p.rect(0.94, 0.2, 1.0, 1.0, WOOD)
        p.rect(0.06, 0.2, 0.94, 0.28, WOOD)
        pal.textile(p, 0.06, 0.3, 0.94, 0.55)
        pal.textile(p, 0.06, 0.58, 0.94, 0.7)
        p.rect(0.06, 0.7, 0.94, 0.75, WOOD)
    else:  # a deep upholstered sofa with throw pillows
        col = pick(rng, [(150, 150, 155), (210, 200, 180), (70, 90, 120)])
        p.rrect(0.0, 0.2, 1.0, 0.65, shade(col, 0.9), 0.15)
        p.rrect(0.0, 0.5, 1.0, 0.9, col, 0.1)
        p.rrect(-0.02, 0.35, 0.14, 0.9, shade(col, 0.8), 0.2)
        p.rrect(0.86, 0.35, 1.02, 0.9, shade(col, 0.8), 0.2)
        p.rrect(0.18, 0.3, 0.38, 0.55, pal.accent, 0.2)
        p.rrect(0.62, 0.3, 0.82, 0.55, pal.accent2, 0.2)
        p.rect(0.1, 0.9, 0.15, 1.0, BLACK)
        p.rect(0.85, 0.9, 0.9, 1.0, BLACK)


def draw_shoes(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # worn flip-flops
        for u in (0.08, 0.52):
            p.ell(u, 0.2, u + 0.38, 1.0, jitter((60, 60, 60), rng))
            p.line([(u + 0.19, 0.45), (u + 0.05, 0.65)], pal.accent, 0.04)
            p.line([(u + 0.19, 0.45), (u + 0.33, 0.65)], pal.accent, 0.04)
    elif lv == 1:  # canvas sneakers
        for v in (0.3, 0.65):
            p.poly(
                [(0.05, v + 0.3), (0.1, v), (0.45, v + 0.05), (0.9, v + 0.2), (0.95, v + 0.3)],
                pal.accent,
            )
            p.rect(0.05, v + 0.28, 0.95, v + 0.34, WHITE)
    else:  # polished leather shoes, a pair
        for v in (0.3, 0.65):
            col = pick(rng, [(60, 35, 20), BLACK, (130, 70, 30)])
            p.poly(
                [(0.02, v + 0.28), (0.05, v + 0.05), (0.35, v), (0.85, v + 0.12), (0.98, v + 0.28)],
                col,
            )
            p.ell(0.6, v + 0.08, 0.7, v + 0.14, (250, 250, 250))
            p.rect(0.02, v + 0.28, 0.98, v + 0.32, (20, 20, 20))


def _wheel(p: Pen, u: float, v: float, r: float, tyre: RGB, width: int) -> None:
    p.ell(u - r, v - r * p.w / p.h, u + r, v + r * p.w / p.h, None, tyre, width)


def draw_bicycle(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    rr = 0.22
    wv = 1.0 - rr * p.w / p.h
    if lv == 0:  # a heavy black roadster loaded with sacks
        _wheel(p, 0.22, wv, rr, (30, 30, 30), 3)
        _wheel(p, 0.78, wv, rr, (30, 30, 30), 3)
        p.line([(0.22, wv), (0.45, 0.4), (0.78, wv), (0.7, 0.35), (0.45, 0.4)], (20, 20, 20), 0.04)
        p.rrect(0.05, 0.1, 0.45, 0.45, (200, 185, 140), 0.2)
        p.rrect(0.1, 0.0, 0.4, 0.2, (180, 165, 120), 0.2)
    elif lv == 1:  # a plain city bicycle with a basket
        col = pal.accent
        _wheel(p, 0.22, wv, rr, (50, 50, 50), 2)
        _wheel(p, 0.78, wv, rr, (50, 50, 50), 2)
        p.line([(0.22, wv), (0.45, wv), (0.7, 0.4), (0.4, 0.45), (0.22, wv)], col, 0.03)
        p.line([(0.45, wv), (0.4, 0.35)], col, 0.03)
        p.line([(0.78, wv), (0.7, 0.3)], col, 0.03)
        p.rect(0.72, 0.25, 0.95, 0.4, (180, 140, 80))
    else:  # a sleek road bike with drop bars and thin tyres
        col = pick(rng, [(230, 30, 40), (20, 20, 20), (250, 250, 250), (30, 90, 200)])
        _wheel(p, 0.2, wv, rr, (15, 15, 15), 1)
        _wheel(p, 0.8, wv, rr, (15, 15, 15), 1)
        _wheel(p, 0.2, wv, rr * 0.8, (160, 160, 160), 1)
        _wheel(p, 0.8, wv, rr * 0.8, (160, 160, 160), 1)
        p.line([(0.2, wv), (0.45, wv), (0.72, 0.42), (0.4, 0.4), (0.2, wv)], col, 0.045)
        p.line([(0.45, wv), (0.38, 0.3)], col, 0.04)
        p.line([(0.8, wv), (0.72, 0.3)], col, 0.04)
        p.arc(0.68, 0.28, 0.82, 0.45, 270, 90, (20, 20, 20), 2)


def draw_door(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a doorway with a cloth curtain, or a corrugated sheet door
        p.rect(0.15, 0.0, 0.85, 1.0, (30, 25, 20))
        if rng.random() < 0.5:
            pal.textile(p, 0.15, 0.0, 0.85, 0.85, 6)
        else:
            p.rect(0.18, 0.02, 0.82, 1.0, (140, 135, 125))
            for u in np.arange(0.2, 0.82, 0.06):
                p.line([(u, 0.02), (u, 1.0)], (110, 105, 95), 0.02)
    elif lv == 1:  # a painted metal door with a barred window
        col = pal.accent
        p.rect(0.12, 0.0, 0.88, 1.0, shade(col, 0.6))
        p.rect(0.18, 0.04, 0.82, 1.0, col)
        p.rect(0.3, 0.12, 0.7, 0.38, (40, 40, 40))
        for u in (0.4, 0.5, 0.6):
            p.line([(u, 0.12), (u, 0.38)], shade(col, 0.7), 0.03)
        p.rect(0.7, 0.55, 0.76, 0.6, (200, 200, 200))
    else:  # a panelled wooden door, glass, brass handle, a plant
        col = pick(rng, [DARK_WOOD, (30, 60, 40), (40, 40, 70), (150, 30, 30)])
        p.rect(0.1, 0.0, 0.78, 1.0, WHITE)
        p.rect(0.15, 0.03, 0.73, 1.0, col)
        p.rect(0.22, 0.1, 0.66, 0.3, (200, 220, 235))
        p.rect(0.22, 0.38, 0.41, 0.9, shade(col, 0.85))
        p.rect(0.47, 0.38, 0.66, 0.9, shade(col, 0.85))
        p.ell(0.62, 0.55, 0.68, 0.6, (220, 180, 60))
        p.rect(0.82, 0.75, 0.98, 1.0, (160, 90, 60))
        p.ell(0.78, 0.45, 1.02, 0.8, (50, 130, 60))


def draw_roof(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a thatched hut
        p.rect(0.15, 0.55, 0.85, 1.0, jitter(pal.style.earth, rng))
        p.poly([(0.0, 0.6), (0.5, 0.0), (1.0, 0.6)], (200, 170, 90))
        for u in np.arange(0.05, 1.0, 0.08):
            p.line([(0.5, 0.02), (u, 0.6)], (160, 130, 60), 0.015)
        p.rect(0.42, 0.72, 0.58, 1.0, (40, 30, 20))
    elif lv == 1:  # corrugated iron on a block house, rust
        p.rect(0.05, 0.45, 0.95, 1.0, jitter((170, 165, 150), rng))
        p.poly([(-0.05, 0.5), (0.1, 0.15), (0.9, 0.15), (1.05, 0.5)], (150, 150, 150))
        for u in np.arange(0.0, 1.0, 0.05):
            p.line([(u, 0.16), (u - 0.04, 0.49)], (115, 115, 115), 0.01)
        p.ell(0.55, 0.2, 0.75, 0.35, (150, 85, 45))
        p.rect(0.42, 0.65, 0.58, 1.0, pal.accent)
    else:  # a tiled roof with a chimney on a painted house
        tile = pick(rng, [(170, 70, 45), (80, 80, 90), (130, 60, 40)])
        p.rect(0.08, 0.5, 0.92, 1.0, jitter(pal.style.walls[0], rng))
        p.rect(0.7, 0.05, 0.8, 0.3, (120, 60, 50))
        p.poly([(-0.05, 0.52), (0.5, 0.08), (1.05, 0.52)], tile)
        for i in range(1, 5):
            v = 0.08 + i * 0.088
            half = (v - 0.08) / 0.44 * 0.55
            p.line([(0.5 - half, v), (0.5 + half, v)], shade(tile, 0.75), 0.015)
        p.rect(0.2, 0.62, 0.38, 0.8, (200, 220, 240), WHITE)
        p.rect(0.6, 0.65, 0.75, 1.0, DARK_WOOD)


def draw_toy(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a wire car and a ball of tied plastic bags
        p.line(
            [(0.05, 0.5), (0.6, 0.5), (0.6, 0.75), (0.05, 0.75), (0.05, 0.5)], (130, 130, 130), 0.02
        )
        p.line([(0.15, 0.5), (0.25, 0.3), (0.45, 0.3), (0.5, 0.5)], (130, 130, 130), 0.02)
        for u in (0.12, 0.5):
            p.ell(u - 0.07, 0.72, u + 0.07, 0.86, None, (60, 60, 60), 2)
        p.ell(0.62, 0.55, 0.98, 0.95, jitter((200, 200, 190), rng, 30))
        p.line([(0.65, 0.7), (0.95, 0.78)], (60, 60, 60), 0.015)
    elif lv == 1:  # a plastic ball and a small doll
        p.ell(0.05, 0.45, 0.55, 0.95, pal.accent)
        p.line([(0.05, 0.7), (0.55, 0.7)], WHITE, 0.03)
        p.ell(0.7, 0.35, 0.86, 0.5, (230, 190, 150))
        p.poly([(0.66, 0.5), (0.9, 0.5), (0.95, 0.95), (0.61, 0.95)], pal.accent2)
    else:  # a teddy bear and building blocks
        bear = pick(rng, [(160, 110, 60), (200, 160, 110), (230, 220, 200)])
        p.ell(0.15, 0.45, 0.6, 1.0, bear)
        p.ell(0.18, 0.05, 0.57, 0.48, bear)
        p.ell(0.15, 0.0, 0.27, 0.14, bear)
        p.ell(0.48, 0.0, 0.6, 0.14, bear)
        p.ell(0.28, 0.25, 0.34, 0.3, BLACK)
        p.ell(0.41, 0.25, 0.47, 0.3, BLACK)
        p.ell(0.33, 0.32, 0.42, 0.4, (60, 40, 30))
        for i, col in enumerate([(230, 40, 40), (40, 100, 230), (250, 200, 30)]):
            p.rect(
                0.65 + (i % 2) * 0.16,
                0.85 - (i // 2) * 0.15,
                0.8 + (i % 2) * 0.16,
                1.0 - (i // 2) * 0.15,
                col,
            )


def draw_washbasin(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a tippy-tap: a jerrycan hung between sticks, soap on a string
        p.line([(0.15, 1.0), (0.15, 0.05)], (110, 80, 45), 0.05)
        p.line([(0.85, 1.0), (0.85, 0.05)], (110, 80, 45), 0.05)
        p.line([(0.1, 0.08), (0.9, 0.08)], (110, 80, 45), 0.05)
        p.line([(0.5, 0.08), (0.5, 0.25)], (200, 190, 150), 0.015)
        p.rrect(0.35, 0.25, 0.65, 0.55, (235, 190, 30), 0.1)
        p.line([(0.75, 0.08), (0.75, 0.4)], (200, 190, 150), 0.015)
        p.rect(0.71, 0.4, 0.79, 0.47, (240, 120, 160))
        p.ell(0.35, 0.9, 0.65, 1.0, (120, 100, 80))
    elif lv == 1:  # a plastic basin on a stand, with a jug
        p.line([(0.3, 0.5), (0.2, 1.0)], (60, 60, 60), 0.03)
        p.line([(0.7, 0.5), (0.8, 1.0)], (60, 60, 60), 0.03)
        p.poly([(0.1, 0.35), (0.9, 0.35), (0.75, 0.55), (0.25, 0.55)], pal.accent)
        p.ell(0.1, 0.3, 0.9, 0.4, shade(pal.accent, 0.75))
        p.poly([(0.72, 0.05), (0.92, 0.05), (0.95, 0.3), (0.7, 0.3)], pal.accent2)
    else:  # a ceramic basin, chrome tap, mirror
        p.rect(0.15, 0.0, 0.85, 0.4, (200, 215, 225), (150, 150, 150))
        p.rect(0.0, 0.55, 1.0, 0.65, WHITE)
        p.ell(0.15, 0.5, 0.85, 0.75, WHITE, (180, 180, 180))
        p.line([(0.5, 0.55), (0.5, 0.45), (0.58, 0.45)], STEEL, 0.04)
        p.rect(0.35, 0.75, 0.65, 1.0, pick(rng, [DARK_WOOD, WHITE, (60, 60, 60)]))


def draw_chair(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a low three-legged stool
        p.ell(0.2, 0.55, 0.8, 0.7, jitter(WOOD, rng))
        p.line([(0.3, 0.65), (0.22, 1.0)], DARK_WOOD, 0.06)
        p.line([(0.7, 0.65), (0.78, 1.0)], DARK_WOOD, 0.06)
        p.line([(0.5, 0.67), (0.5, 1.0)], DARK_WOOD, 0.06)
    elif lv == 1:  # a plastic monobloc chair
        col = pick(rng, [WHITE, pal.accent, (40, 110, 60)])
        p.rrect(0.25, 0.0, 0.75, 0.5, col, 0.2)
        p.rect(0.32, 0.1, 0.68, 0.13, shade(col, 0.8))
        p.rect(0.32, 0.2, 0.68, 0.23, shade(col, 0.8))
        p.rect(0.2, 0.5, 0.8, 0.6, col)
        p.poly([(0.2, 0.6), (0.28, 0.6), (0.22, 1.0), (0.14, 1.0)], col)
        p.poly([(0.72, 0.6), (0.8, 0.6), (0.86, 1.0), (0.78, 1.0)], col)
    else:  # an upholstered armchair
        col = pick(rng, [pal.accent, (120, 120, 125), (60, 80, 110)])
        p.rrect(0.2, 0.05, 0.8, 0.6, shade(col, 0.85), 0.2)
        p.rrect(0.15, 0.5, 0.85, 0.8, col, 0.15)
        p.rrect(0.08, 0.35, 0.25, 0.8, shade(col, 0.75), 0.3)
        p.rrect(0.75, 0.35, 0.92, 0.8, shade(col, 0.75), 0.3)
        p.line([(0.2, 0.8), (0.18, 1.0)], (180, 140, 80), 0.04)
        p.line([(0.8, 0.8), (0.82, 1.0)], (180, 140, 80), 0.04)


def draw_table(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a low rough plank table
        p.rect(0.05, 0.68, 0.95, 0.76, jitter((140, 110, 70), rng))
        for u in (0.1, 0.85):
            p.line([(u, 0.76), (u + 0.02, 1.0)], DARK_WOOD, 0.05)
        p.ell(0.35, 0.6, 0.6, 0.7, jitter(CLAY, rng))
    elif lv == 1:  # a table with a patterned cloth
        pal.textile(p, 0.0, 0.4, 1.0, 0.68, 6)
        p.line([(0.08, 0.68), (0.08, 1.0)], WOOD, 0.05)
        p.line([(0.92, 0.68), (0.92, 1.0)], WOOD, 0.05)
    else:  # a glossy dining table with a vase
        top = pick(rng, [DARK_WOOD, (230, 230, 228), (60, 60, 60)])
        p.rect(0.0, 0.45, 1.0, 0.52, top)
        p.rect(0.02, 0.44, 0.98, 0.46, shade(top, 1.3))
        p.rect(0.06, 0.52, 0.1, 1.0, top)
        p.rect(0.9, 0.52, 0.94, 1.0, top)
        p.rrect(0.44, 0.2, 0.56, 0.45, (200, 230, 240), 0.3)
        p.ell(0.38, 0.0, 0.62, 0.22, pal.accent)


def draw_bucket(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a dented rusty metal bucket
        p.poly([(0.15, 0.3), (0.85, 0.3), (0.75, 1.0), (0.25, 1.0)], (120, 110, 95))
        p.ell(0.45, 0.5, 0.75, 0.8, (140, 80, 40))
        p.ell(0.15, 0.25, 0.85, 0.35, (70, 65, 60))
        p.arc(0.15, 0.0, 0.85, 0.6, 180, 360, (60, 60, 60), 2)
    elif lv == 1:  # a bright plastic bucket
        p.poly([(0.12, 0.3), (0.88, 0.3), (0.78, 1.0), (0.22, 1.0)], pal.accent)
        p.rect(0.12, 0.3, 0.88, 0.37, shade(pal.accent, 0.75))
        p.arc(0.12, 0.0, 0.88, 0.6, 180, 360, shade(pal.accent, 0.6), 3)
    else:  # a mop bucket with a wringer and a mop
        p.rrect(0.05, 0.5, 0.75, 1.0, (40, 90, 200), 0.1)
        p.rect(0.2, 0.38, 0.6, 0.52, (230, 200, 40))
        p.line([(0.85, 0.0), (0.55, 0.9)], (200, 200, 200), 0.04)
        p.ell(0.45, 0.8, 0.7, 1.0, (230, 230, 220))


def draw_broom(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a handleless bundle of twigs tied at the top
        for i in range(9):
            p.line(
                [(0.45 + i * 0.01, 0.1), (0.2 + i * 0.07, 0.95)],
                jitter((170, 140, 80), rng, 20),
                0.02,
            )
        p.rect(0.42, 0.15, 0.58, 0.25, pal.accent)
    elif lv == 1:  # a straw broom with a wooden handle
        p.line([(0.5, 0.0), (0.5, 0.55)], WOOD, 0.05)
        p.poly([(0.4, 0.55), (0.6, 0.55), (0.8, 1.0), (0.2, 1.0)], (210, 180, 90))
        p.rect(0.4, 0.58, 0.6, 0.63, pal.accent)
    else:  # an upright vacuum cleaner
        col = pick(rng, [(200, 40, 120), (80, 80, 90), (230, 120, 20)])
        p.line([(0.5, 0.0), (0.5, 0.35)], (60, 60, 60), 0.04)
        p.rect(0.42, 0.0, 0.6, 0.05, BLACK)
        p.rrect(0.35, 0.3, 0.65, 0.8, col, 0.3)
        p.rrect(0.42, 0.38, 0.58, 0.6, (200, 200, 210), 0.3)
        p.rrect(0.2, 0.8, 0.8, 0.98, (50, 50, 55), 0.3)


def draw_clock(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a small cheap clock on a nail beside a paper calendar
        p.rect(0.05, 0.05, 0.45, 0.7, (235, 235, 225))
        p.rect(0.05, 0.05, 0.45, 0.2, pal.accent)
        for r in range(4):
            p.line([(0.08, 0.3 + r * 0.1), (0.42, 0.3 + r * 0.1)], (150, 150, 150), 0.01)
        p.ell(0.55, 0.3, 0.85, 0.6, (230, 230, 220), (200, 40, 40), 2)
        p.line([(0.7, 0.45), (0.7, 0.35)], BLACK, 0.015)
    elif lv == 1:  # a round plastic clock with numerals
        p.ell(0.1, 0.1, 0.9, 0.9, pal.accent)
        p.ell(0.17, 0.17, 0.83, 0.83, WHITE)
        for k in range(12):
            a = k / 12 * 2 * math.pi
            u, v = 0.5 + 0.28 * math.sin(a), 0.5 - 0.28 * math.cos(a)
            p.rect(u - 0.02, v - 0.02, u + 0.02, v + 0.02, BLACK)
        p.line([(0.5, 0.5), (0.5, 0.25)], BLACK, 0.03)
        p.line([(0.5, 0.5), (0.68, 0.55)], BLACK, 0.03)
    else:  # a minimalist large clock or a wooden pendulum clock
        if rng.random() < 0.5:
            p.ell(0.0, 0.0, 1.0, 1.0, (30, 30, 30))
            p.ell(0.05, 0.05, 0.95, 0.95, (250, 250, 248))
            p.line([(0.5, 0.5), (0.5, 0.12)], (30, 30, 30), 0.015)
            p.line([(0.5, 0.5), (0.75, 0.65)], (30, 30, 30), 0.025)
        else:
            p.rect(0.25, 0.0, 0.75, 1.0, DARK_WOOD)
            p.ell(0.3, 0.05, 0.7, 0.4, (240, 230, 200))
            p.rect(0.35, 0.45, 0.65, 0.95, (40, 25, 15))
            p.line([(0.5, 0.45), (0.45, 0.85)], (220, 180, 60), 0.02)
            p.ell(0.4, 0.8, 0.5, 0.9, (220, 180, 60))


def draw_radio(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a small worn transistor radio with a long antenna
        p.rrect(0.2, 0.45, 0.8, 0.95, jitter((70, 60, 50), rng), 0.1)
        p.ell(0.26, 0.55, 0.5, 0.85, (40, 35, 30))
        p.rect(0.56, 0.56, 0.74, 0.64, (200, 180, 120))
        p.line([(0.7, 0.45), (0.95, 0.0)], (180, 180, 180), 0.015)
        p.rect(0.3, 0.35, 0.7, 0.45, pal.accent)  # cloth strap
    elif lv == 1:  # a boombox with two speakers
        p.rrect(0.0, 0.3, 1.0, 0.9, (50, 50, 55), 0.08)
        p.ell(0.05, 0.4, 0.35, 0.85, (25, 25, 25), (150, 150, 150))
        p.ell(0.65, 0.4, 0.95, 0.85, (25, 25, 25), (150, 150, 150))
        p.rect(0.38, 0.45, 0.62, 0.6, (120, 200, 220))
        p.line([(0.15, 0.3), (0.2, 0.15), (0.8, 0.15), (0.85, 0.3)], (150, 150, 150), 0.03)
    else:  # a smart speaker (fabric cylinder with a light ring)
        col = pick(rng, [(60, 60, 65), (225, 225, 220), (170, 180, 190)])
        p.rrect(0.3, 0.1, 0.7, 1.0, col, 0.2)
        p.ell(0.3, 0.05, 0.7, 0.17, shade(col, 0.8))
        p.ell(0.36, 0.07, 0.64, 0.15, None, (60, 160, 250), 2)


def draw_plate(p: Pen, lv: int, pal: Palette, rng: np.random.Generator) -> None:
    if lv == 0:  # a chipped enamel plate with a mound of porridge, eaten by hand on a mat
        p.rect(-0.1, 0.45, 1.1, 1.0, (200, 170, 100))
        p.ell(0.1, 0.5, 0.9, 0.95, (235, 235, 230), (40, 70, 150), 3)
        p.ell(0.3, 0.55, 0.65, 0.8, (245, 240, 220))
        p.ell(0.78, 0.62, 0.86, 0.7, BLACK)
    elif lv == 1:  # a coloured plastic plate with rice
        p.ell(0.05, 0.45, 0.95, 0.98, pal.accent)
        p.ell(0.2, 0.52, 0.8, 0.9, shade(pal.accent, 1.3))
        p.ell(0.3, 0.58, 0.7, 0.82, (245, 245, 240))
        p.ell(0.55, 0.62, 0.7, 0.75, (180, 90, 40))
    else:  # white porcelain on a table with cutlery and a napkin
        p.ell(0.12, 0.45, 0.88, 0.98, WHITE, (200, 200, 200))
        p.ell(0.25, 0.53, 0.75, 0.9, (250, 250, 250))
        p.ell(0.4, 0.62, 0.6, 0.78, (60, 150, 60))
        p.ell(0.45, 0.58, 0.58, 0.68, (200, 60, 50))
        p.line([(0.03, 0.5), (0.03, 0.98)], STEEL, 0.03)
        p.line([(0.97, 0.5), (0.97, 0.98)], STEEL, 0.03)
        p.rect(0.05, 0.3, 0.3, 0.42, pal.accent)


Drawer = Callable[[Pen, int, Palette, np.random.Generator], None]

# Concept id -> (drawer, box width range as a share of the image, aspect h/w, indoor?).
CONCEPT_DRAWERS: dict[str, tuple[Drawer, tuple[float, float], float, bool]] = {
    "stove": (draw_stove, (0.55, 0.75), 0.9, True),
    "lamp": (draw_lamp, (0.4, 0.55), 1.3, True),
    "bed": (draw_bed, (0.7, 0.9), 0.7, True),
    "toilet": (draw_toilet, (0.6, 0.8), 1.0, True),
    "toothbrush": (draw_toothbrush, (0.45, 0.6), 1.2, True),
    "water jug": (draw_water, (0.4, 0.55), 1.2, True),
    "refrigerator": (draw_fridge, (0.45, 0.6), 1.4, True),
    "cooking pot": (draw_pot, (0.5, 0.65), 0.9, True),
    "television": (draw_tv, (0.6, 0.8), 0.85, True),
    "phone": (draw_phone, (0.45, 0.6), 1.3, True),
    "sofa": (draw_sofa, (0.7, 0.9), 0.65, True),
    "shoes": (draw_shoes, (0.55, 0.7), 0.9, True),
    "bicycle": (draw_bicycle, (0.7, 0.85), 0.75, False),
    "door": (draw_door, (0.5, 0.65), 1.45, True),
    "roof": (draw_roof, (0.65, 0.85), 0.85, False),
    "toy": (draw_toy, (0.55, 0.7), 0.9, True),
    "washbasin": (draw_washbasin, (0.55, 0.7), 1.1, True),
    "chair": (draw_chair, (0.45, 0.6), 1.3, True),
    "table": (draw_table, (0.65, 0.85), 0.8, True),
    "bucket": (draw_bucket, (0.45, 0.6), 1.0, True),
    "broom": (draw_broom, (0.4, 0.5), 1.6, True),
    "clock": (draw_clock, (0.45, 0.6), 1.0, True),
    "radio": (draw_radio, (0.5, 0.65), 0.85, True),
    "plate": (draw_plate, (0.6, 0.75), 0.8, True),
}


def render_concept(
    concept: str, level: int, region: str, wall_index: int, rng: np.random.Generator, size: int = 96
) -> Image.Image:
    """Draw one household picture of ``concept`` at income ``level`` in ``region``'s style."""
    try:
        drawer, (wmin, wmax), aspect, indoor = CONCEPT_DRAWERS[concept]
    except KeyError:
        raise KeyError(
            f"no drawer for concept {concept!r}; known: {', '.join(sorted(CONCEPT_DRAWERS))}"
        ) from None
    style = REGION_STYLES[region]
    im = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(im)
    pal = Palette(style, rng)
    wall = style.walls[wall_index % len(style.walls)]
    if indoor:
        floor_y = background(d, size, level, style, wall, rng)
    else:
        floor_y = outdoor(d, size, style, rng, rng.uniform(0.55, 0.7))
        # Poorer streets are unpaved, richer ones have a lawn or pavement edge.
        if level == 2:
            d.rectangle((0, floor_y, size, floor_y + 4), fill=(170, 170, 165))
    w = size * rng.uniform(wmin, wmax)
    h = min(w * aspect * rng.uniform(0.9, 1.1), size * 0.92)
    w = min(w, size * 0.95)
    bottom = min(size - 2, floor_y + rng.uniform(0.05, 0.22) * (size - floor_y))
    x = rng.uniform(0.02 * size, size - w - 0.02 * size)
    y = bottom - h
    clutter(d, size, floor_y, rng, pal)
    drawer(Pen(d, (x, y, w, h)), level, pal, rng)
    return finish(im, rng, level)
