"""MetaCLIP metadata: entry lists per language, substring matching, thresholds.

The rules follow the released MetaCLIP code (``metaclip/curation/substr_matching.py`` and
``curate.py`` of facebookresearch/MetaCLIP):

- **text**: stripped, padded with one space on each side, ``, . ; : ? ! ``` wrapped in
  spaces, tabs and newlines turned into spaces (:func:`spacing`);
- **entry**: padded with a space on each side whose end character is not of an unspaced
  script (CJK, Thai, Lao, Burmese, Khmer, Tibetan) or punctuation (:func:`spaced_entry`), so
  spaced scripts match whole words and unspaced ones raw substrings; case-sensitive;
- a text matches every entry whose spaced form occurs in the spaced text (overlaps included),
  found by one Aho-Corasick automaton per language.

One deliberate difference: the released CJK ranges leave out Japanese kana, so an entry ending
in kana (``コンロ``) would need spaces around it, which Japanese text does not have. Kana count
as unspaced here (Hiragana, Katakana and their extensions, half-width Katakana).

Thresholds (MetaCLIP 2): ``t_to_p`` (English tail mass below ``t_en``), ``p_to_t`` (the count
whose cumulative share of a language's sorted counts is nearest the tail mass) and
``entry_probs`` (``t / max(count, t)``), exactly as ``curate.py`` computes them.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

#: MetaCLIP's ``additional_punctuation`` (full-width and CJK punctuation)
EXTRA_PUNCTUATION = frozenset("，。、；：？！“”‘’（）【】《》〈〉「」『』～—")
_PUNCTUATION = frozenset(string.punctuation) | EXTRA_PUNCTUATION
_PUNCTS_TO_WRAP = (",", ".", ";", ":", "?", "!", "`")
_CHARS_TO_SPACE = ("\t", "\n", "\r")

# (first, last) code points of scripts written without spaces between words.
_UNSPACED_RANGES: tuple[tuple[int, int], ...] = (
    (0x4E00, 0x9FFF),  # CJK unified ideographs (the released ranges, in their order)
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0x2CEB0, 0x2EBEF),
    (0xF900, 0xFAFF),
    (0x2E80, 0x2EFF),
    (0x2F00, 0x2FDF),
    (0x2FF0, 0x2FFF),
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Burmese
    (0x1780, 0x17FF),  # Khmer
    (0x0F00, 0x0FFF),  # Tibetan
    (0x3040, 0x309F),  # Hiragana (not in the released ranges; see the module docstring)
    (0x30A0, 0x30FF),  # Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0xFF65, 0xFF9F),  # half-width Katakana
)

#: the language of texts whose own language has no list (MetaCLIP 2's ``other``)
OTHER = "other"
METADATA_SUFFIXES = (".txt", ".json")


def is_unspaced_or_punctuation(ch: str) -> bool:
    """Whether an entry ending in ``ch`` is matched without a space on that side."""
    cp = ord(ch)
    return ch in _PUNCTUATION or any(lo <= cp <= hi for lo, hi in _UNSPACED_RANGES)


def spacing(text: str) -> str:
    """A text as the matcher sees it (MetaCLIP's ``spacing`` of the stripped text)."""
    spaced = f" {text.strip()} "
    for punct in _PUNCTS_TO_WRAP:
        spaced = spaced.replace(punct, f" {punct} ")
    for ch in _CHARS_TO_SPACE:
        spaced = spaced.replace(ch, " ")
    return spaced


def spaced_entry(entry: str) -> str:
    """An entry as the automaton holds it: space-padded on its spaced-script sides."""
    if not is_unspaced_or_punctuation(entry[0]):
        entry = f" {entry}"
    if not is_unspaced_or_punctuation(entry[-1]):
        entry = f"{entry} "
    return entry


def clean_entries(raw: Iterable[str]) -> list[str]:
    """Entries stripped; blanks, entries of punctuation only (MetaCLIP's metadata builder
    skips them too: ``.`` would match every sentence) and repeats dropped (the first keeps
    its id)."""
    seen: dict[str, None] = {}
    for item in raw:
        entry = item.strip()
        if entry and entry not in seen and not all(ch in _PUNCTUATION for ch in entry):
            seen[entry] = None
    return list(seen)


def read_entries(path: str | os.PathLike) -> list[str]:
    """One metadata list: ``.txt`` (one entry a line, UTF-8) or ``.json`` (a list of
    entries, or an object whose keys are the entries, MetaCLIP 2's ``metadata_per_lang``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".txt":
        return clean_entries(text.splitlines())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"metadata file {path} is not valid JSON: {e}") from e
    if isinstance(data, dict):
        data = list(data)
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise ValueError(
            f"metadata file {path} must hold a JSON list of strings or an object whose keys "
            "are the entries"
        )
    return clean_entries(data)


def load_metadata(source: str | os.PathLike) -> dict[str, list[str]]:
    """Entry lists by language from a folder of ``{lang}.txt`` / ``{lang}.json`` files, or
    from one such file (its stem names the language)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in METADATA_SUFFIXES)
        if not files:
            raise ValueError(f"metadata folder {path} holds no {{lang}}.txt or {{lang}}.json file")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"metadata {str(path)!r} not found (a folder or a list file)")
    lists: dict[str, list[str]] = {}
    for file in files:
        if file.stem in lists:
            raise ValueError(f"metadata folder {path} has two lists for {file.stem!r}")
        lists[file.stem] = read_entries(file)
    return lists


class Matcher:
    """Matches texts against one entry list: ``match(text)`` -> sorted distinct entry ids."""

    def __init__(self, entries: Sequence[str]) -> None:
        import ahocorasick

        self.entries = list(entries)
        self._automaton = ahocorasick.Automaton()
        for i, entry in enumerate(self.entries):
            self._automaton.add_word(spaced_entry(entry), i)
        if self.entries:
            self._automaton.make_automaton()

    def match(self, text: str) -> list[int]:
        if not self.entries:
            return []
        return sorted({i for _end, i in self._automaton.iter(spacing(text))})


# ------------------------------------------------------------------------------ thresholds


def t_to_p(counts: np.ndarray, t: float) -> float:
    """The tail mass: the share of matches of entries counted fewer than ``t`` times."""
    counts = np.asarray(counts, dtype=np.int64)
    return float(counts[counts < t].sum() / counts.sum())


def p_to_t(counts: np.ndarray, p: float) -> int:
    """The threshold of a language: its sorted counts' value where the cumulative share is
    nearest the tail mass ``p`` (the first such, as ``numpy.argmin`` picks)."""
    ordered = np.sort(np.asarray(counts, dtype=np.int64))
    share = np.cumsum(ordered) / ordered.sum()
    return int(ordered[int(np.abs(share - p).argmin())])


def entry_probs(counts: np.ndarray, t: float) -> np.ndarray:
    """Each entry's keep probability ``t / max(count, t)`` (1 for tail entries)."""
    counts = np.asarray(counts, dtype=np.float64)
    if t <= 0:
        return np.zeros_like(counts)
    return t / np.maximum(counts, t)
