"""A multilingual tokenizer for from-scratch training (Hugging Face ``tokenizers``).

BPE over NFKC-normalised text with SentencePiece-style ``▁`` word boundaries, so scripts
written without spaces (Chinese, Japanese, Thai) are segmented by learned merges rather than by
a whitespace pre-tokenizer. Languages can be balanced before training so that a language with
few captions still gets its share of the vocabulary.

BPE rather than Unigram because its training is deterministic: the same captions give the same
tokenizer, byte for byte, in every process. The ``tokenizers`` Unigram trainer iterates hash
maps in a per-process random order, so two runs of the same study got different vocabularies
(and models that differed by several accuracy points).
"""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PAD, EOS, UNK, BOS = "<pad>", "</s>", "<unk>", "<s>"
SPECIAL_TOKENS = [PAD, EOS, UNK, BOS]  # ids 0..3, fixed so model configs can rely on them


def _tokenizer_object(vocab_size: int, captions: Iterable[str]) -> Any:
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE(unk_token=UNK))
    # NFKC folds full-width forms, ligatures and Arabic presentation forms; lowercase because
    # captions of a crawl vary in case but not in meaning.
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        max_token_length=12,
        show_progress=False,
    )
    tok.train_from_iterator(captions, trainer=trainer)
    # Every sequence ends with EOS: CLIP pools there, SigLIP sees it before the padding.
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, 1)]
    )
    return tok


def balance_by_language(
    captions: Sequence[str], languages: Sequence[str], seed: int = 0
) -> list[str]:
    """Resample so every language contributes as many captions as the largest one."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for c, lang in zip(captions, languages, strict=True):
        by_lang[lang].append(c)
    target = max((len(v) for v in by_lang.values()), default=0)
    rng = random.Random(seed)
    out: list[str] = []
    for lang in sorted(by_lang):
        items = by_lang[lang]
        out.extend(items)
        out.extend(rng.choices(items, k=target - len(items)))
    rng.shuffle(out)
    return out


def train_tokenizer(
    captions: Sequence[str],
    vocab_size: int,
    out_dir: str | os.PathLike,
    languages: Sequence[str] | None = None,
    model_max_length: int = 64,
    seed: int = 0,
) -> Any:
    """Train a multilingual BPE tokenizer and save it in ``out_dir``; returns it.

    With ``languages`` (one code per caption) the captions are balanced across languages
    first. The saved files (``tokenizer.json``, ``tokenizer_config.json``) load with
    ``AutoTokenizer`` and inside ``SiglipProcessor`` / ``CLIPProcessor``.
    """
    from transformers import PreTrainedTokenizerFast

    if not captions:
        raise ValueError("train_tokenizer needs at least one caption")
    corpus = balance_by_language(captions, languages, seed) if languages else list(captions)
    tok = _tokenizer_object(vocab_size, corpus)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        bos_token=BOS,
        model_max_length=model_max_length,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)
    return fast


def load_tokenizer(path: str | os.PathLike) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def bytes_per_token(
    tokenizer: Any, captions: Sequence[str], languages: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Per language: UTF-8 bytes, characters and tokens per caption, bytes and chars per token,
    share of unknown tokens, and tokens per caption relative to English (``en``), which is the
    cost that matters for a fixed text length."""
    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    unk = tokenizer.unk_token_id
    enc = tokenizer(list(captions), add_special_tokens=False)["input_ids"]
    for caption, lang, ids in zip(captions, languages, enc, strict=True):
        s = stats[lang]
        s["captions"] += 1
        s["bytes"] += len(caption.encode("utf-8"))
        s["chars"] += len(caption)
        s["tokens"] += len(ids)
        s["unk"] += sum(1 for i in ids if i == unk)
    report: dict[str, dict[str, float]] = {}
    for lang, s in sorted(stats.items()):
        tokens = max(s["tokens"], 1)
        report[lang] = {
            "captions": int(s["captions"]),
            "bytes_per_token": s["bytes"] / tokens,
            "chars_per_token": s["chars"] / tokens,
            "tokens_per_caption": s["tokens"] / s["captions"],
            "unk_rate": s["unk"] / tokens,
        }
    if "en" in report:
        en = report["en"]["chars_per_token"]
        for r in report.values():
            r["chars_per_token_vs_en"] = r["chars_per_token"] / en
    return report


def save_token_report(report: dict[str, dict[str, float]], path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(report, indent=2) + "\n")
