"""The PaliGemma generator, its tokenizer and builders, on tiny models built from configs."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from vlm_factory import tiny_paligemma_dir

from globelens.data.images import ImageDecodeError
from globelens.models.base import Generator
from globelens.models.paligemma import (
    HFGenerator,
    build_paligemma,
    build_vlm_tokenizer,
    default_dtype,
    is_generator_dir,
    load_generator,
    load_images,
    save_generator,
)
from globelens.models.tasklang import loc_token, seg_token
from globelens.models.vlm import TINY_VISION

PROMPTS = [
    "caption en",
    "detect stove ; lamp",
    "answer en what is on the table next to the lamp?",
    "ocr",
    "segment bed",
]


def _images(n: int = len(PROMPTS)) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(40, 50), (64, 64), (90, 30), (48, 48), (120, 100)]
    return [
        Image.fromarray(rng.integers(0, 256, (*sizes[i % 5], 3), dtype=np.uint8)) for i in range(n)
    ]


@pytest.fixture(scope="module")
def pg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_paligemma_dir(tmp_path_factory.mktemp("pg"))


@pytest.fixture(scope="module")
def gen(pg_dir: Path) -> HFGenerator:
    return load_generator(pg_dir)


def _teacher_forced_logprob(g: HFGenerator, image: Image.Image, prompt: str, ids) -> float:
    """Sum of log p(token) for ``ids`` + <eos> by one forward pass over the whole sequence."""
    enc = g.processor(images=[image], text=["<image>" + prompt], return_tensors="pt")
    target = [*ids, g.tokenizer.eos_token_id]
    full = torch.cat([enc["input_ids"], torch.tensor([target])], dim=1)
    tt = torch.cat([enc["token_type_ids"], torch.ones(1, len(target), dtype=torch.long)], dim=1)
    with torch.no_grad():
        logits = g.model(
            input_ids=full,
            pixel_values=enc["pixel_values"],
            attention_mask=torch.ones_like(full),
            token_type_ids=tt,
        ).logits[0]
    start = enc["input_ids"].shape[1]
    logp = torch.log_softmax(logits[start - 1 : -1].float(), -1)
    return float(logp[torch.arange(len(target)), torch.tensor(target)].sum())


def test_tokenizer_has_task_tokens_and_round_trips() -> None:
    tok = build_vlm_tokenizer(["a stove and a lamp", "caption en"], vocab_size=400)
    assert tok.convert_ids_to_tokens([0, 1, 2, 3]) == ["<pad>", "<eos>", "<bos>", "<unk>"]
    assert tok.convert_tokens_to_ids("<image>") != tok.unk_token_id
    task = [loc_token(i) for i in range(1024)] + [seg_token(i) for i in range(128)]
    ids = tok.convert_tokens_to_ids(task)
    assert len(set(ids)) == 1152 and tok.unk_token_id not in ids
    text = (
        f"{loc_token(12)}{loc_token(5)}{loc_token(1000)}{loc_token(1023)} stove ; "
        f"{loc_token(0)}{loc_token(1)}{loc_token(2)}{loc_token(3)}{seg_token(127)} lamp\n"
        "城市街道 une lampe éteinte — 🙂"
    )
    enc = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in enc  # byte fallback covers every character
    assert tok.decode(enc) == text  # exact: parsers read the text back
    assert tok.convert_ids_to_tokens(enc[:4]) == [
        loc_token(12),
        loc_token(5),
        loc_token(1000),
        loc_token(1023),
    ]
    chat = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "caption sw"}]}
    ]
    assert tok.apply_chat_template(chat, tokenize=False) == "<image>caption sw"


def test_tokenizer_extends_a_base_tokenizer(tiny_tokenizer_dir: Path) -> None:
    tok = build_vlm_tokenizer(base=tiny_tokenizer_dir)
    assert tok.convert_tokens_to_ids(loc_token(7)) != tok.unk_token_id
    assert tok.convert_tokens_to_ids("<image>") != tok.unk_token_id
    assert tok.chat_template


def test_processor_builds_suffix_labels(gen: HFGenerator) -> None:
    enc = gen.processor(
        images=_images(1), text=["<image>caption en"], suffix=["a stove"], return_tensors="pt"
    )
    ids, labels = enc["input_ids"][0], enc["labels"][0]
    n_image = gen.processor.image_seq_length
    assert int((ids == gen.model.config.image_token_id).sum()) == n_image
    suffix = gen.tokenizer("a stove", add_special_tokens=False)["input_ids"]
    kept = labels[labels != -100].tolist()
    assert kept == [*suffix, gen.tokenizer.eos_token_id]


def test_generate_is_batched_in_order_and_matches_the_pipeline(gen: HFGenerator, pg_dir) -> None:
    from transformers import pipeline

    assert isinstance(gen, Generator)
    images = _images()
    batched = gen.generate(images, PROMPTS, max_new_tokens=8, batch_size=4)
    single = gen.generate(images, PROMPTS, max_new_tokens=8, batch_size=1)
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]
    assert [g.logprob for g in batched] == pytest.approx([g.logprob for g in single], abs=1e-3)
    assert len({g.text for g in batched}) > 1  # prompts and pictures change the answer
    assert all(0 < len(g.token_ids) <= 8 and g.logprob < 0 for g in batched)
    # The same texts from transformers' own pipeline, in its chat-message form.
    pipe = pipeline("image-text-to-text", model=str(pg_dir))
    chats = [
        [{"role": "user", "content": [{"type": "image", "image": im}, {"type": "text", "text": p}]}]
        for im, p in zip(images, PROMPTS, strict=True)
    ]
    out = pipe(text=chats[:3], max_new_tokens=8, return_full_text=False, batch_size=3)
    assert [o[0]["generated_text"] for o in out] == [g.text for g in batched[:3]]


@pytest.mark.parametrize("beams", [1, 3])
def test_logprob_is_the_sequence_log_probability(gen: HFGenerator, beams: int) -> None:
    images, prompts = _images(3), PROMPTS[:3]
    outs = gen.generate(images, prompts, max_new_tokens=6, num_beams=beams, batch_size=3)
    for im, p, g in zip(images, prompts, outs, strict=True):
        if len(g.token_ids) == 6:  # stopped by the length limit: no <eos> was scored
            continue
        assert g.logprob == pytest.approx(
            _teacher_forced_logprob(gen, im, p, g.token_ids), abs=1e-3
        )
    if beams == 1:
        return
    # beam search's answer is the HF beam search's answer
    enc = gen.inputs(images[:1], prompts[:1])
    ref = gen.model.generate(**enc, max_new_tokens=6, num_beams=3, do_sample=False)
    ref_ids = [t for t in ref[0, enc["input_ids"].shape[1] :].tolist() if t not in (0, 1)]
    assert list(outs[0].token_ids) == ref_ids


def test_generate_without_eos_scores_each_step(gen: HFGenerator) -> None:
    images, prompts = _images(2), PROMPTS[:2]
    outs = gen.generate(images, prompts, max_new_tokens=5, min_new_tokens=5)
    nocache = gen.generate(images, prompts, max_new_tokens=5, min_new_tokens=5, use_cache=False)
    assert [len(g.token_ids) for g in outs] == [5, 5]
    assert [g.token_ids for g in outs] == [g.token_ids for g in nocache]


def test_save_load_round_trip_and_from_loaded(
    gen: HFGenerator, pg_dir: Path, tmp_path: Path
) -> None:
    assert load_generator(pg_dir).fingerprint == gen.fingerprint  # stable for one directory
    out = save_generator(gen.model, gen.processor, tmp_path / "copy")
    assert is_generator_dir(out)
    again = load_generator(out)
    assert again.image_size == 48 and again.codec is None
    images = _images(2)
    a = gen.generate(images, PROMPTS[:2], max_new_tokens=4)
    assert [g.text for g in again.generate(images, PROMPTS[:2], max_new_tokens=4)] == [
        g.text for g in a
    ]
    live = HFGenerator.from_loaded(gen.model, gen.processor)
    assert live.fingerprint == "live" and live.generate(images, PROMPTS[:2], max_new_tokens=4) == a


def test_paligemma2_builds_loads_and_generates(tmp_path: Path) -> None:
    path = tiny_paligemma_dir(tmp_path / "pg2", decoder="tiny-gemma2")
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["model_type"] == "paligemma" and cfg["text_config"]["model_type"] == "gemma2"
    g = load_generator(path)
    images = _images(3)
    a = g.generate(images, PROMPTS[:3], max_new_tokens=5, batch_size=3)
    b = g.generate(images, PROMPTS[:3], max_new_tokens=5, batch_size=1)
    assert [x.token_ids for x in a] == [x.token_ids for x in b]


def test_vision_tower_starts_from_a_siglip_dir(tiny_model_dir: Path) -> None:
    from safetensors.torch import load_file

    src = load_file(tiny_model_dir / "model.safetensors")
    model, processor = build_paligemma(tiny_model_dir, "tiny")
    tower = {
        k.removeprefix("vision_model."): v for k, v in model.model.vision_tower.state_dict().items()
    }
    keys = [k for k in src if k.startswith("vision_model.") and ".head." not in k]
    assert keys and len(keys) == len(tower)
    assert all(torch.equal(tower[k.removeprefix("vision_model.")], src[k]) for k in keys)
    assert processor.image_seq_length == (48 // 8) ** 2
    # a new resolution resamples the position embeddings
    model64, proc64 = build_paligemma(tiny_model_dir, "tiny", image_size=64)
    pos = model64.model.vision_tower.embeddings.position_embedding.weight
    assert pos.shape[0] == proc64.image_seq_length == 64


def test_fresh_tower_and_unknown_preset() -> None:
    model, processor = build_paligemma(TINY_VISION, "tiny")
    assert model.config.projection_dim == model.config.text_config.hidden_size
    assert processor.image_seq_length == model.config.text_config.num_image_tokens == 36
    with pytest.raises(KeyError, match="unknown decoder preset"):
        build_paligemma(TINY_VISION, "no-such")


def test_fourier_location_embeddings_start_smooth() -> None:
    """``loc_init="fourier"``: neighbouring ``<locDDDD>`` rows start nearly equal and far
    ones unrelated, at the scale of the random rows; other rows are untouched."""
    tok = build_vlm_tokenizer()
    plain, _ = build_paligemma(TINY_VISION, "tiny", tok, seed=3)
    smooth, _ = build_paligemma(TINY_VISION, "tiny", tok, seed=3, loc_init="fourier")
    ids = tok.convert_tokens_to_ids([loc_token(i) for i in range(1024)])
    a, b = plain.get_input_embeddings().weight, smooth.get_input_embeddings().weight
    rows = b[ids]
    cos = torch.nn.functional.cosine_similarity
    assert cos(rows[500], rows[501], dim=0) > 0.85
    assert abs(float(cos(rows[100], rows[900], dim=0))) < 0.5
    assert float(rows.std()) == pytest.approx(float(a[ids].std()), rel=0.1)
    others = torch.ones(len(a), dtype=torch.bool)
    others[ids] = False
    assert torch.equal(a[others], b[others])
    with pytest.raises(KeyError):
        build_paligemma(TINY_VISION, "tiny", tok, loc_init="no-such")


def test_clear_errors_for_bad_dirs(pg_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_generator(tmp_path / "nothing")
    pickled = tmp_path / "pickled"
    shutil.copytree(pg_dir, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    with pytest.raises(ValueError, match="safetensors only"):
        load_generator(pickled)
    notok = tmp_path / "notok"
    shutil.copytree(pg_dir, notok)
    (notok / "tokenizer.json").unlink()
    (notok / "tokenizer_config.json").unlink()
    with pytest.raises(FileNotFoundError, match="missing tokenizer"):
        load_generator(notok)
    with pytest.raises(ValueError, match="not a supported generator"):
        load_generator(tiny_model_dir)
    assert not is_generator_dir(tiny_model_dir)


def test_default_dtype_and_argument_checks(gen: HFGenerator) -> None:
    assert default_dtype("cuda") == torch.bfloat16 and default_dtype("cpu") == torch.float32
    with pytest.raises(ValueError, match="images but"):
        gen.generate(_images(2), PROMPTS[:1])
    assert gen.generate([], []) == []


def test_load_images_uses_the_safe_decoder(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("L", (30, 20), 128).save(buf, format="PNG")
    (tmp_path / "a.png").write_bytes(buf.getvalue())
    ims = load_images([tmp_path / "a.png", buf.getvalue()])
    assert [im.mode for im in ims] == ["RGB", "RGB"] and ims[0].size == (30, 20)
    with pytest.raises(ImageDecodeError, match="too_many_pixels"):
        load_images([buf.getvalue()], max_pixels=100)
    with pytest.raises(ImageDecodeError, match="corrupt_image"):
        load_images([b"not an image"])


def test_a_bf16_release_is_saved_as_bf16(gen: HFGenerator, tmp_path: Path) -> None:
    """Fine-tuning trains in float32 but writes the dtype the start came in (PaliGemma 2
    ships bf16); the live model is left in float32."""
    import torch
    from safetensors import safe_open

    from globelens.models.vlm import saved_dtype

    out = save_generator(gen.model, gen.processor, tmp_path / "bf16", dtype=torch.bfloat16)
    assert saved_dtype(out) == torch.bfloat16 and gen.model.dtype == torch.float32
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        names = list(f.keys())
        assert {f.get_slice(k).get_dtype() for k in names} == {"BF16"}
    again = load_generator(out)  # loaded back in float32 on CPU
    assert again.generate(_images(1), PROMPTS[:1], max_new_tokens=3)[0].token_ids
