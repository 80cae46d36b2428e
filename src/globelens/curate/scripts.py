"""ISO 15924 script of a text, from the Unicode ranges of its letters."""

from __future__ import annotations

import bisect
from collections import Counter

# (first code point, last code point, ISO 15924 code); sorted by first code point.
_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x005A, "Latn"),
    (0x0061, 0x007A, "Latn"),
    (0x00C0, 0x024F, "Latn"),
    (0x0370, 0x03FF, "Grek"),
    (0x0400, 0x052F, "Cyrl"),
    (0x0530, 0x058F, "Armn"),
    (0x0590, 0x05FF, "Hebr"),
    (0x0600, 0x06FF, "Arab"),
    (0x0750, 0x077F, "Arab"),
    (0x0900, 0x097F, "Deva"),
    (0x0980, 0x09FF, "Beng"),
    (0x0A00, 0x0A7F, "Guru"),
    (0x0A80, 0x0AFF, "Gujr"),
    (0x0B00, 0x0B7F, "Orya"),
    (0x0B80, 0x0BFF, "Taml"),
    (0x0C00, 0x0C7F, "Telu"),
    (0x0C80, 0x0CFF, "Knda"),
    (0x0D00, 0x0D7F, "Mlym"),
    (0x0D80, 0x0DFF, "Sinh"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Laoo"),
    (0x0F00, 0x0FFF, "Tibt"),
    (0x1000, 0x109F, "Mymr"),
    (0x10A0, 0x10FF, "Geor"),
    (0x1100, 0x11FF, "Hang"),
    (0x1200, 0x139F, "Ethi"),
    (0x1780, 0x17FF, "Khmr"),
    (0x1E00, 0x1EFF, "Latn"),
    (0x3040, 0x309F, "Hira"),
    (0x30A0, 0x30FF, "Kana"),
    (0x3130, 0x318F, "Hang"),
    (0x3400, 0x4DBF, "Hani"),
    (0x4E00, 0x9FFF, "Hani"),
    (0xAC00, 0xD7AF, "Hang"),
    (0xF900, 0xFAFF, "Hani"),
    (0xFB50, 0xFDFF, "Arab"),
    (0xFE70, 0xFEFF, "Arab"),
)
_STARTS = [r[0] for r in _RANGES]


def char_script(ch: str) -> str | None:
    """The script of one character, or None for digits, punctuation, spaces and unknowns."""
    cp = ord(ch)
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and _RANGES[i][0] <= cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    return None


def text_script(text: str) -> str:
    """The ISO 15924 code of a text's writing system: the most common script of its letters.

    Japanese mixes kana with Han characters and Korean may mix Hangul with Han, so any kana
    makes a text ``Jpan`` and any Hangul ``Kore``; Han alone is reported as ``Hans`` (telling
    simplified from traditional Chinese needs character tables this does not carry).
    ``Zyyy`` (common) when the text has no letters.
    """
    if text.isascii():
        # ASCII letters are all Latin (and the rest are not letters): no per-character lookup
        return "Latn" if any(ch.isalpha() for ch in text) else "Zyyy"
    counts: Counter[str] = Counter()
    for ch in text:
        script = char_script(ch)
        if script is not None:
            counts[script] += 1
    if not counts:
        return "Zyyy"
    if counts["Hira"] or counts["Kana"]:
        cjk = counts["Hira"] + counts["Kana"] + counts["Hani"]
        if cjk >= max(counts.values()):
            return "Jpan"
    if counts["Hang"] and counts["Hang"] + counts["Hani"] >= max(counts.values()):
        return "Kore"
    top = max(sorted(counts), key=lambda s: counts[s])
    return "Hans" if top == "Hani" else top
