"""Fresh PaliGemma models from configs: the tokenizer, decoder presets, and the builder.

A PaliGemma is a SigLIP vision tower, a linear projection and a Gemma decoder reading
``[image tokens] <bos> prefix \\n suffix <eos>`` (PROTOCOLS section 5). ``build_paligemma``
starts the tower from a contrastive SigLIP directory (ours from ``globelens train`` or a Hugging
Face one), the PaliGemma recipe, or from a fresh config; ``save_generator`` writes a Hugging Face
directory that ``AutoModelForImageTextToText``, ``AutoProcessor`` and
``pipeline("image-text-to-text")`` load offline.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from globelens.models.maskcodec import save_codec
from globelens.models.tasklang import LOC_BINS, SEG_CODES, loc_token, seg_token

PAD, EOS, BOS, UNK, IMAGE = "<pad>", "<eos>", "<bos>", "<unk>", "<image>"
#: ids 0..3 as in Gemma's vocabulary, so configs can rely on them
SPECIAL_TOKENS = [PAD, EOS, BOS, UNK]
BYTE_TOKENS = [f"<0x{i:02X}>" for i in range(256)]
#: printable ASCII and the newline that ends every prefix always have their own token
BASE_ALPHABET = [chr(i) for i in range(32, 127)] + ["\n"]
CODEC_FILE = "mask_codec.safetensors"

#: The prompt is the user's text; images become ``<image>`` (the processor expands it to
#: ``image_seq_length`` tokens and adds ``<bos>`` and the closing newline). Earlier assistant
#: turns are appended, so a conversation reads as one prefix.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}<image>"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endfor -%}"
)

#: Gemma decoder shapes. ``tiny`` runs on CPU in tests; ``gemma-2b`` / ``gemma2-2b`` are the
#: PaliGemma 1 / 2 decoders' shapes (for GPUs).
GEMMA_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "model_type": "gemma",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 32,
        "max_position_embeddings": 512,
    },
    "tiny-gemma2": {
        "model_type": "gemma2",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "query_pre_attn_scalar": 32,
        "sliding_window": 256,
        "max_position_embeddings": 512,
    },
    "small": {
        "model_type": "gemma",
        "hidden_size": 384,
        "intermediate_size": 1536,
        "num_hidden_layers": 6,
        "num_attention_heads": 6,
        "num_key_value_heads": 1,
        "head_dim": 64,
        "max_position_embeddings": 1024,
    },
    "gemma-2b": {
        "model_type": "gemma",
        "hidden_size": 2048,
        "intermediate_size": 16384,
        "num_hidden_layers": 18,
        "num_attention_heads": 8,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "max_position_embeddings": 8192,
    },
    "gemma2-2b": {
        "model_type": "gemma2",
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "query_pre_attn_scalar": 256,
        "sliding_window": 4096,
        "max_position_embeddings": 8192,
    },
}

#: a fresh vision tower when no SigLIP directory is given (48 px, patch 8: 36 image tokens)
TINY_VISION: dict[str, Any] = {
    "image_size": 48,
    "patch_size": 8,
    "hidden_size": 96,
    "intermediate_size": 192,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
}


def task_tokens() -> list[str]:
    """The 1024 ``<locDDDD>`` and 128 ``<segDDD>`` tokens, in id order."""
    return [loc_token(i) for i in range(LOC_BINS)] + [seg_token(i) for i in range(SEG_CODES)]


def _bpe(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-fallback BPE in Gemma's layout: specials 0..3, the 256 byte tokens, then merges.

    ``tokenizers`` has no trainer option for byte-fallback vocabularies, so the byte tokens are
    spliced in after training (the merges refer to strings, not ids, and stay valid).
    """
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE(unk_token=UNK, byte_fallback=True))
    tok.normalizer = normalizers.NFKC()
    # Split at spaces but never add a leading one, so decode(encode(text)) == text exactly
    # (parsers read the generated text back character for character).
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size - len(BYTE_TOKENS), len(SPECIAL_TOKENS) + len(BASE_ALPHABET)),
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=BASE_ALPHABET,
        max_token_length=12,
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    data = json.loads(tok.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    learned = [t for t in sorted(vocab, key=vocab.__getitem__) if t not in SPECIAL_TOKENS]
    ordered = SPECIAL_TOKENS + BYTE_TOKENS + [t for t in learned if t not in BYTE_TOKENS]
    data["model"]["vocab"] = {t: i for i, t in enumerate(ordered)}
    data["model"]["byte_fallback"] = True
    for added in data["added_tokens"]:
        added["id"] = ordered.index(added["content"])
    tok = Tokenizer.from_str(json.dumps(data))
    tok.decoder = decoders.Sequence(
        [decoders.Metaspace(prepend_scheme="never"), decoders.ByteFallback(), decoders.Fuse()]
    )
    # The processor adds <bos>, <eos> and the newline itself; the pair (prefix, suffix) gets
    # token type 1 on the suffix, from which the processor builds the labels.
    tok.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1")
    return tok


def build_vlm_tokenizer(
    texts: Iterable[str] | None = None,
    vocab_size: int = 4096,
    base: str | os.PathLike | Any | None = None,
) -> Any:
    """A ``PreTrainedTokenizerFast`` for PaliGemma with ``<pad> <eos> <bos> <unk> <image>``,
    byte fallback, the 1024 ``<locDDDD>`` + 128 ``<segDDD>`` tokens and a chat template.

    ``texts``: captions, questions and answers to learn merges from (``vocab_size`` counts the
    256 byte tokens but not the task tokens); without them the vocabulary is bytes and ASCII.
    ``base``: a tokenizer (or its directory) to extend instead, e.g. a SigLIP model's; the
    missing special and task tokens are added to it.
    """
    from transformers import AddedToken, AutoTokenizer, PreTrainedTokenizerFast

    if base is not None:
        tok = (
            AutoTokenizer.from_pretrained(base, local_files_only=True)
            if isinstance(base, str | os.PathLike)
            else base
        )
        missing = {
            "pad_token": PAD,
            "eos_token": EOS,
            "bos_token": BOS,
            "unk_token": UNK,
        }
        tok.add_special_tokens(
            {k: AddedToken(v, special=True) for k, v in missing.items() if getattr(tok, k) is None}
        )
    else:
        tok = PreTrainedTokenizerFast(
            tokenizer_object=_bpe(texts or [], vocab_size),
            pad_token=PAD,
            eos_token=EOS,
            bos_token=BOS,
            unk_token=UNK,
        )
    if IMAGE not in tok.get_vocab():
        tok.add_special_tokens(
            {"additional_special_tokens": [AddedToken(IMAGE, normalized=False, special=True)]}
        )
    vocab = tok.get_vocab()
    new = [t for t in task_tokens() if t not in vocab]
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in new])
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = 1 << 16
    # Batched generation (``pipeline`` included) needs left padding; trainers building
    # suffix labels pass ``padding_side="right"`` explicitly.
    tok.padding_side = tok.init_kwargs["padding_side"] = "left"  # init_kwargs: saved
    return tok


def _vision_config(vision: Any, image_size: int | None) -> tuple[Any, Path | None]:
    """(SiglipVisionConfig, directory of weights or None) from what ``build_paligemma`` got."""
    from transformers import AutoConfig, SiglipVisionConfig

    if isinstance(vision, SiglipVisionConfig):
        cfg = SiglipVisionConfig(**vision.to_dict())
        path = None
    elif isinstance(vision, dict):
        cfg = SiglipVisionConfig(**vision)
        path = None
    else:
        path = Path(vision)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path}: not a SigLIP model directory (no config.json)")
        full = AutoConfig.from_pretrained(path, local_files_only=True)
        vc = getattr(full, "vision_config", full)
        if vc.model_type != "siglip_vision_model":
            raise ValueError(
                f"{path}: model_type {full.model_type!r}; the vision tower must be SigLIP"
            )
        cfg = SiglipVisionConfig(**vc.to_dict())
    cfg.vision_use_head = False  # PaliGemma reads every patch; the pooling head is unused
    if image_size is not None:
        cfg.image_size = image_size
    return cfg, path


def _tower_state(path: Path, image_size: int, patch_size: int) -> dict[str, Any]:
    """The vision tower's weights from a SigLIP (or SiglipVisionModel) directory, pooling head
    dropped, position embeddings resampled when the resolution changes (as big_vision does)."""
    import torch.nn.functional as F
    from safetensors.torch import load_file

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{path}: no safetensors weights for the vision tower")
    # Keys without the ``vision_model.`` prefix: a SiglipModel file has it, a SiglipVisionModel
    # file has it or not depending on the transformers version that wrote it.
    state: dict[str, Any] = {}
    for f in files:
        for k, v in load_file(f).items():
            k = k.removeprefix("vision_model.")
            if k.split(".")[0] in ("embeddings", "encoder", "post_layernorm"):
                state[k] = v
    if not state:
        raise ValueError(f"{path}: no vision tower weights (not a SigLIP checkpoint)")
    key = "embeddings.position_embedding.weight"
    pos = state[key]
    want = (image_size // patch_size) ** 2
    if pos.shape[0] != want:
        old, new = math.isqrt(pos.shape[0]), math.isqrt(want)
        grid = pos.T.reshape(1, -1, old, old).float()
        grid = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
        state[key] = grid.reshape(pos.shape[1], want).T.to(pos.dtype).contiguous()
    return state


def _fourier_locations(model: Any, tok: Any, seed: int) -> None:
    """Start the ``<locDDDD>`` embeddings on a smooth curve: bin k is a fixed random projection
    of sines and cosines of k at periods from 4 to 2048 bins.

    Neighbouring bins then start with near-equal embeddings (and, the output layer being tied,
    near-equal logits), so the cross-entropy on bin k also pulls up k±1 and a coordinate is
    learned as a quantity rather than as 1024 unrelated words; random rows would make each
    of the 1024 bins be learned alone, from the few boxes that land on it. The scale is the
    random rows' (std ``initializer_range``), so nothing else in the model sees a change.
    """
    import torch

    emb = model.get_input_embeddings().weight
    ids = tok.convert_tokens_to_ids([loc_token(i) for i in range(LOC_BINS)])
    gen = torch.Generator().manual_seed(seed + 1)
    n_freq = 16
    periods = torch.logspace(math.log10(4), math.log10(2 * LOC_BINS), n_freq)
    k = torch.arange(LOC_BINS, dtype=torch.float64)[:, None]
    phase = 2 * math.pi * k / periods[None, :].double()
    feats = torch.cat([phase.sin(), phase.cos()], dim=1).float()  # (1024, 32), rows of norm 4
    proj = torch.randn(2 * n_freq, emb.shape[1], generator=gen) / math.sqrt(2 * n_freq)
    rows = feats @ proj
    std = float(getattr(model.config.text_config, "initializer_range", 0.02))
    rows = rows * (std / rows.std())
    with torch.no_grad():
        emb[torch.tensor(ids)] = rows.to(emb.dtype)


#: how a fresh PaliGemma's ``<locDDDD>`` embeddings start (a pretrained decoder's or
#: checkpoint's own rows are kept by ``random``)
LOC_INITS: dict[str, Any] = {
    "random": lambda model, tok, seed: None,
    "fourier": _fourier_locations,
}


def _image_processor(vision_dir: Path | None, image_size: int, seq_len: int) -> Any:
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    kwargs: dict[str, Any] = {}
    cfg = vision_dir / "preprocessor_config.json" if vision_dir else None
    if cfg is not None and cfg.is_file():
        src = json.loads(cfg.read_text())
        kwargs = {k: src[k] for k in ("image_mean", "image_std", "resample") if k in src}
    return SiglipImageProcessorPil(
        size={"height": image_size, "width": image_size}, image_seq_length=seq_len, **kwargs
    )


def build_paligemma(
    vision: str | os.PathLike | dict[str, Any] | Any,
    decoder: str | dict[str, Any] = "tiny",
    tokenizer: Any | None = None,
    image_size: int | None = None,
    seed: int = 0,
    decoder_init: str | os.PathLike | None = None,
    loc_init: str = "random",
) -> tuple[Any, Any]:
    """A fresh ``PaliGemmaForConditionalGeneration`` and its ``PaliGemmaProcessor``.

    ``vision``: a SigLIP model directory (its ``vision_model.*`` weights start the tower), or a
    ``SiglipVisionConfig`` / dict for a random tower. ``decoder``: a ``GEMMA_PRESETS`` name or
    Gemma config kwargs (``model_type`` "gemma" for PaliGemma 1, "gemma2" for 2).
    ``tokenizer``: from ``build_vlm_tokenizer`` (default: one without learned merges).
    ``image_size`` changes the tower's resolution (position embeddings are resampled).
    ``decoder_init``: a pretrained decoder folder (``globelens.train.textpretrain``: a Gemma
    causal LM and its PaliGemma tokenizer); its shape, weights and tokenizer replace
    ``decoder`` and ``tokenizer``. ``loc_init``: how the ``<locDDDD>`` embeddings start
    (``LOC_INITS``).
    """
    import torch
    from transformers import (
        AutoConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
    )

    if loc_init not in LOC_INITS:
        raise KeyError(f"unknown loc_init {loc_init!r}; available: {sorted(LOC_INITS)}")
    if decoder_init is not None:
        decoder, tokenizer = pretrained_decoder(decoder_init)
    if isinstance(decoder, str):
        if decoder not in GEMMA_PRESETS:
            raise KeyError(
                f"unknown decoder preset {decoder!r}; available: {sorted(GEMMA_PRESETS)}"
            )
        decoder = GEMMA_PRESETS[decoder]
    dec = dict(decoder)
    text_type = dec.pop("model_type", "gemma")
    tok = tokenizer if tokenizer is not None else build_vlm_tokenizer()
    vcfg, vision_dir = _vision_config(vision, image_size)
    seq_len = (vcfg.image_size // vcfg.patch_size) ** 2
    ids = {
        name: tok.convert_tokens_to_ids(t)
        for name, t in (
            ("pad", tok.pad_token),
            ("eos", tok.eos_token),
            ("bos", tok.bos_token),
            ("image", IMAGE),
        )
    }
    text_cfg = AutoConfig.for_model(
        text_type,
        vocab_size=len(tok),
        pad_token_id=ids["pad"],
        eos_token_id=ids["eos"],
        bos_token_id=ids["bos"],
        **dec,
    )
    if text_cfg.max_position_embeddings < seq_len + 64:
        raise ValueError(
            f"decoder context {text_cfg.max_position_embeddings} is too short for "
            f"{seq_len} image tokens plus text"
        )
    config = PaliGemmaConfig(
        vision_config=vcfg,
        text_config=text_cfg,
        image_token_index=ids["image"],
        vocab_size=len(tok),
        projection_dim=text_cfg.hidden_size,
        hidden_size=text_cfg.hidden_size,
        pad_token_id=ids["pad"],
        eos_token_id=ids["eos"],
        bos_token_id=ids["bos"],
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = PaliGemmaForConditionalGeneration(config)
    finally:
        torch.random.set_rng_state(state)
    if vision_dir is not None:
        tower = _tower_state(vision_dir, vcfg.image_size, vcfg.patch_size)
        if any(k.startswith("vision_model.") for k in model.model.vision_tower.state_dict()):
            tower = {f"vision_model.{k}": v for k, v in tower.items()}  # transformers < 5
        missing, unexpected = model.model.vision_tower.load_state_dict(tower, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{vision_dir}: vision weights do not fit the tower "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
    if decoder_init is not None:
        load_decoder_weights(model, decoder_init)
    LOC_INITS[loc_init](model, tok, seed)
    gen = model.generation_config
    gen.pad_token_id, gen.eos_token_id, gen.bos_token_id = ids["pad"], ids["eos"], ids["bos"]
    processor = PaliGemmaProcessor(
        image_processor=_image_processor(vision_dir, vcfg.image_size, seq_len),
        tokenizer=tok,
        chat_template=CHAT_TEMPLATE,
    )
    return model, processor


#: config keys of a causal LM that are not the decoder's shape (ids follow the tokenizer)
_NOT_SHAPE = ("vocab_size", "pad_token_id", "eos_token_id", "bos_token_id", "architectures",
              "dtype", "torch_dtype", "transformers_version")  # fmt: skip


def pretrained_decoder(folder: str | os.PathLike) -> tuple[dict[str, Any], Any]:
    """(decoder shape, tokenizer) of a pretrained decoder folder."""
    path = Path(folder)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a decoder folder (no config.json)")
    cfg = json.loads((path / "config.json").read_text())
    if cfg.get("model_type") not in ("gemma", "gemma2"):
        raise ValueError(f"{path}: model_type {cfg.get('model_type')!r}; the decoder must be Gemma")
    tok = build_vlm_tokenizer(base=path)
    if len(tok) != cfg["vocab_size"]:
        raise ValueError(
            f"{path}: tokenizer has {len(tok)} tokens, the decoder {cfg['vocab_size']} (the "
            "folder's tokenizer must be the PaliGemma tokenizer it was trained with)"
        )
    return {k: v for k, v in cfg.items() if k not in _NOT_SHAPE}, tok


def load_decoder_weights(model: Any, folder: str | os.PathLike) -> None:
    """A causal LM's weights (``model.*``, ``lm_head``) into a PaliGemma's decoder."""
    from safetensors.torch import load_file

    state: dict[str, Any] = {}
    for f in sorted(Path(folder).glob("*.safetensors")):
        state.update(load_file(f))
    body = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    missing, unexpected = model.model.language_model.load_state_dict(body, strict=False)
    if missing or unexpected or not body:
        raise ValueError(
            f"{folder}: decoder weights do not fit (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})"
        )
    if "lm_head.weight" in state:
        model.lm_head.weight.data.copy_(state["lm_head.weight"])
    model.tie_weights()


#: a config's dtype name -> the torch dtype (what released checkpoints declare)
SAVED_DTYPES = {"bfloat16": "bfloat16", "float16": "float16", "float32": "float32"}


def saved_dtype(model_dir: str | os.PathLike) -> Any | None:
    """The dtype a model directory's weights were released in (``dtype``/``torch_dtype`` of
    its config.json: bf16 for PaliGemma 2), or None when it does not say."""
    import torch

    try:
        cfg = json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    name = cfg.get("dtype") or cfg.get("torch_dtype")
    return getattr(torch, SAVED_DTYPES[name]) if name in SAVED_DTYPES else None


def save_generator(
    model: Any,
    processor: Any,
    out_dir: str | os.PathLike,
    codec: Any | None = None,
    dtype: Any | None = None,
) -> Path:
    """Write a Hugging Face PaliGemma directory (safetensors, processor with its chat
    template) and ``mask_codec.safetensors`` when a codec is given. ``dtype``: the weights'
    dtype on disk (e.g. the bf16 a release came in; the live model is left as it is).
    Returns ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if dtype is not None and dtype != model.dtype:
        state = {
            k: v.to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()
        }
        model.save_pretrained(out, safe_serialization=True, state_dict=state)
        config = json.loads((out / "config.json").read_text())
        config["dtype"] = str(dtype).removeprefix("torch.")
        (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    else:
        model.save_pretrained(out, safe_serialization=True)
    if getattr(processor, "chat_template", None) is None:
        processor.chat_template = CHAT_TEMPLATE
    processor.save_pretrained(out)
    processor.image_processor.save_pretrained(out)  # preprocessor_config.json, for other tools
    if codec is not None:
        save_codec(codec, out / CODEC_FILE)
    return out
