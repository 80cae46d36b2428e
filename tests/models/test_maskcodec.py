"""The mask codec: vae-oid's shapes and names, the converter, files, and training on masks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from globelens.cli.main import app
from globelens.models import maskcodec as mc
from globelens.models import tasklang as tl
from globelens.models.maskcodec_train import (
    CodecTrainConfig,
    iter_coco_masks,
    synthetic_masks,
    tight_box,
    train_codec,
)

# the official vae-oid.npz: a PyTorch state dict in npz form (PROTOCOLS section 5)
VAE_OID_SHAPES = {
    "_vq_vae._embedding": (128, 512),
    "encoder.0.weight": (16, 1, 4, 4),
    "encoder.2.weight": (32, 16, 4, 4),
    "encoder.4.weight": (64, 32, 4, 4),
    "encoder.6.weight": (128, 64, 4, 4),
    "encoder.10.weight": (512, 128, 1, 1),
    "decoder.0.weight": (128, 512, 1, 1),
    # ConvTranspose2d weights are (in, out, kh, kw): 128 -> 128 -> 64 -> 32 -> 16
    "decoder.4.weight": (128, 128, 4, 4),
    "decoder.6.weight": (128, 64, 4, 4),
    "decoder.8.weight": (64, 32, 4, 4),
    "decoder.10.weight": (32, 16, 4, 4),
    "decoder.12.weight": (1, 16, 1, 1),
}
for _b in ("encoder.8", "encoder.9", "decoder.2", "decoder.3"):
    VAE_OID_SHAPES |= {
        f"{_b}.net.0.weight": (128, 128, 3, 3),
        f"{_b}.net.2.weight": (128, 128, 3, 3),
        f"{_b}.net.4.weight": (128, 128, 1, 1),
    }
for _k, _s in list(VAE_OID_SHAPES.items()):
    if _k.endswith(".weight"):
        conv_t = _k.split(".")[1] in ("4", "6", "8", "10") and _k.startswith("decoder")
        VAE_OID_SHAPES[_k.replace(".weight", ".bias")] = (_s[1] if conv_t else _s[0],)


def _fake_vae_oid(path, drop: str | None = None, reshape: str | None = None):
    rng = np.random.default_rng(0)
    arrays = {
        k: (rng.standard_normal(s) * 0.05).astype(np.float32)
        for k, s in VAE_OID_SHAPES.items()
        if k != drop
    }
    if reshape:
        arrays[reshape] = arrays[reshape][:-1]
    np.savez(path, **arrays)
    return arrays


def test_architecture_matches_vae_oid_names_and_shapes() -> None:
    codec = mc.MaskCodec()
    assert {k: tuple(v.shape) for k, v in codec.state_dict().items()} == VAE_OID_SHAPES
    x = torch.rand(3, 64, 64) * 2 - 1
    z = codec.encode_latents(x)
    assert z.shape == (3, 16, 512)
    codes = codec.encode(x)
    assert codes.shape == (3, 16) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < 128
    # each transposed conv doubles the grid: 4 -> 8 -> 16 -> 32 -> 64
    sizes, h = [], torch.zeros(1, 512, 4, 4)
    for layer in codec.decoder:
        h = layer(h)
        if isinstance(layer, torch.nn.ConvTranspose2d):
            sizes.append(h.shape[-1])
    assert sizes == [8, 16, 32, 64]
    assert codec.decode(codes).shape == (3, 64, 64)


def test_convert_vae_oid(tmp_path) -> None:
    arrays = _fake_vae_oid(tmp_path / "vae-oid.npz")
    out = mc.convert_vae_oid(tmp_path / "vae-oid.npz", tmp_path / "codec.safetensors")
    codec = mc.load_codec(out)
    for k, v in codec.state_dict().items():
        assert np.array_equal(v.numpy(), arrays[k]), k
    # decoding by hand with the npz arrays gives the same mask values (layer wiring check)
    codes = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]])
    a = {k: torch.from_numpy(v) for k, v in arrays.items()}
    h = a["_vq_vae._embedding"][codes].reshape(1, 4, 4, 512).permute(0, 3, 1, 2)
    h = torch.relu(torch.nn.functional.conv2d(h, a["decoder.0.weight"], a["decoder.0.bias"]))
    for b in ("decoder.2", "decoder.3"):
        r = torch.relu(
            torch.nn.functional.conv2d(h, a[f"{b}.net.0.weight"], a[f"{b}.net.0.bias"], padding=1)
        )
        r = torch.relu(
            torch.nn.functional.conv2d(r, a[f"{b}.net.2.weight"], a[f"{b}.net.2.bias"], padding=1)
        )
        h = h + torch.nn.functional.conv2d(r, a[f"{b}.net.4.weight"], a[f"{b}.net.4.bias"])
    for i in (4, 6, 8, 10):
        h = torch.nn.functional.conv_transpose2d(
            h, a[f"decoder.{i}.weight"], a[f"decoder.{i}.bias"], stride=2, padding=1
        )
        h = torch.relu(h)
    h = torch.nn.functional.conv2d(h, a["decoder.12.weight"], a["decoder.12.bias"])[:, 0]
    with torch.no_grad():
        assert torch.allclose(codec.decode(codes), h, atol=1e-5)


@pytest.mark.parametrize(
    ("drop", "reshape", "match"),
    [
        ("decoder.12.bias", None, "missing.*decoder.12.bias"),
        (None, "encoder.6.weight", "wrong shapes.*encoder.6.weight"),
        ("_vq_vae._embedding", None, "codebook"),
    ],
)
def test_convert_rejects_wrong_files(tmp_path, drop, reshape, match) -> None:
    _fake_vae_oid(tmp_path / "bad.npz", drop=drop, reshape=reshape)
    with pytest.raises(ValueError, match=match):
        mc.convert_vae_oid(tmp_path / "bad.npz", tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_the_official_npz_is_a_codec_as_it_is(tmp_path) -> None:
    """``vae-oid.npz`` loads directly (no conversion step); arrays beyond the codec's are
    left out and named, not refused."""
    arrays = _fake_vae_oid(tmp_path / "vae-oid.npz")
    codec = mc.load_codec(tmp_path / "vae-oid.npz")
    assert all(np.array_equal(v.numpy(), arrays[k]) for k, v in codec.state_dict().items())
    np.savez(tmp_path / "more.npz", **arrays, **{"ema.decoder.0.weight": np.zeros(3, np.float32)})
    out = mc.convert_vae_oid(tmp_path / "more.npz", tmp_path / "more.safetensors")
    assert mc.codec_metadata(out)["ignored"] == ["ema.decoder.0.weight"]
    (tmp_path / "notes.txt").write_text("not a codec")
    with pytest.raises(ValueError, match="neither a mask codec"):
        mc.load_codec(tmp_path / "notes.txt")


def test_convert_never_unpickles(tmp_path) -> None:
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "evil.npz", **{"_vq_vae._embedding": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        mc.convert_vae_oid(tmp_path / "evil.npz", tmp_path / "x.safetensors")
    result = CliRunner().invoke(app, ["codec", "convert", str(tmp_path / "nope.npz"), "x"])
    assert result.exit_code == 2 and "no vae-oid npz" in result.output


def test_load_codec_rejects_other_files(tmp_path) -> None:
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a globelens mask codec"):
        mc.load_codec(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError):
        mc.load_codec(tmp_path / "missing.safetensors")


def test_crop_and_paste_stay_in_the_box() -> None:
    mask = np.zeros((50, 80), dtype=bool)
    mask[10:30, 20:60] = True
    box = tight_box(mask)
    assert box == (20.0, 10.0, 60.0, 30.0)
    crop = mc.crop_masks([mask], [box])
    assert crop.shape == (1, 64, 64) and torch.allclose(crop, torch.ones_like(crop))
    (back,) = mc.paste_masks(crop, [box], 50, 80)
    assert np.array_equal(back, mask)
    # a box under a pixel wide pastes nothing (big_vision: invalid); it is still cut from
    (tiny,) = mc.paste_masks(torch.ones(1, 64, 64), [(5.0, 5.0, 5.9, 5.0)], 10, 10)
    assert tiny.sum() == 0
    assert mc.crop_masks([mask], [(5.0, 5.0, 5.0, 5.0)]).shape == (1, 64, 64)


def _big_vision_paste(m64: np.ndarray, bins: tuple[int, ...], h: int, w: int) -> np.ndarray:
    """big_vision's segmentation evaluator, step by step (``evaluators/proj/paligemma/
    transfers/segmentation.py``): bins / 1023, times the size, ``int``; PIL bilinear; > 0."""
    from PIL import Image

    y1, x1, y2, x2 = (b / 1023 for b in bins)
    y1, x1, y2, x2 = map(int, (y1 * h, x1 * w, y2 * h, x2 * w))
    full = np.zeros((h, w), bool)
    if x2 <= x1 or y2 <= y1:
        return full
    mi = np.asarray(Image.fromarray(m64).resize([x2 - x1, y2 - y1], resample=Image.BILINEAR))
    full[y1:y2, x1:x2] = mi > 0.0
    return full


@pytest.mark.parametrize(
    ("bins", "size"),
    [
        ((100, 200, 180, 300), (48, 56)),  # a ~10x9 px box: rounding moved its corners
        ((7, 13, 1001, 990), (480, 640)),  # a large one: the whole resize is PIL's
        ((500, 500, 501, 501), (300, 200)),  # under a pixel: nothing, as big_vision
    ],
)
def test_paste_is_big_vision_s(bins: tuple[int, ...], size: tuple[int, int]) -> None:
    from globelens.models.tasklang import bins_to_box

    h, w = size
    rng = np.random.default_rng(1)
    m64 = rng.uniform(-1, 1, (64, 64)).astype(np.float32)
    (ours,) = mc.paste_masks(torch.from_numpy(m64)[None], [bins_to_box(bins, w, h)], h, w)
    assert np.array_equal(ours, _big_vision_paste(m64, bins, h, w))


def test_synthetic_masks_vary() -> None:
    pairs = synthetic_masks(40, seed=3)
    aspects = [(b[2] - b[0]) / (b[3] - b[1]) for _, b in pairs]
    assert min(aspects) < 0.6 and max(aspects) > 1.6
    assert len({m.shape for m, _ in pairs}) > 20


def _coco_json(path, pairs) -> None:
    images, anns = [], []
    for i, (m, b) in enumerate(pairs):
        images.append(
            {"id": i + 1, "width": m.shape[1], "height": m.shape[0], "file_name": f"{i}.png"}
        )
        rle = tl.mask_to_rle(m)
        x0, y0, x1, y1 = b
        anns.append(
            {"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
             "bbox": [x0, y0, x1 - x0, y1 - y0], "area": int(m.sum()), "segmentation": rle}
        )  # fmt: skip
    anns.append({**anns[0], "id": 999, "iscrowd": 1})  # crowds carry no shape: skipped
    path.write_text(
        json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]})
    )


# the small codec for 80 steps: past the stage where it fills the box (~0.6 here), seconds
QUICK = CodecTrainConfig(steps=80, batch_size=32, lr=4e-3, eval_every=40, heldout=0.2)


@pytest.mark.slow
def test_train_codec_learns_shapes_and_the_task_language_uses_it(tmp_path) -> None:
    pairs = synthetic_masks(160, seed=0)
    masks, boxes = [m for m, _ in pairs], [b for _, b in pairs]
    codec, report = train_codec(masks, boxes, QUICK, progress=False)
    assert report.n_train + report.n_heldout == 160 and report.n_heldout == 32
    assert report.steps == 80 and [h["step"] for h in report.history] == [40, 80]
    # better than saying "the whole box" for every mask, which the first steps learn
    box_fill = float(
        np.mean([m[int(b[1]) : int(b[3]), int(b[0]) : int(b[2])].mean() for m, b in pairs])
    )
    assert report.heldout_iou > max(0.75, box_fill + 0.1), (report, box_fill)
    assert report.codes_used > 32
    path = mc.save_codec(codec, tmp_path / "c.safetensors", extra=report.to_dict())
    again = mc.load_codec(path)
    assert mc.codec_metadata(path)["heldout_iou"] == report.heldout_iou
    # through the task language: encode, parse, same masks as the codec gives directly
    mask, box = pairs[0]
    h, w = mask.shape
    text = tl.encode_segmentations([tl.Segmentation("x", box, mask)], w, h, again)
    (obj,) = tl.parse("segment x", text, w, h, codec=again).objects
    codes = [int(t) for t in text.split("<seg")[1:] for t in [t[:3]]]
    direct = mc.codes_to_mask(codec, codes, tl.quantize_box(box, w, h), h, w)
    assert np.array_equal(obj.mask, direct)
    assert mc.mask_iou(obj.mask, mask) > 0.3


def test_codec_train_cli(tmp_path) -> None:
    pairs = synthetic_masks(24, seed=5)
    _coco_json(tmp_path / "instances.json", pairs)
    got = list(iter_coco_masks(tmp_path / "instances.json"))
    assert len(got) == 24 and np.array_equal(got[3][0], pairs[3][0])
    assert got[3][1] == pytest.approx(pairs[3][1])
    out = tmp_path / "codec.safetensors"
    args = ["codec", "train", "--coco", str(tmp_path / "instances.json"), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--steps", "3", "--batch-size", "8", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["steps"] == 3 and summary["n_train"] + summary["n_heldout"] == 24
    assert mc.load_codec(out).config == mc.MaskCodecConfig(dims=(8, 16, 32, 64), embed_dim=32)
    scored = CliRunner().invoke(app, ["codec", "eval", str(out), "--coco", args[3]])
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.output.strip().splitlines()[-1])
    assert result["masks"] == 24 and 0 <= result["iou"] <= 1
    bad = CliRunner().invoke(
        app, ["codec", "train", "--coco", str(tmp_path / "no.json"), "--out", "x"]
    )
    assert bad.exit_code == 2 and "error" in bad.output


def test_world_masks_train_and_score_through_the_cli(tiny_world, tmp_path) -> None:
    """Scene shards to train on, the benchmark pictures' COCO file to score on."""
    from globelens.models.maskcodec_train import iter_shard_masks

    scenes = str(tiny_world / "scenes" / "*.tar")
    coco = tiny_world / "benchmarks/coco_det/annotations/instances_val2017.json"
    pairs = list(iter_shard_masks(scenes, limit=50))
    assert len(pairs) == 50
    mask, (x0, y0, x1, y1) = pairs[0]
    assert (
        mask.dtype == bool
        and mask[round(y0) : round(y1), round(x0) : round(x1)].sum() == mask.sum()
    )
    out = tmp_path / "world.safetensors"
    args = ["codec", "train", "--scenes", scenes, "--heldout-coco", str(coco), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--steps", "2", "--batch-size", "8", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["n_heldout"] == len(list(iter_coco_masks(coco)))
    assert mc.codec_metadata(out)["heldout_source"] == str(coco)
    both = CliRunner().invoke(app, [*args, "--coco", str(coco)])
    assert both.exit_code == 2 and "give the masks" in both.output


def test_one_mask_iou_for_the_codec_and_the_evaluator() -> None:
    """The codec's round trip and the evaluator's mIoU score with the same rule: two empty
    masks are 0 (an empty answer is never right), shapes must agree."""
    from globelens.evaluate.genmetrics import refseg

    assert refseg.mask_iou is mc.mask_iou
    empty = np.zeros((4, 6), bool)
    half = empty.copy()
    half[:, :3] = True
    assert mc.mask_iou(empty, empty) == 0.0
    assert mc.mask_iou(half, half) == 1.0 and mc.mask_iou(half, ~half) == 0.0
    assert mc.mask_iou(half, np.ones_like(half)) == 0.5
    with pytest.raises(ValueError, match="shapes differ"):
        mc.mask_iou(empty, np.zeros((6, 4), bool))
