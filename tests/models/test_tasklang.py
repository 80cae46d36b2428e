"""The task language: prompts, encoders and parsers are inverses; hostile text never raises."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from globelens.models import tasklang as tl
from globelens.models.maskcodec import MaskCodec, MaskCodecConfig
from globelens.models.tasklang import Detection, Invalid, Segmentation

# -- prompts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "task", "lang", "text", "labels"),
    [
        (tl.caption("sw"), "caption", "sw", "", ()),
        ("caption", "caption", "en", "", ()),
        (
            tl.answer("what is on the stove?", "pt-BR"),
            "answer",
            "pt-BR",
            "what is on the stove?",
            (),
        ),
        (tl.question("two", "hi"), "question", "hi", "two", ()),
        (
            tl.detect(["stove", "oil lamp"]),
            "detect",
            None,
            "stove ; oil lamp",
            ("stove", "oil lamp"),
        ),
        ("segment  a cup;plate ", "segment", None, "a cup;plate", ("a cup", "plate")),
        ("ocr", "free", None, "ocr", ()),  # a verb with no task (no target, no scorer)
        ("describe this picture", "free", None, "describe this picture", ()),
        ("detect", "free", None, "detect", ()),
        ("detect ; ;", "free", None, "detect ; ;", ()),
        ("", "free", None, "", ()),
    ],
)
def test_parse_prompt(prompt, task, lang, text, labels) -> None:
    p = tl.parse_prompt(prompt)
    assert (p.task, p.lang, p.text, p.labels) == (task, lang, text, labels)


def test_mask_limit_is_the_decoders() -> None:
    from globelens.data.images import DEFAULT_MAX_PIXELS

    assert tl.MAX_MASK_PIXELS == DEFAULT_MAX_PIXELS


def test_prompt_builders_round_trip() -> None:
    assert tl.parse_prompt(tl.detect(["a", "b c"])).labels == ("a", "b c")
    assert tl.detect(["a", "b"]) == "detect a ; b"
    assert tl.segment(["a"]) == "segment a"


# -- boxes: exact inverses to within one bin ----------------------------------------------------

sizes = st.integers(min_value=1, max_value=4096)


@st.composite
def image_and_boxes(draw):
    w, h = draw(sizes), draw(sizes)
    n = draw(st.integers(min_value=0, max_value=5))
    boxes = []
    for _ in range(n):
        xs = sorted(draw(st.floats(0, w, allow_nan=False)) for _ in range(2))
        ys = sorted(draw(st.floats(0, h, allow_nan=False)) for _ in range(2))
        boxes.append((xs[0], ys[0], xs[1], ys[1]))
    labels = draw(
        st.lists(
            st.sampled_from(["stove", "oil lamp", "bed", "tooth brush"]), min_size=n, max_size=n
        )
    )
    return w, h, boxes, labels


@settings(max_examples=300, deadline=None)
@given(image_and_boxes())
def test_detections_round_trip_within_one_bin(case) -> None:
    w, h, boxes, labels = case
    objects = [Detection(lb, b) for lb, b in zip(labels, boxes, strict=True)]
    text = tl.encode_detections(objects, w, h)
    parsed = tl.parse(tl.detect(sorted(set(labels)) or ["x"]), text, w, h, score=-1.5)
    assert parsed.invalid == []
    assert [o.label for o in parsed.objects] == labels
    for obj, box in zip(parsed.objects, boxes, strict=True):
        assert obj.score == -1.5
        for got, want, size in zip(obj.box, box, (w, h, w, h), strict=True):
            assert abs(got - want) <= size / (tl.LOC_BINS - 1)
    # and the other way round, exactly: decoded boxes encode to the same text
    assert tl.encode_detections(parsed.objects, w, h) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 1023), min_size=4, max_size=4), sizes, sizes)
def test_bins_are_exact_inverses(bins, w, h) -> None:
    y0, x0, y1, x1 = bins
    assert tl.box_to_bins(tl.bins_to_box(bins, w, h), w, h) == (y0, x0, y1, x1)


def test_encode_box_order_and_rounding() -> None:
    # y_min, x_min, y_max, x_max; round(v * 1023)
    assert tl.encode_box((0, 0, 640, 480), 640, 480) == "<loc0000><loc0000><loc1023><loc1023>"
    assert tl.encode_box((320, 120, 640, 240), 640, 480) == "<loc0256><loc0512><loc0512><loc1023>"
    # outside the picture clips to its edge
    assert tl.encode_box((-5, -5, 700, 500), 640, 480) == "<loc0000><loc0000><loc1023><loc1023>"
    with pytest.raises(ValueError, match="cannot encode"):
        tl.encode_box((0, 0, float("nan"), 1), 10, 10)


# -- hostile text -------------------------------------------------------------------------------

W, H = 200, 100
DET = tl.detect(["cat", "dog"])


@pytest.mark.parametrize(
    ("text", "reasons", "n_objects"),
    [
        ("", [], 0),
        ("<loc0010><loc0020><loc0500><loc0600> cat", [], 1),
        ("<loc0010><loc0020><loc0500><loc0600> CAT<eos>", [], 1),
        ("<loc0010><loc0020><loc0500> cat", ["truncated_loc"], 0),  # three loc tokens
        ("<loc0010><loc0020>", ["truncated_loc"], 0),  # truncated loc group, no label
        ("<loc0500><loc0020><loc0010><loc0600> cat", ["bad_box"], 0),  # y2 < y1
        ("<loc0010><loc0600><loc0500><loc0020> cat", ["bad_box"], 0),  # x2 < x1
        ("<loc0010><loc0020><loc0500><loc0600> horse", ["unknown_label"], 0),
        ("<loc0010><loc0020><loc0500><loc0600>", ["missing_label"], 0),
        ("<loc0010><loc0020><loc0500><loc2000> cat", ["bad_loc"], 0),
        ("<loc10><loc0020><loc0500><loc0600> cat", ["bad_loc"], 0),
        ("<loc0010><loc0020><loc0500><loc0600><loc0700> cat", ["extra_loc"], 0),
        ("a cat sitting", ["no_box"], 0),
        # two objects without the separator, one good and one cut off at the end
        ("<loc0010><loc0020><loc0500><loc0600> cat<loc0001><loc0002> dog", ["truncated_loc"], 1),
        (
            "<loc0010><loc0020><loc0500><loc0600> cat ; ; <loc0011><loc0021><loc0501><loc0601> dog",
            [],
            2,
        ),
    ],
)
def test_hostile_detections(text, reasons, n_objects) -> None:
    parsed = tl.parse(DET, text, W, H)
    assert [i.reason for i in parsed.invalid] == reasons
    assert len(parsed.objects) == n_objects
    assert all(o.label in ("cat", "dog") for o in parsed.objects)


def test_labels_argument_overrides_the_prompt() -> None:
    text = "<loc0010><loc0020><loc0500><loc0600> horse"
    assert tl.parse(DET, text, W, H, labels=["horse"]).objects[0].label == "horse"
    anything = tl.Prompt("detect", None, "")  # no labels known: any label goes
    assert tl.parse(anything, text, W, H).objects[0].label == "horse"


SEG = tl.segment(["cat"])
BOX = "<loc0010><loc0020><loc0500><loc0600>"


@pytest.fixture(scope="module")
def codec() -> MaskCodec:
    import torch

    torch.manual_seed(0)
    return MaskCodec(MaskCodecConfig(dims=(4, 4, 8, 8), embed_dim=8)).eval()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (BOX + "".join(f"<seg{i:03d}>" for i in range(15)) + " cat", "truncated_seg"),
        (BOX + "".join(f"<seg{i:03d}>" for i in range(17)) + " cat", "extra_seg"),
        (BOX + "".join(f"<seg{i * 10:03d}>" for i in range(16)) + " cat", "bad_seg"),  # 150 >= 128
        (BOX + "<seg12>" * 16 + " cat", "bad_seg"),
        (BOX + " cat", "missing_seg"),
    ],
)
def test_hostile_segmentations(codec, text, reason) -> None:
    parsed = tl.parse(SEG, text, W, H, codec=codec)
    assert [i.reason for i in parsed.invalid] == [reason]
    assert parsed.objects == []


def test_segmentation_without_codec_or_too_large_is_counted(codec) -> None:
    text = BOX + "<seg001>" * 16 + " cat"
    parsed = tl.parse(SEG, text, W, H)
    assert parsed.invalid_counts() == {"no_codec": 1}
    huge = tl.parse(SEG, text, 100_000, 100_000, codec=codec)  # would be a 10 GB mask
    assert huge.invalid_counts() == {"too_large": 1}


TOKENS = st.sampled_from(
    [
        "<loc0000>",
        "<loc1023>",
        "<loc0512>",
        "<loc9999>",
        "<loc>",
        "<seg000>",
        "<seg127>",
        "<seg128>",
        "<seg>",
        " ; ",
        ";",
        " cat",
        " dog",
        "bird",
        "<eos>",
        "<pad>",
        "<",
        ">",
        "<unk>",
        "\n",
        "ü",
        "猫",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(TOKENS, max_size=60), st.sampled_from([DET, SEG, "caption en", "ocr", "hello"]))
def test_token_soup_never_raises(codec, tokens, prompt) -> None:
    text = "".join(tokens)
    parsed = tl.parse(prompt, text, W, H, codec=codec)
    json.dumps(parsed.to_json())
    for obj in parsed.objects:
        x0, y0, x1, y1 = obj.box
        assert 0 <= x0 <= x1 <= W and 0 <= y0 <= y1 <= H
        if isinstance(obj, Segmentation):
            assert obj.mask.shape == (H, W) and obj.mask.dtype == bool


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200), st.integers(-5, 5000), st.integers(-5, 5000))
def test_any_text_any_size_never_raises(text, w, h) -> None:
    tl.parse(DET, text, w, h)
    tl.parse(tl.parse_prompt(text).task, text, w, h)


# -- segmentations and JSON ---------------------------------------------------------------------


def test_segmentation_encode_parse_and_json(codec) -> None:
    mask = np.zeros((H, W), dtype=bool)
    mask[20:60, 40:120] = True
    objects = [Segmentation("cat", (40.0, 20.0, 120.0, 60.0), mask)]
    text = tl.encode_segmentations(objects, W, H, codec)
    assert text.count("<seg") == 16 and text.endswith(" cat")
    parsed = tl.parse(SEG, text, W, H, codec=codec, score=-0.25)
    assert parsed.invalid == []
    (obj,) = parsed.objects
    assert isinstance(obj, Segmentation) and obj.mask.shape == (H, W)
    assert not obj.mask[:19].any() and not obj.mask[61:].any()  # pasted inside its box only
    out = parsed.to_json()
    rle = out["objects"][0]["mask"]
    assert rle["size"] == [H, W]
    back = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    assert (back.astype(bool) == obj.mask).all()
    assert out["objects"][0]["score"] == -0.25
    assert np.array_equal(tl.rle_to_mask(rle), obj.mask)
    json.dumps(out)


def test_answers_and_counts() -> None:
    parsed = tl.parse(tl.answer("what is this?"), " a stove<eos>", W, H)
    assert (parsed.task, parsed.answer, parsed.invalid) == ("answer", "a stove", [])
    empty = tl.parse("caption en", "<eos>", W, H)
    assert empty.invalid_counts() == {"empty_answer": 1}
    hostile = [tl.parse(DET, t, W, H) for t in ("<loc0001> cat", "x", "<loc0001> cat")]
    assert tl.count_invalid(hostile) == {"truncated_loc": 2, "no_box": 1}
    assert isinstance(hostile[1].invalid[0], Invalid)
    det = tl.parse(DET, "<loc0000><loc0000><loc1023><loc1023> dog", W, H).to_json()
    assert det["objects"] == [{"label": "dog", "box": [0.0, 0.0, 200.0, 100.0], "score": 0.0}]


def test_referring_answers_without_a_label_are_the_prompt_s_object() -> None:
    """RefCOCO-tuned checkpoints answer ``<loc>``x4``<seg>``x16 with no label: the object is
    the one the prompt names; with several named, a missing label stays invalid."""
    locs = "<loc0100><loc0200><loc0700><loc0900>"
    segs = "".join(f"<seg{i:03d}>" for i in range(16))
    parsed = tl.parse("segment the man on the left", locs + segs, 100, 80)
    (obj,) = parsed.objects
    assert obj.label == "the man on the left" and parsed.invalid_counts() == {"no_codec": 1}
    parsed = tl.parse("detect cat ; dog", locs, 100, 80)
    assert not parsed.objects and parsed.invalid_counts() == {"missing_label": 1}
