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


#: the released PaliGemma vocabulary: Gemma's 256,000 tokens, ``<loc0000>`` .. ``<loc1023>``
#: from 256,000, ``<seg000>`` .. ``<seg127>`` from 257,024, ``<image>`` at 257,152; the
#: embedding table is padded to 257,216 rows
GEMMA_VOCAB, LOC0, SEG0, IMAGE_ID, PALIGEMMA_ROWS = 256_000, 256_000, 257_024, 257_152, 257_216


def released_tokenizer() -> Any:
    """A tokenizer with the released PaliGemma ids (``<pad>`` 0, ``<eos>`` 1, ``<bos>`` 2,
    ``<unk>`` 3, bytes, merges learned on ``VLM_TEXTS``, then unused pieces up to 256,000)."""
    import json

    from tokenizers import Tokenizer
    from transformers import AddedToken, PreTrainedTokenizerFast

    from globelens.models.vlm import CHAT_TEMPLATE, IMAGE, _bpe, task_tokens

    data = json.loads(_bpe(VLM_TEXTS, 512).to_str())
    vocab = data["model"]["vocab"]
    vocab.update({f"<unused{i}>": i for i in range(len(vocab), GEMMA_VOCAB)})
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(data)),
        pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>",
    )  # fmt: skip
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in task_tokens()])
    tok.add_special_tokens(
        {"additional_special_tokens": [AddedToken(IMAGE, normalized=False, special=True)]}
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = 1 << 16
    tok.padding_side = tok.init_kwargs["padding_side"] = "left"
    assert tok.convert_tokens_to_ids(["<loc0000>", "<seg000>", IMAGE]) == [LOC0, SEG0, IMAGE_ID]
    return tok


#: a Gemma 2 decoder shrunk further than ``tiny-gemma2``: 257,216 rows x 32 is the bulk
NARROW_GEMMA2 = {"model_type": "gemma2", "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                 "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 512,
                 "max_position_embeddings": 512, "initializer_range": 0.2}  # fmt: skip


def released_paligemma_dir(path: str | Path, *, decoder: dict[str, Any] | None = None) -> Path:
    """A PaliGemma 2 directory in the released format, shrunk in width: 224 px and 256 image
    tokens (patch 14), the 257,216-row vocabulary, bf16 weights in safetensors shards with
    their ``model.safetensors.index.json``, ``"dtype": "bfloat16"`` in the config."""
    import torch

    from globelens.models.vlm import build_paligemma

    out = Path(path)
    dec = decoder or NARROW_GEMMA2
    key = ("released", str(sorted(dec.items())))
    if key not in _BUILT:
        vision = {"image_size": 224, "patch_size": 14, "hidden_size": 32,
                  "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}  # fmt: skip
        model, processor = build_paligemma(vision, dict(dec), released_tokenizer(), seed=0)
        model.resize_token_embeddings(PALIGEMMA_ROWS, mean_resizing=False)
        built = Path(tempfile.mkdtemp(prefix="globelens-released-paligemma-"))
        atexit.register(shutil.rmtree, built, True)
        model.to(torch.bfloat16).save_pretrained(built, max_shard_size="8MB")
        processor.save_pretrained(built)
        processor.image_processor.save_pretrained(built)
        _BUILT[key] = built
    shutil.copytree(_BUILT[key], out, dirs_exist_ok=True)
    return out
