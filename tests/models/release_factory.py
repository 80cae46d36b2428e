"""Released contrastive checkpoints' formats, shrunk: what users download from the Hub.

Each builder writes the directory a release ships, with its exact model class, config keys,
tokenizer kind, special ids and processor files, at tiny widths (a second or less):

- SigLIP 1 (``google/siglip-base-patch16-224``, ``siglip-so400m-patch14-384``, the
  multilingual one): ``SiglipModel``, a SentencePiece ``spiece.model`` read by
  ``SiglipTokenizer`` (``<pad>`` 0, ``</s>`` 1 = the padding, ``<unk>`` 2; lower-cased),
  64 text positions.
- SigLIP 2 at a fixed resolution (``google/siglip2-base-patch16-224``): the same
  ``SiglipModel`` with Gemma's tokenizer (``<pad>`` 0, ``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3;
  case-sensitive), 64 positions.
- SigLIP 2 NaFlex (``google/siglip2-base-patch16-naflex``): ``Siglip2Model`` (``model_type``
  ``siglip2``), the same Gemma tokenizer, and ``Siglip2ImageProcessor``'s
  ``preprocessor_config.json`` with ``patch_size`` and ``max_num_patches`` (256 of 16 px
  there; here 64 of 8 px, the vision config's ``num_patches`` matching).
"""

from __future__ import annotations

import json
from pathlib import Path

#: lines the tokenizers learn from (mixed case: SigLIP 2's tokenizer keeps case)
RELEASE_TEXTS = [
    "This is a photo of a red bus.",
    "a bowl of rice on a table",
    "A Dog sleeping at home",
    "a photo of a stove and a lamp in a kitchen",
    "une lampe bleue dans une chambre",
    "Two chairs and a Table",
] * 4

TEXT = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
        "num_attention_heads": 2, "max_position_embeddings": 64}  # fmt: skip
VISION = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
          "num_attention_heads": 2, "image_size": 32, "patch_size": 8}  # fmt: skip


def _image_processor() -> object:
    from transformers import SiglipImageProcessor

    # as released: 224 px (here 32), bicubic, [-1, 1]
    return SiglipImageProcessor(
        size={"height": VISION["image_size"], "width": VISION["image_size"]},
        resample=3,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


def _widen(model: object) -> None:
    """A wider init than the default, so that different texts score differently."""
    import torch

    with torch.no_grad():
        for p in model.parameters():  # type: ignore[attr-defined]
            if p.ndim == 2:
                p.normal_(0, 0.2)


def _save_siglip(out: Path, tokenizer: object, vocab_size: int, pad_id: int, seed: int) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor

    text = {**TEXT, "vocab_size": vocab_size, "pad_token_id": pad_id}
    config = SiglipConfig(text_config=text, vision_config=VISION)
    torch.manual_seed(seed)
    model = SiglipModel(config).eval()
    _widen(model)
    model.save_pretrained(out, safe_serialization=True)
    SiglipProcessor(image_processor=_image_processor(), tokenizer=tokenizer).save_pretrained(out)
    return out


def siglip1_dir(out: str | Path, seed: int = 0) -> Path:
    """A SigLIP 1 directory: ``spiece.model`` + ``SiglipTokenizer`` (pads with ``</s>``)."""
    import sentencepiece as spm
    from transformers import SiglipTokenizer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(RELEASE_TEXTS) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out / "spiece"),
        vocab_size=48,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc",
        minloglevel=2,
    )
    corpus.unlink()
    (out / "spiece.vocab").unlink()
    tok = SiglipTokenizer(vocab_file=str(out / "spiece.model"), model_max_length=64)
    return _save_siglip(out, tok, len(tok), pad_id=tok.pad_token_id, seed=seed)


def _gemma_tokenizer() -> object:
    """SigLIP 2's tokenizer kind: a case-keeping BPE with Gemma's special ids, ``<eos>`` last."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(
        RELEASE_TEXTS,
        trainers.BpeTrainer(vocab_size=160, special_tokens=specials, show_progress=False),
    )
    bpe.post_processor = processors.TemplateProcessing(
        single="$A <eos>", special_tokens=[("<eos>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
        unk_token="<unk>", model_max_length=64,
    )  # fmt: skip


def _declare_gemma(out: Path, **keys: str) -> None:
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "GemmaTokenizer"  # what google/siglip2-* declare
    cfg.update(keys)
    cfg_path.write_text(json.dumps(cfg, indent=2))


def siglip2_dir(out: str | Path, seed: int = 0) -> Path:
    """A fixed-resolution SigLIP 2 directory: ``SiglipModel`` + Gemma's tokenizer class."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = _gemma_tokenizer()
    _save_siglip(out, tok, len(tok), pad_id=0, seed=seed)  # type: ignore[arg-type]
    _declare_gemma(out)
    return out


#: the NaFlex patch grid, shrunk: 8 px patches, at most 64 of them (released: 16 px, 256)
NAFLEX = {"patch_size": 8, "max_num_patches": 64}


def siglip2_naflex_dir(out: str | Path, seed: int = 0) -> Path:
    """A ``google/siglip2-base-patch16-naflex`` directory: ``Siglip2Model``, Gemma's tokenizer,
    and the release's ``preprocessor_config.json`` (``Siglip2ImageProcessor``, bilinear,
    ``max_num_patches``), written as the release has it."""
    import torch
    from transformers import Siglip2Config, Siglip2Model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = _gemma_tokenizer()
    vision = {k: v for k, v in VISION.items() if k != "image_size"}
    vision.update(patch_size=NAFLEX["patch_size"], num_patches=NAFLEX["max_num_patches"])
    text = {**TEXT, "vocab_size": len(tok), "pad_token_id": 0}  # type: ignore[arg-type]
    config = Siglip2Config(text_config=text, vision_config=vision)
    torch.manual_seed(seed)
    model = Siglip2Model(config).eval()
    _widen(model)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)  # type: ignore[attr-defined]
    _declare_gemma(out, processor_class="Siglip2Processor")
    processor = {
        "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "image_processor_type": "Siglip2ImageProcessor",
        "max_num_patches": NAFLEX["max_num_patches"], "patch_size": NAFLEX["patch_size"],
        "processor_class": "Siglip2Processor", "resample": 2,
        "rescale_factor": 0.00392156862745098,
    }  # fmt: skip
    (out / "preprocessor_config.json").write_text(json.dumps(processor, indent=2) + "\n")
    return out


def _bytes_to_unicode() -> list[str]:
    """GPT-2's byte -> printable character table, which CLIP's BPE vocabulary is written in."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]  # fmt: skip
    shifted = [b for b in range(256) if b not in printable]
    table = {b: b for b in printable} | {b: 256 + i for i, b in enumerate(shifted)}
    return [chr(table[b]) for b in sorted(table, key=lambda b: (b not in printable, b))]


def clip_openai_dir(out: str | Path, seed: int = 0) -> Path:
    """An ``openai/clip-vit-*`` directory: ``CLIPModel`` with OpenAI's legacy text config
    (``eos_token_id`` 2, so the text is pooled at the highest id, ``<|endoftext|>``), a
    byte-level BPE ``vocab.json`` + ``merges.txt`` (lower-cased, ``</w>`` word ends), 77 text
    positions, ``CLIPImageProcessor`` (shortest edge, center crop, OpenAI's mean and std)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": 256 + i for i, c in enumerate(chars)}
    merges: list[str] = []
    for word in sorted({w for t in RELEASE_TEXTS for w in t.lower().replace(".", "").split()}):
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            merges.append(f"{parts[0]} {parts[1]}")
            vocab.setdefault(parts[0] + parts[1], len(vocab))
            parts = [parts[0] + parts[1], *parts[2:]]
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    body = "\n".join(dict.fromkeys(merges))
    (out / "merges.txt").write_text(f"#version: 0.2\n{body}\n", encoding="utf-8")
    tok = CLIPTokenizer(vocab=str(out / "vocab.json"), merges=str(out / "merges.txt"))
    text = {**TEXT, "vocab_size": len(vocab), "max_position_embeddings": 77,
            "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}  # fmt: skip
    config = CLIPConfig(text_config=text, vision_config=VISION, projection_dim=24)
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    _widen(model)
    model.save_pretrained(out, safe_serialization=True)
    size = VISION["image_size"]
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}, resample=3,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
    )  # fmt: skip
    CLIPProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(out)
    return out
