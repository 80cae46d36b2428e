"""Caption metrics: pycocoevalcap's CIDEr-D, BLEU and ROUGE-L on its PTB tokenizer's output.

pycocoevalcap *is* the reference (COCO captions, CLIP_benchmark, lmms-eval all call it), so its
scorers are called and its tokenizer jar is run with its own command line, not re-implemented
(only the 15-line wrapper around the jar is ours, see :func:`_run_ptb`). Two more things are
ours and stated:

- text goes through :func:`clean_text` first: the Java tokenizer works line by line, and a
  generated ``\\r`` or U+2028 would split a line and shift every later caption onto the wrong
  image;
- languages written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) are split into
  characters after PTB tokenization, otherwise a whole caption is one "word" and CIDEr is ~0.

CIDEr's IDF comes from the references of the whole evaluated set (one corpus per language, as
on XM3600); group CIDEr is the mean of the per-image scores of the group's images under that
one IDF, so groups are comparable with each other and with the overall number.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Scripts written without spaces between words: Han, Hiragana, Katakana, Thai, Lao, Myanmar,
# Khmer (and CJK punctuation/compatibility blocks), by code point range.
_NO_SPACE = re.compile(
    "([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u0e80-\u0eff"
    "\u1000-\u109f\u1780-\u17ff\uff66-\uff9f])"
)
CHAR_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "yue", "wuu"})


class JavaMissingError(RuntimeError):
    """pycocoevalcap's PTB tokenizer needs ``java`` on PATH."""


def clean_text(text: str) -> str:
    """One line of printable text: every whitespace run (incl. ``\\r``, U+2028) -> one space,
    control characters dropped."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(text))
    return " ".join(text.split())


def char_split(tokens: str) -> str:
    """Split characters of space-less scripts into their own tokens (other words unchanged)."""
    return " ".join(_NO_SPACE.sub(r" \1 ", tokens).split())


def _run_ptb(lines: list[str]) -> list[str]:
    """pycocoevalcap's PTBTokenizer on one text per line: its jar, its exact command line
    (``-preserveLines -lowerCase``) and its punctuation list. Its Python wrapper writes its
    temporary file into the installed package folder (which fails where site-packages is
    read-only) and lets Java print to our stderr; this runs the same program with the file in
    the temp folder. Equality with the wrapper is tested."""
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    import pycocoevalcap.tokenizer.ptbtokenizer as ptb

    jar = Path(ptb.__file__).with_name(ptb.STANFORD_CORENLP_3_4_1_JAR)
    if not jar.is_file():
        raise FileNotFoundError(f"pycocoevalcap's tokenizer jar is missing: {jar}")
    fd, path = tempfile.mkstemp(prefix="globelens-ptb-", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write("\n".join(lines).encode())
        cmd = ["java", "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer",
               "-preserveLines", "-lowerCase", path]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, check=False)
    finally:
        os.unlink(path)
    if res.returncode != 0:
        raise RuntimeError(f"PTB tokenizer failed: {res.stderr.decode(errors='replace')[-500:]}")
    out = res.stdout.decode().split("\n")
    punct = set(ptb.PUNCTUATIONS)
    return [" ".join(w for w in ln.rstrip().split(" ") if w not in punct) for ln in out]


def ptb_tokenize(texts: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """pycocoevalcap's PTBTokenizer (lower-cased, punctuation removed) on {key: [texts]}."""
    if shutil.which("java") is None:
        raise JavaMissingError(
            "caption metrics use pycocoevalcap's PTB tokenizer, which needs Java: install a JRE "
            "(Debian: apt-get install default-jre-headless; `make test` does it)"
        )
    # Empty lines would vanish from the tokenizer's output and shift the rest: send only
    # non-empty texts, the empty ones tokenize to "" by definition.
    cleaned = {k: [clean_text(t) for t in v] for k, v in texts.items()}
    items = [(k, i, t) for k, v in cleaned.items() for i, t in enumerate(v) if t]
    out: dict[str, list[str]] = {k: [""] * len(v) for k, v in cleaned.items()}
    if not items:
        return out
    tok = _run_ptb([t for _, _, t in items])
    if len(tok) < len(items) or any(ln.strip() for ln in tok[len(items) :]):
        raise RuntimeError("PTB tokenizer output does not line up with its input")
    for (k, i, _), line in zip(items, tok, strict=False):
        out[k][i] = line
    return out


@dataclass
class CaptionScores:
    """Corpus scores and per-image scores (same order as the input keys)."""

    keys: list[str]
    corpus: dict[str, float]  # CIDEr, Bleu_1..Bleu_4, ROUGE_L
    per_image: dict[str, np.ndarray]  # CIDEr, ROUGE_L, Bleu_4 (sentence level)


def score_tokenized(
    refs: Mapping[str, Sequence[str]], preds: Mapping[str, str], keys: Sequence[str] | None = None
) -> CaptionScores:
    """CIDEr-D / BLEU / ROUGE-L on already tokenized text (pycocoevalcap's scorers)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    keys = list(keys if keys is not None else refs)
    keys = [k for k in keys if refs.get(k)]
    if not keys:
        nan = float("nan")
        return CaptionScores([], {"CIDEr": nan, "Bleu_4": nan, "ROUGE_L": nan}, {})
    gts = {k: list(refs[k]) for k in keys}
    res = {k: [preds.get(k, "")] for k in keys}
    cider, cider_img = Cider().compute_score(gts, res)
    with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its length ratio
        bleu, bleu_img = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_img = Rouge().compute_score(gts, res)
    corpus = {"CIDEr": float(cider), "ROUGE_L": float(rouge)}
    corpus.update({f"Bleu_{n + 1}": float(b) for n, b in enumerate(bleu)})
    per = {
        "CIDEr": np.asarray(cider_img, float),
        "ROUGE_L": np.asarray(rouge_img, float),
        "Bleu_4": np.asarray(bleu_img[3], float),
    }
    return CaptionScores(keys, corpus, per)


def caption_scores(
    refs: Mapping[str, Sequence[str]],
    preds: Mapping[str, str],
    lang: str = "en",
) -> CaptionScores:
    """Tokenize (PTB; character split for space-less languages) and score one language's set.

    ``refs``: {image key: reference captions}; ``preds``: {image key: generated caption}. Images
    without a prediction score as an empty caption (0), never disappear.
    """
    return caption_scores_by_language({lang: (refs, preds)})[lang]


def caption_scores_by_language(
    sets: Mapping[str, tuple[Mapping[str, Sequence[str]], Mapping[str, str]]],
) -> dict[str, CaptionScores]:
    """:func:`caption_scores` for several languages ({lang: (refs, preds)}), each its own
    corpus, with one tokenizer call for all of them (Java starts once)."""
    texts: dict[str, list[str]] = {}
    keys: dict[str, list[str]] = {}
    for lang, (refs, preds) in sets.items():
        keys[lang] = [k for k in refs if refs[k]]
        for k in keys[lang]:
            texts[f"{lang}\0r{k}"] = list(refs[k])
            texts[f"{lang}\0p{k}"] = [preds.get(k, "")]
    tok = ptb_tokenize(texts)
    out = {}
    for lang, ks in keys.items():
        split = char_split if lang.split("-")[0].lower() in CHAR_LANGS else (lambda s: s)
        t_refs = {k: [split(s) for s in tok[f"{lang}\0r{k}"]] for k in ks}
        t_preds = {k: split(tok[f"{lang}\0p{k}"][0]) for k in ks}
        out[lang] = score_tokenized(t_refs, t_preds, ks)
    return out
