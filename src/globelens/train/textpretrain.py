"""A decoder pretrained on a world's text: the language model a PaliGemma starts from.

PaliGemma's decoder starts as a pretrained language model; a fresh tiny Gemma must otherwise
learn every word of the world's languages inside the short multimodal run. This module trains
that language model once per data set, on the very texts the generative tasks speak (the
``(prefix, suffix)`` pairs of :mod:`globelens.train.targets`: captions, questions and answers,
detection lists with their ``<loc>`` tokens), written as ``<bos> prefix \\n suffix <eos>``, the
text half of a PaliGemma sequence. Gemma's rotary positions are relative, so the weights
read the same text after the picture's tokens.

The result is a Hugging Face ``GemmaForCausalLM`` directory with its tokenizer (the PaliGemma
tokenizer: specials, ``<image>``, loc and seg tokens) and ``textpretrain.json`` (what it was
trained on, for how long, at what CPU cost). ``train-vlm --decoder-init DIR``
(``VLMModelConfig.decoder_init``) starts every tower's decoder from it, so towers compared
with one decoder stay comparable.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from globelens.data.atomic import atomic_path
from globelens.data.shards import read_shards
from globelens.models.vlm import BOS, EOS, GEMMA_PRESETS, build_vlm_tokenizer
from globelens.train.data import SampleError, derive_seed
from globelens.train.targets import TargetContext, build_target

#: the task kinds whose text needs no picture-derived codec (segment and refer need masks)
TEXT_KINDS = ("caption", "answer", "question", "detect")
INFO_FILE = "textpretrain.json"


@dataclass
class TextPretrainConfig:
    """One causal-LM pretraining of a PaliGemma decoder on a data set's task texts."""

    out: str
    #: shard patterns whose ``.json`` carries captions / qa / objects (the world's scenes)
    data: list[str] = field(default_factory=list)
    #: a ``GEMMA_PRESETS`` name (the decoder the multimodal model will have)
    decoder: str = "tiny"
    #: target kinds written as text (each sample gives one text per kind it has)
    kinds: tuple[str, ...] = ("caption", "answer", "detect")
    #: texts per sample and kind (different random choices: another caption, question, order)
    draws: int = 2
    max_samples: int = 20_000
    tokenizer_vocab: int = 1024
    max_tokens: int = 96
    steps: int = 600
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 30
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 1


@dataclass
class TextCorpus:
    """The task texts of a data set, and why samples gave none (counted, never dropped
    silently)."""

    texts: list[str]
    samples: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def task_texts(cfg: TextPretrainConfig) -> TextCorpus:
    """``<bos> prefix \\n suffix <eos>`` texts of every sample and kind, as the generative
    objective would build them (same builders, same prompts)."""
    unknown = sorted(set(cfg.kinds) - set(TEXT_KINDS))
    if unknown:
        raise ValueError(f"text kinds {unknown} are not text-only; choose from {TEXT_KINDS}")
    corpus = TextCorpus([])
    rng = random.Random(derive_seed(cfg.seed, "textpretrain"))
    for pattern in cfg.data:
        for sample in read_shards(pattern, require_caption=False):
            if corpus.samples >= cfg.max_samples:
                return corpus
            corpus.samples += 1
            meta = sample.meta
            ctx = TargetContext(int(meta.get("width") or 1), int(meta.get("height") or 1))
            for kind in cfg.kinds:
                for _ in range(cfg.draws):
                    try:
                        prefix, suffix = build_target(kind, meta, ctx, rng)
                    except SampleError as e:
                        corpus.skipped[str(e)] = corpus.skipped.get(str(e), 0) + 1
                        break
                    corpus.texts.append(f"{BOS}{prefix}\n{suffix}{EOS}")
    if not corpus.texts:
        raise ValueError(f"no task texts in {cfg.data} (skipped: {corpus.skipped})")
    return corpus


def _encode(tok: Any, texts: Sequence[str], max_tokens: int) -> tuple[list[list[int]], int]:
    """Token ids of each text (the ``<bos>``/``<eos>`` written in the text); too long ones
    are counted and left out."""
    ids = tok(list(texts), add_special_tokens=False)["input_ids"]
    kept = [x for x in ids if len(x) <= max_tokens]
    return kept, len(ids) - len(kept)


def _batch(seqs: list[list[int]], seed: int, step: int, size: int, pad: int) -> dict[str, Any]:
    """The step's batch: a pure function of (seed, step), padded on the right."""
    rng = np.random.default_rng(derive_seed(seed, "textpretrain-batch", step))
    pick = [seqs[i] for i in rng.integers(0, len(seqs), size)]
    width = max(map(len, pick))
    ids = torch.full((size, width), pad, dtype=torch.long)
    for row, seq in enumerate(pick):
        ids[row, : len(seq)] = torch.tensor(seq)
    mask = (ids != pad).long()
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _decoder(tok: Any, preset: str, seed: int) -> Any:
    from transformers import AutoConfig, AutoModelForCausalLM

    if preset not in GEMMA_PRESETS:
        raise KeyError(f"unknown decoder preset {preset!r}; available: {sorted(GEMMA_PRESETS)}")
    dec = dict(GEMMA_PRESETS[preset])
    cfg = AutoConfig.for_model(
        dec.pop("model_type"),
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        **dec,
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return AutoModelForCausalLM.from_config(cfg)
    finally:
        torch.random.set_rng_state(state)


def _schedule(cfg: TextPretrainConfig) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to zero (the trainer's default shape)."""

    def factor(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        done = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
        return 0.5 * (1 + np.cos(np.pi * min(done, 1.0)))

    return factor


def _train(
    model: Any, seqs: list[list[int]], pad: int, cfg: TextPretrainConfig
) -> Iterator[dict[str, float]]:
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(cfg))
    model.train()
    for step in range(cfg.steps):
        loss = model(**_batch(seqs, cfg.seed, step, cfg.batch_size, pad)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        yield {"step": step + 1, "loss": loss.item()}


def pretrain_decoder(
    cfg: TextPretrainConfig, log: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    """Train the decoder as ``cfg`` says and write it to ``cfg.out``; ``log`` receives JSON
    records (start, every 50 steps, end). Returns the output folder."""
    torch.set_num_threads(max(cfg.threads, 1))
    say = log or (lambda record: None)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    corpus = task_texts(cfg)
    tok = build_vlm_tokenizer(corpus.texts, vocab_size=cfg.tokenizer_vocab)
    seqs, too_long = _encode(tok, corpus.texts, cfg.max_tokens)
    model = _decoder(tok, cfg.decoder, cfg.seed)
    say({"event": "textpretrain_start", "texts": len(seqs), "too_long": too_long,
         "samples": corpus.samples, "skipped": corpus.skipped, "vocab": len(tok)})  # fmt: skip
    last: dict[str, float] = {}
    for last in _train(model, seqs, tok.pad_token_id, cfg):
        if last["step"] % 50 == 0 or last["step"] == cfg.steps:
            say({"event": "textpretrain_step", **last,
                 "cpu_s": round(time.process_time() - cpu0, 2)})  # fmt: skip
    info = {
        "config": {**asdict(cfg), "kinds": list(cfg.kinds)},
        "texts": len(seqs),
        "too_long": too_long,
        "samples": corpus.samples,
        "skipped": corpus.skipped,
        "final_loss": last.get("loss"),
        "cpu_s": round(time.process_time() - cpu0, 2),
        "wall_s": round(time.perf_counter() - wall0, 2),
    }
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cfg.out, folder=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (Path(tmp) / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    say({"event": "textpretrain_end", **{k: v for k, v in info.items() if k != "config"}})
    return Path(cfg.out)
