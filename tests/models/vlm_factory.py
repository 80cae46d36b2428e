"""Tiny PaliGemma directories for tests, built from configs in about a second (no downloads).

``tiny_paligemma_dir(path)`` writes a complete Hugging Face PaliGemma directory: a 48 px SigLIP
tower (patch 8, 36 image tokens), a 2-layer Gemma decoder of width 128 and a byte-fallback BPE
tokenizer with the loc/seg tokens and a chat template. The weights are random but initialised
wider than Gemma's default (std 0.2 instead of 0.02), so that different prompts and pictures
give different outputs instead of one repeated token. The first build per setting is cached
in the process; later calls copy it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

#: words the tokenizer learns merges from (prompts and the kind of answers tests parse)
VLM_TEXTS = [
    "caption en",
    "answer en what is on the table?",
    "detect stove ; lamp ; bed",
    "segment stove",
    "a red stove near a blue lamp in a kitchen",
    "two chairs and a table",
    "une lampe bleue dans une chambre",
]

_BUILT: dict[tuple[Any, ...], Path] = {}


def tiny_paligemma_dir(
    path: str | Path,
    *,
    decoder: str = "tiny",
    seed: int = 0,
    vision: str | Path | dict[str, Any] | None = None,
    codec: Any | None = None,
) -> Path:
    """Write a tiny random PaliGemma directory at ``path`` and return it.

    ``decoder``: "tiny" (PaliGemma 1, Gemma) or "tiny-gemma2" (PaliGemma 2). ``vision``: a
    SigLIP directory or config dict instead of the default fresh tower. ``codec``: a
    ``MaskCodec`` saved beside the model as ``mask_codec.safetensors``.
    """
    from globelens.models.vlm import (
        GEMMA_PRESETS,
        TINY_VISION,
        build_paligemma,
        build_vlm_tokenizer,
        save_generator,
    )

    out = Path(path)
    key = (decoder, seed, str(vision) if vision is not None else None)
    if key not in _BUILT:
        tok = build_vlm_tokenizer(VLM_TEXTS, vocab_size=512)
        dec = {**GEMMA_PRESETS[decoder], "initializer_range": 0.2}
        model, processor = build_paligemma(
            vision if vision is not None else TINY_VISION, dec, tok, seed=seed
        )
        built = Path(tempfile.mkdtemp(prefix="globelens-tiny-paligemma-"))
        atexit.register(shutil.rmtree, built, True)
        save_generator(model, processor, built)
        _BUILT[key] = built
    shutil.copytree(_BUILT[key], out, dirs_exist_ok=True)
    if codec is not None:
        from globelens.models.maskcodec import save_codec
        from globelens.models.vlm import CODEC_FILE

        save_codec(codec, out / CODEC_FILE)
    return out


def fit_answers(
    path: str | Path,
    examples: list[tuple[Any, str, str]],
    *,
    max_steps: int = 80,
    lr: float = 3e-3,
    seed: int = 0,
) -> Path:
    """Fine-tune the model at ``path`` until greedy decoding gives each (image, prompt) its
    answer, then save it in place: a real model with known outputs (e.g. a valid detection)
    for end-to-end tests. ``examples``: (PIL image, prompt, answer suffix). Takes seconds."""
    import torch

    from globelens.models.paligemma import load_generator
    from globelens.models.vlm import save_generator

    gen = load_generator(path)
    images = [e[0] for e in examples]
    prompts = [e[1] for e in examples]
    enc = gen.processor(
        images=images,
        text=["<image>" + p for p in prompts],
        suffix=[e[2] for e in examples],
        padding="longest",
        padding_side="right",
        return_tensors="pt",
    )
    longest = max(len(gen.tokenizer(e[2])["input_ids"]) for e in examples) + 2
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(gen.model.parameters(), lr=lr)
    for step in range(1, max_steps + 1):
        gen.model.train()
        loss = gen.model(**enc).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            gen.model.eval()
            outs = gen.generate(images, prompts, max_new_tokens=longest)
            if [o.text for o in outs] == [e[2] for e in examples]:
                save_generator(gen.model, gen.processor, path)
                return Path(path)
    raise RuntimeError(f"the tiny model did not learn the answers in {max_steps} steps")
