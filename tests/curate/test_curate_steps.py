"""Curation steps: language ID, scripts, DataComp's basic filter, pHash, dedup, mixing."""

from __future__ import annotations

import io
import math
import random

import numpy as np
import pytest
from curate_factory import make_sample, pattern_image
from PIL import Image

from globelens.curate import build_step, load_recipe
from globelens.curate.phash import NearDupIndex, phash, phash_bits
from globelens.curate.scripts import text_script
from globelens.curate.steps.langid import make_backend
from globelens.data import Sample, encode_image


def test_scripts_from_unicode_ranges():
    cases = {
        "a red bus": "Latn",
        "حافلة حمراء": "Arab",
        "लाल बस": "Deva",
        "লাল বাস": "Beng",
        "红色公共汽车": "Hans",
        "赤いバスの写真": "Jpan",
        "빨간 버스": "Kore",
        "รถเมล์สีแดง": "Thai",
        "красный автобус": "Cyrl",
        "123 !!": "Zyyy",
    }
    assert {t: text_script(t) for t in cases} == cases


def test_fasttext_offline_and_pycld2_agree_on_clear_captions():
    texts = [
        "a photo of a red bus in the city street",
        "una foto de un autobús rojo en la calle",
        "台所にあるガスコンロと小さな鍋の写真",
    ]
    ft = make_backend("fasttext").detect(texts)
    assert [lang for lang, _ in ft] == ["en", "es", "ja"]
    assert all(0 < s <= 1 for _, s in ft)
    cld = make_backend("pycld2").detect(texts)
    assert [lang for lang, _ in cld] == ["en", "es", "ja"]


def test_lingua_backend_names_the_extra_when_missing():
    try:
        import lingua  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'globelens\[lingua\]'"):
            make_backend("lingua")
    else:
        assert make_backend("lingua").detect(["a red bus in the street"])[0][0] == "en"
    with pytest.raises(ValueError, match="Available backends are: fasttext, pycld2, lingua"):
        make_backend("cld3")


def test_langid_writes_lang_score_script_and_language_filter_says_why():
    batch = [make_sample(i) for i in range(10)]
    res = build_step("langid")(batch)
    assert len(res.kept) == 10 and not res.dropped
    got = {s.meta["language"]: (s.meta["lang"], s.meta["script"]) for s in res.kept}
    assert got["en"] == ("en", "Latn") and got["ar"] == ("ar", "Arab") and got["zh"][1] == "Hans"
    assert got["ja"] == ("ja", "Jpan") and got["hi"] == ("hi", "Deva")
    res2 = build_step("language", keep=["en"])(res.kept)
    assert {s.meta["language"] for s in res2.kept} == {"en"}
    assert {r for _, r in res2.dropped} == {"language_not_kept"}
    with pytest.raises(ValueError, match="put a 'langid' step before"):
        build_step("language", keep=["en"])([make_sample(0)])


def test_config_typos_fail_at_construction_naming_valid_keys():
    with pytest.raises(ValueError, match="Valid keys are: max_distance"):
        build_step("near_dedup", max_dist=3)
    with pytest.raises(ValueError, match=r"Available steps are: .*near_dedup"):
        build_step("near_dup")
    with pytest.raises(ValueError, match="Valid keys are: name, steps"):
        load_recipe({"name": "x", "stepz": []})


def _sample(caption: str, w: int, h: int, **meta) -> Sample:
    im = Image.new("RGB", (w, h), (120, 80, 40))
    return Sample(
        key=f"k{w}x{h}{len(caption)}", image_bytes=encode_image(im), caption=caption, meta=meta
    )


def test_datacomp_basic_filter_exact_boundaries():
    step = build_step("datacomp_basic")
    cases = [
        (_sample("a red bus in the city", 200, 600), None),  # min side 200, aspect 3.0: kept
        (_sample("a red bus in the city", 199, 400), "image_too_small"),
        (_sample("a red bus in the city", 200, 601), "aspect_ratio_too_large"),
        (_sample("red bus", 300, 300), "caption_too_few_words"),  # 2 words: DataComp needs > 2
        (_sample("a b c", 300, 300), "caption_too_few_chars"),  # 5 chars: needs > 5
        (_sample("una foto de un autobús rojo", 300, 300), "not_english"),
        # DataComp reads original_width/height when the metadata has them
        (
            _sample("a red bus in the city", 300, 300, original_width=100, original_height=400),
            "image_too_small",
        ),
    ]
    res = step([s for s, _ in cases])
    why = {id(s): r for s, r in res.dropped}
    assert [why.get(id(s)) for s, _ in cases] == [r for _, r in cases]


def _reference_phash_bits(image: Image.Image) -> np.ndarray:
    # The textbook definition with explicit sums (scipy.fftpack.dct type II, norm=None).
    x = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    n = 32
    cos = [[math.cos(math.pi * k * (2 * i + 1) / (2 * n)) for i in range(n)] for k in range(n)]
    rows = np.array(
        [[2 * sum(x[r, i] * cos[k][i] for i in range(n)) for k in range(n)] for r in range(n)]
    )
    full = np.array(
        [[2 * sum(rows[i, c] * cos[k][i] for i in range(n)) for c in range(n)] for k in range(n)]
    )
    low = full[:8, :8]
    return low > np.median(low)


def test_phash_matches_the_definition_and_separates_images():
    images = [pattern_image(s) for s in range(12)]
    for im in images[:2]:
        assert np.array_equal(phash_bits(im), _reference_phash_bits(im))
    base = images[0]
    resized = base.resize((120, 105), Image.Resampling.BILINEAR)
    recompressed = Image.open(io.BytesIO(encode_image(base, "jpg", quality=40)))
    h0 = phash(base)
    assert (h0 ^ phash(resized)).bit_count() <= 4
    assert (h0 ^ phash(recompressed)).bit_count() <= 4
    far = [(phash(a) ^ phash(b)).bit_count() for i, a in enumerate(images) for b in images[i + 1 :]]
    assert min(far) > 8 and 20 < np.mean(far) < 44


def test_near_dup_index_is_exact():
    rng = random.Random(0)
    hashes = [rng.getrandbits(64) for _ in range(300)]
    hashes += [h ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)) for h in hashes[:100]]
    for t in (0, 3, 6):
        index = NearDupIndex(t)
        kept: list[int] = []
        for h in hashes:
            brute = any((h ^ k).bit_count() <= t for k in kept)
            assert (index.find(h) is not None) == brute
            if not brute:
                kept.append(h)
                index.add(h)


def test_dedup_steps_keep_first_occurrence():
    a, b = make_sample(0), make_sample(1)
    exact = make_sample(2)
    exact.image_bytes = a.image_bytes
    near = make_sample(3, image=pattern_image(1).resize((200, 175)))
    batch = [a, b, exact, near]
    res = build_step("exact_dedup")(batch)
    assert [r for _, r in res.dropped] == ["exact_duplicate"] and res.dropped[0][0] is exact
    res = build_step("near_dedup", max_distance=4)(batch)
    assert {s.key: r for s, r in res.dropped} == {
        exact.key: "near_duplicate",
        near.key: "near_duplicate",
    }


def test_cap_mix_reweight_and_text_steps():
    batch = [make_sample(i) for i in range(40)]  # 4 samples of each of 10 people
    res = build_step("cap", by="language", max_per_group=2)(batch)
    assert len(res.kept) == 2 * 9  # en has 8 (two English people), capped at 2 too
    assert {r for _, r in res.dropped} == {"cap_language"}
    res = build_step("reweight", by="region")(batch)
    weights = {s.meta["region"]: s.meta["sample_weight"] for s in res.kept}
    counts = {r: sum(s.meta["region"] == r for s in batch) for r in weights}
    assert all(abs(weights[r] * counts[r] - 40 / len(counts)) < 1e-3 for r in weights)
    res = build_step("mix", by="language", ratios={"en": 1, "es": 1})(batch)
    assert sorted(s.meta["language"] for s in res.kept) == ["en"] * 4 + ["es"] * 4
    res = build_step("text_match", classnames=["stove", "bed"])(batch)
    assert {s.meta["language"] for s in res.kept} == {"en"}
    res = build_step("replace_caption", only_if_lang_not_in=["en"])(
        build_step("langid")(batch).kept
    )
    es = next(s for s in res.kept if s.meta["language"] == "es")
    assert es.caption == "a wood stove in the kitchen of the family house"
    assert es.meta["caption_original"].startswith("una estufa")
    en = next(s for s in res.kept if s.meta["language"] == "en")
    assert "caption_replaced" not in en.meta


class _FakeEncoder:
    """A DualEncoder whose similarity is known: image = mean colour, text = caption length."""

    image_size = 8
    fingerprint = "fake"

    def preprocess(self, images):
        import torch

        return torch.stack(
            [
                torch.tensor(np.asarray(im.resize((8, 8)), dtype=np.float32)).permute(2, 0, 1)
                for im in images
            ]
        )

    def encode_images(self, pixels):
        import torch

        v = torch.stack([pixels.mean(dim=(1, 2, 3)) / 255, torch.ones(len(pixels))], dim=1)
        return torch.nn.functional.normalize(v, dim=-1)

    def encode_texts(self, texts):
        import torch

        v = torch.tensor([[len(t) / 50.0, 1.0] for t in texts])
        return torch.nn.functional.normalize(v, dim=-1)


def test_clip_score_top_fraction_and_threshold(monkeypatch):
    from globelens.curate.steps import clipscore

    monkeypatch.setattr(clipscore, "_load_model", lambda path: _FakeEncoder())
    batch = [make_sample(i) for i in range(10)]
    step = build_step("clip_score", model="fake", fraction=0.3, batch_size=4)
    feats = step.features(batch)
    res = step(batch)
    assert len(res.kept) == 3
    top = sorted(range(10), key=lambda i: -feats[i])[:3]
    assert {s.key for s in res.kept} == {batch[i].key for i in top}
    assert all("clip_score" in s.meta for s in res.kept)
    thr = sorted(feats)[5]
    res = build_step("clip_score", model="fake", threshold=thr)(batch)
    assert len(res.kept) == sum(f >= thr for f in feats)
    with pytest.raises(ValueError, match="exactly one of 'fraction' or 'threshold'"):
        build_step("clip_score", model="fake")


def test_clip_score_with_a_real_tiny_model(tiny_model_dir):
    batch = [make_sample(i) for i in range(6)]
    res = build_step("clip_score", model=str(tiny_model_dir), fraction=0.5, batch_size=4)(batch)
    assert len(res.kept) == 3
    assert all(-1.0 <= s.meta["clip_score"] <= 1.0 for s in res.kept)


def test_steps_are_registered_at_import() -> None:
    import subprocess
    import sys

    code = "import globelens.curate as c; print(sorted(c.STEPS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "'langid'" in out.stdout and "'near_dedup'" in out.stdout
