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


def _save_siglip(out: Path, tokenizer: object, vocab_size: int, pad_id: int, seed: int) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor

    text = {**TEXT, "vocab_size": vocab_size, "pad_token_id": pad_id}
    config = SiglipConfig(text_config=text, vision_config=VISION)
    torch.manual_seed(seed)
    model = SiglipModel(config).eval()
    with torch.no_grad():  # a wider init, so that different texts score differently
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0, 0.2)
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


def siglip2_dir(out: str | Path, seed: int = 0) -> Path:
    """A fixed-resolution SigLIP 2 directory: ``SiglipModel`` + Gemma's tokenizer class."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
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
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
        unk_token="<unk>", model_max_length=64,
    )  # fmt: skip
    _save_siglip(out, tok, bpe.get_vocab_size(), pad_id=0, seed=seed)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "GemmaTokenizer"  # what google/siglip2-* declare
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return out
