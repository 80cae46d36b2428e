"""Generative metrics equal their references: pycocoevalcap (captions), the official vqaEval
rules (VQA), pycocotools (detection AP), big_vision's segmentation evaluator (refseg)."""

from __future__ import annotations

import contextlib
import io
import shutil

import numpy as np
import pytest

from globelens.evaluate import metrics as M
from globelens.evaluate.genmetrics import captions as C
from globelens.evaluate.genmetrics import detection as D
from globelens.evaluate.genmetrics import refseg as R
from globelens.evaluate.genmetrics import vqa as V

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="java not installed")

REFS = {
    "1": ["A man riding a wave on top of a surfboard.", "A surfer rides a large wave."],
    "2": ["Two dogs play with a frisbee in the park.", "dogs playing in the grass"],
    "3": ["A kitchen with a stove, a sink and a window.", "An old kitchen; the stove is gas."],
    "4": ["A red bus parked on the street.", "a double-decker bus on a city road"],
}
PREDS = {
    "1": "a man riding a wave on a surfboard",
    "2": "two dogs playing with a frisbee",
    "3": "a kitchen with a stove and a sink",
    "4": "a bus",
}


@needs_java
def test_caption_scores_equal_pycocoevalcap() -> None:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in REFS.items()})
    res = tok.tokenize({k: [{"caption": v}] for k, v in PREDS.items()})
    cider, cider_img = Cider().compute_score(gts, res)
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_img = Rouge().compute_score(gts, res)

    assert C.ptb_tokenize(REFS) == gts  # the same tokens as pycocoevalcap's wrapper
    ours = C.caption_scores(REFS, PREDS)
    assert ours.keys == list(REFS)
    assert ours.corpus["CIDEr"] == pytest.approx(cider, abs=1e-12)
    assert ours.corpus["ROUGE_L"] == pytest.approx(rouge, abs=1e-12)
    for n in range(4):
        assert ours.corpus[f"Bleu_{n + 1}"] == pytest.approx(bleu[n], abs=1e-12)
    np.testing.assert_allclose(ours.per_image["CIDEr"], cider_img, atol=1e-12)
    np.testing.assert_allclose(ours.per_image["ROUGE_L"], rouge_img, atol=1e-12)
    assert ours.per_image["CIDEr"].mean() == pytest.approx(ours.corpus["CIDEr"])


@needs_java
def test_hostile_captions_cannot_shift_lines() -> None:
    """A carriage return, a Unicode line separator, control bytes or an empty caption in
    one prediction leave every other image's score as it was."""
    clean = C.caption_scores(REFS, PREDS)
    hostile = dict(PREDS, **{"1": "a man\r\u2028riding\x00 a\x85wave\n\n", "3": ""})
    ours = C.caption_scores(REFS, hostile)
    for k in ("2", "4"):
        i = ours.keys.index(k)
        # CIDEr's IDF is over references only, so other images' scores must not move.
        assert ours.per_image["CIDEr"][i] == pytest.approx(clean.per_image["CIDEr"][i])
    assert ours.per_image["CIDEr"][ours.keys.index("3")] == 0.0
    assert C.clean_text("a\rb\u2028c\x00d") == "a b c d"


@needs_java
def test_spaceless_languages_are_scored_by_character() -> None:
    refs = {"a": ["厨房里有一个炉子。"], "b": ["一只猫在睡觉"]}
    same = C.caption_scores(refs, {"a": "厨房里有一个炉子", "b": "一只猫在睡觉"}, lang="zh")
    other = C.caption_scores(refs, {"a": "狗", "b": "鸟"}, lang="zh")
    assert same.corpus["CIDEr"] > 1.0 > other.corpus["CIDEr"]
    assert C.char_split("厨房 ok ห้อง") == "厨 房 ok ห ้ อ ง"


# -- VQA: vectors derived from the official vqaEval rules ---------------------------------------

NORMALISATION = [
    ("Two", "2"),  # number words -> digits
    ("ten dogs", "10 dogs"),
    ("none", "0"),
    ("The cat", "cat"),  # articles dropped, lower-cased
    ("an apple a day", "apple day"),
    ("dont", "don't"),  # contractions restored
    ("isnt it", "isn't it"),
    ("yes.", "yes"),  # a period not followed by a digit goes
    ("3.5", "3.5"),  # a decimal point stays
    ("1,000", "1000"),  # digit-comma-digit: punctuation deleted, not spaced
    ("red,white", "red white"),  # punctuation not touching a space becomes a space
    ("red, white", "red white"),  # touching a space: deleted
    ("t-shirt", "t shirt"),
    ("well - done", "well done"),
    ("what?!", "what"),
    ("  left\n\tright ", "left right"),
    ("it's", "it's"),  # the apostrophe is not punctuation to the official code
    ("o'clock", "o'clock"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALISATION)
def test_vqa_normalisation_follows_official_rules(raw: str, expected: str) -> None:
    assert V.normalize_prediction(raw) == expected


def test_vqa_period_strip_keeps_the_official_count_of_32() -> None:
    # vqaEval passes re.UNICODE (32) as re.sub's count: only 32 periods are removed.
    assert V.process_punctuation("." * 40) == "." * 8


@pytest.mark.parametrize(
    ("n_match", "expected"),
    [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)],
)
def test_vqa_accuracy_is_leave_one_out_min_of_matches_over_3(n_match: int, expected: float) -> None:
    # With k matching humans: leaving out a matching one leaves k-1, else k.
    answers = ["2"] * n_match + ["3"] * (10 - n_match)
    direct = np.mean([min(1, (n_match - (i < n_match)) / 3) for i in range(10)])
    assert V.vqa_accuracy("two", answers) == pytest.approx(expected)
    assert V.vqa_accuracy("two", answers) == pytest.approx(direct)


def test_vqa_humans_get_punctuation_only_when_they_disagree() -> None:
    # All ten agree: compared as stored (no normalisation), so "yes!" never matches "yes".
    assert V.vqa_accuracy("yes", ["yes!"] * 10) == 0.0
    # They disagree: punctuation processing applies to them ("yes." -> "yes") ...
    assert V.vqa_accuracy("yes", ["yes."] * 9 + ["no"]) == 1.0
    # ... without the strip the prediction gets: "yes!" -> "yes " (the "!" becomes a space).
    assert V.vqa_accuracy("yes", ["yes!"] * 9 + ["no"]) == 0.0
    # ... but not the digit/article step: "two" humans never match a "2" prediction.
    assert V.vqa_accuracy("2", ["two"] * 9 + ["3"]) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        V.vqa_accuracy("x", [])


# -- detection: pycocotools --------------------------------------------------------------------


def _random_coco(seed: int, n_img: int = 40, n_cat: int = 5):
    rng = np.random.default_rng(seed)
    imgs = [{"id": i + 1, "width": 120, "height": 90} for i in range(n_img)]
    cats = [{"id": c + 1, "name": f"c{c}"} for c in range(n_cat)]
    anns, dets = [], []
    for im in imgs:
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, 70), rng.uniform(0, 50)
            w, h = rng.uniform(4, 45), rng.uniform(4, 35)
            c = int(rng.integers(1, n_cat + 1))
            anns.append(
                {"id": len(anns) + 1, "image_id": im["id"], "category_id": c,
                 "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0}
            )  # fmt: skip
            if rng.random() < 0.8:
                c2 = c if rng.random() < 0.8 else int(rng.integers(1, n_cat + 1))
                box = [x + rng.normal(0, 3), y + rng.normal(0, 3), w * rng.uniform(0.8, 1.2), h]
                # few distinct scores: ties, as a shared sequence log-probability makes them
                dets.append({"image_id": im["id"], "category_id": c2, "bbox": box,
                             "score": float(rng.choice([-0.5, -1.0, -2.0]))})  # fmt: skip
        if rng.random() < 0.3:
            dets.append({"image_id": im["id"], "category_id": int(rng.integers(1, n_cat + 1)),
                         "bbox": [5, 5, 30, 30], "score": -1.0})  # fmt: skip
    gt = D.coco_from_dict({"images": imgs, "categories": cats, "annotations": anns})
    return gt, dets


def _pycocotools_stats(gt, dets, img_ids=None):
    from pycocotools.cocoeval import COCOeval

    ev = COCOeval(gt, D.coco_results(gt, dets), "bbox")
    if img_ids is not None:
        ev.params.imgIds = list(img_ids)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_and_subset_ap_equal_pycocotools(seed: int) -> None:
    gt, dets = _random_coco(seed)
    ev = D.run_cocoeval(gt, dets)
    ref = _pycocotools_stats(gt, dets)
    assert ev.stats[0] == pytest.approx(ref[0]) and ev.stats[1] == pytest.approx(ref[1])
    sub = D.SubsetAP(ev)
    m_ap, ap50 = sub.ap(np.ones(len(sub.img_ids), int))
    assert m_ap == pytest.approx(ref[0], abs=1e-12) and ap50 == pytest.approx(ref[1], abs=1e-12)
    rng = np.random.default_rng(seed)
    for _ in range(3):  # random image subsets (a group): pycocotools with params.imgIds
        pos = np.sort(rng.choice(len(sub.img_ids), size=15, replace=False))
        ref_sub = _pycocotools_stats(gt, dets, [sub.img_ids[p] for p in pos])
        got = sub.ap_of_indices(pos)
        assert got[0] == pytest.approx(ref_sub[0], abs=1e-12)
        assert got[1] == pytest.approx(ref_sub[1], abs=1e-12)


def test_no_detections_score_zero_not_crash() -> None:
    gt, _ = _random_coco(0)
    ev = D.run_cocoeval(gt, [])
    assert ev.stats[0] == 0.0
    assert D.SubsetAP(ev).ap(np.ones(40, int)) == (0.0, 0.0)


# -- referring segmentation: big_vision's rules ------------------------------------------------


def _rect(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_refseg_follows_big_vision() -> None:
    gt = _rect(40, 60, 10, 10, 30, 30)
    sc = R.RefSegScores()
    sc.add((10, 10, 30, 30), gt.copy(), (10, 10, 30, 30), gt)  # perfect
    sc.add((10, 10, 30, 30), _rect(40, 60, 10, 10, 20, 30), (10, 10, 30, 30), gt)  # half mask
    sc.add((20, 10, 40, 30), _rect(40, 60, 20, 10, 40, 30), (10, 10, 30, 30), gt)  # box IoU 1/3
    sc.add(None, None, (10, 10, 30, 30), gt, "truncated_seg")  # invalid: scores 0, counted
    sc.add((30, 5, 10, 20), None, (10, 10, 30, 30), gt)  # x_max < x_min: invalid
    sc.add((10, 10, 30, 30), None, (10, 10, 30, 30), gt)  # no mask tokens: invalid
    sc.add((10.2, 10, 10.8, 30), gt, (10, 10, 30, 30), gt)  # empty in whole pixels: invalid
    m = sc.metrics()
    assert sc.ious[:3] == [1.0, 0.5, pytest.approx(200 / 600)]
    assert m["miou"] == pytest.approx((1 + 0.5 + 1 / 3) / 7)  # invalid ones count as 0
    assert m["boxacc@0.5"] == pytest.approx(2 / 7)
    assert sc.invalid == 4 and m["invalid_rate"] == pytest.approx(4 / 7)
    assert sc.reasons[3:] == ["truncated_seg", "bad_box", "no_mask", "empty_box"]
    with pytest.raises(ValueError, match="shapes differ"):
        R.mask_iou(np.zeros((2, 2), bool), np.zeros((3, 3), bool))


# -- group reports of any score ------------------------------------------------------------------


def test_score_group_report_means_and_statistics_agree() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(200)
    g = rng.choice(["$0-200", "$201-684", "$1998+"], 200)
    boot = M.bootstrap_indices(200, 50, 0)
    fast = M.score_group_report(x, list(g), boot, "CIDEr")
    slow = M.score_group_report(x, list(g), boot, "CIDEr", stat=lambda idx: float(x[idx].mean()))
    for name in ("$0-200", "$201-684", "$1998+"):
        assert fast["groups"][name]["CIDEr"] == pytest.approx(x[g == name].mean())
        assert fast["groups"][name]["CIDEr_ci95"] == pytest.approx(
            slow["groups"][name]["CIDEr_ci95"]
        )
    means = {n: x[g == n].mean() for n in set(g)}
    assert fast["spread"] == pytest.approx(max(means.values()) - min(means.values()))
    assert fast["worst"] == min(means, key=means.get)


def test_weighted_groups_agree_with_a_mean_over_languages() -> None:
    """Captions' headline is a mean over languages: its interval and every group weigh each
    caption 1 / its language's count, so a group holding every caption reports the headline."""
    from globelens.evaluate.tasks.gencommon import summarize

    scores = np.array([1.0, 1.0, 1.0, 0.0])  # three English captions, one French
    langs = ["en", "en", "en", "fr"]
    weights = np.array([1 / 3, 1 / 3, 1 / 3, 1.0])
    metas = [{"language": lang, "income_bucket": "a"} for lang in langs]  # one bucket: all
    out = summarize(
        {"CIDEr": scores}, "CIDEr", metas, ["language", "income_bucket"], 200, 0,
        overall={"CIDEr": 0.5}, weights=weights,
    )  # fmt: skip
    assert out["metrics"]["CIDEr"] == 0.5
    assert out["groups"]["income_bucket"]["groups"]["a"]["CIDEr"] == pytest.approx(0.5)
    by_lang = out["groups"]["language"]["groups"]
    assert by_lang["en"]["CIDEr"] == 1.0 and by_lang["fr"]["CIDEr"] == 0.0
    lo, hi = out["ci95"]["CIDEr"]
    assert lo <= 0.5 <= hi
