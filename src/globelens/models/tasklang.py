"""The task language: PaliGemma prompts, and the text that answers them, both ways.

One module is the single source of truth for the CLI, the evaluator, the trainer's targets and
the server: prompt builders (``caption en``, ``answer en what is this?``, ``detect a ; b`` ...),
encoders that turn typed targets into suffix text, and parsers that turn generated text back
into typed results. Encoders and parsers are inverses.

Boxes are four ``<locDDDD>`` tokens (1024 bins) in the order y_min, x_min, y_max, x_max of the
image normalised to [0, 1], then the label; objects are separated by `` ; ``. Masks add 16
``<segDDD>`` tokens (a 128-entry codebook, see ``globelens.models.maskcodec``) after the box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

LOC_BINS = 1024
SEG_CODES = 128
SEG_TOKENS_PER_MASK = 16
OBJECT_SEP = " ; "

Task = Literal["caption", "answer", "question", "detect", "segment", "ocr"]
TASKS: tuple[str, ...] = ("caption", "answer", "question", "detect", "segment", "ocr")

#: a box in pixels of the original image: (x_min, y_min, x_max, y_max)
Box = tuple[float, float, float, float]


def loc_token(i: int) -> str:
    return f"<loc{i:04d}>"


def seg_token(i: int) -> str:
    return f"<seg{i:03d}>"


# -- prompt builders ----------------------------------------------------------------------------


def caption(lang: str = "en") -> str:
    return f"caption {lang}"


def answer(question: str, lang: str = "en") -> str:
    return f"answer {lang} {question}"


def question(answer_text: str, lang: str = "en") -> str:
    return f"question {lang} {answer_text}"


def detect(labels: list[str] | tuple[str, ...]) -> str:
    return "detect " + OBJECT_SEP.join(labels)


def segment(labels: list[str] | tuple[str, ...]) -> str:
    return "segment " + OBJECT_SEP.join(labels)


def ocr() -> str:
    return "ocr"


# -- typed results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    label: str
    box: Box
    #: where the score comes from is stated by whoever sets it (the sequence log-probability
    #: by default, see ``parse``)
    score: float = 0.0


@dataclass(frozen=True)
class Segmentation:
    label: str
    box: Box
    #: (height, width) bool mask at the original image's resolution
    mask: np.ndarray = field(repr=False)
    score: float = 0.0


@dataclass(frozen=True)
class Invalid:
    """A part of the generated text that does not parse; counted, scored 0, never raised."""

    #: short machine-readable code: "truncated_loc", "bad_box", "bad_seg", "unknown_label", ...
    reason: str
    text: str


@dataclass
class Parsed:
    """Everything one generated text says, typed."""

    task: str
    text: str
    #: the caption / answer / question / ocr text (None for detect and segment)
    answer: str | None = None
    objects: list[Detection | Segmentation] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
