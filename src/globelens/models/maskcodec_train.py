"""Train a small mask codec (big_vision's VQ-VAE architecture) on any masks, on a CPU.

The official ``vae-oid`` weights cannot be downloaded everywhere; a codec trained here on the
masks of a COCO instances file (the embedded world's, or any other) is saved in the same
format, so segmentation works offline end to end. Quality is the encode-then-decode IoU of
held-out masks at full resolution, through the same crop/paste the task language uses.

The vector quantiser is the standard VQ-VAE one (straight-through gradients, codebook and
commitment losses), plus two things that keep a 128-entry codebook alive in a few hundred
steps: the codebook starts from encoder outputs, and entries no batch used for a while are
moved onto latents the codebook serves worst.

It keeps its own short loop rather than the shared trainer's (``globelens.train.loop``): that
loop streams pictures from shards with checkpoints and resume, while the codec trains in
seconds on mask crops held in memory (a COCO JSON's, scene objects', drawn shapes), with Adam
and a one-cycle schedule (the loop's AdamW schedule would change every codec trained so far),
and stops early at a target IoU. Its score is the evaluator's ``mask_iou``
(``globelens.models.maskcodec``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from globelens.models.maskcodec import (
    MaskCodec,
    MaskCodecConfig,
    crop_masks,
    mask_iou,
    paste_masks,
    save_codec,
)
from globelens.models.tasklang import Box, rle_to_mask

log = logging.getLogger(__name__)

#: the small codec globelens trains: vae-oid's layout, narrower (0.47M parameters instead of
#: 2.1M), so one CPU core trains it to a held-out IoU above 0.8 in about 100 steps
SMALL = MaskCodecConfig(dims=(8, 16, 32, 64), embed_dim=32)


@dataclass(frozen=True)
class CodecTrainConfig:
    codec: MaskCodecConfig = field(default_factory=lambda: SMALL)
    steps: int = 400
    batch_size: int = 32
    lr: float = 4e-3
    #: weight of the commitment loss (VQ-VAE's beta)
    commitment: float = 0.25
    #: codebook entries unused for this many steps are moved onto badly served latents
    reset_after: int = 20
    #: fraction of the masks held out to measure the round trip IoU
    heldout: float = 0.1
    #: stop early once the held-out IoU reaches this (None: run all steps)
    target_iou: float | None = None
    eval_every: int = 100
    seed: int = 0
    #: torch CPU threads; one is fastest on a shared machine (OpenMP threads spin while their
    #: peers wait for a core)
    threads: int | None = 1


@dataclass
class CodecReport:
    n_train: int
    n_heldout: int
    steps: int
    #: wall-clock and CPU time of this process (they differ on a shared machine)
    seconds: float
    cpu_seconds: float
    #: mean encode-then-decode IoU of held-out masks at full resolution
    heldout_iou: float
    #: fraction of held-out masks with IoU >= 0.8
    heldout_iou_ge_08: float
    codes_used: int
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tight_box(mask: np.ndarray) -> Box:
    """The smallest pixel box (x0, y0, x1, y1) holding every True pixel (x1, y1 exclusive)."""
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return (0.0, 0.0, float(mask.shape[1]), float(mask.shape[0]))
    r = np.flatnonzero(rows)
    c = np.flatnonzero(cols)
    return (float(c[0]), float(r[0]), float(c[-1] + 1), float(r[-1] + 1))


# -- masks to train on --------------------------------------------------------------------------


def iter_coco_masks(
    path: str | Path, limit: int | None = None, min_area: int = 4
) -> Iterator[tuple[np.ndarray, Box]]:
    """(mask, box) of every instance in a COCO instances JSON (RLE or polygons), in file order.

    ``bbox`` is COCO's [x, y, w, h]; masks below ``min_area`` pixels, crowds and annotations
    without a segmentation are skipped (they carry no shape to learn).
    """
    import contextlib
    import io

    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress lines
        coco = COCO(str(path))
    n = 0
    for ann_id in sorted(coco.anns):
        ann = coco.anns[ann_id]
        if ann.get("iscrowd") or not ann.get("segmentation") or ann.get("area", 1) < min_area:
            continue
        mask = coco.annToMask(ann).astype(bool)
        if mask.sum() < min_area:
            continue
        x, y, w, h = ann.get("bbox") or tight_box(mask)
        yield mask, (float(x), float(y), float(x + w), float(y + h))
        n += 1
        if limit is not None and n >= limit:
            return


def iter_shard_masks(
    pattern: str | Sequence[str], limit: int | None = None, min_area: int = 4
) -> Iterator[tuple[np.ndarray, Box]]:
    """(mask, box) of every object in scene shards whose ``.json`` has ``objects`` with a
    COCO RLE ``segmentation`` and a COCO ``bbox`` (the layout of ``OUT/scenes/*.tar``).

    Objects whose mask does not decode are skipped and logged (counted in the log line).
    """
    from globelens.data.shards import ReadReport, read_shards

    report = ReadReport()
    n = bad = 0
    for sample in read_shards(pattern, report, require_caption=False):
        for obj in sample.meta.get("objects") or []:
            try:
                mask = rle_to_mask(obj["segmentation"])
                x, y, w, h = (float(v) for v in obj.get("bbox") or tight_box(mask))
            except (KeyError, TypeError, ValueError):
                bad += 1
                continue
            if mask.sum() < min_area:
                continue
            yield mask, (x, y, x + w, y + h)
            n += 1
            if limit is not None and n >= limit:
                break
        if limit is not None and n >= limit:
            break
    log.info(json.dumps({"event": "shard_masks", "masks": n, "bad_objects": bad,
                         "samples": report.samples}))  # fmt: skip


def _shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    kind = rng.integers(4)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    rx, ry = rng.uniform(0.05, 0.45) * w, rng.uniform(0.05, 0.45) * h
    if kind == 0:
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=1)
    elif kind == 1:  # a star-shaped polygon: convex or not, 3 to 12 corners
        k = int(rng.integers(3, 13))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = rng.uniform(0.4, 1.0, k)
        pts = [
            (cx + rx * r * np.cos(a), cy + ry * r * np.sin(a))
            for a, r in zip(angles, radii, strict=True)
        ]
        draw.polygon(pts, fill=1)
    elif kind == 2:  # a rotated rectangle
        a = rng.uniform(0, np.pi)
        c, s = np.cos(a), np.sin(a)
        pts = [(cx + c * dx - s * dy, cy + s * dx + c * dy) for dx, dy in
               ((-rx, -ry), (rx, -ry), (rx, ry), (-rx, ry))]  # fmt: skip
        draw.polygon(pts, fill=1)
    else:  # a ring
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=1)
        f = rng.uniform(0.3, 0.7)
        draw.ellipse([cx - f * rx, cy - f * ry, cx + f * rx, cy + f * ry], fill=0)


def synthetic_masks(n: int, seed: int = 0) -> list[tuple[np.ndarray, Box]]:
    """Drawn masks of many kinds and aspects: ellipses, polygons, rotated boxes, rings and
    unions of two or three of them, on pictures of 48 to 320 pixels a side."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        w, h = (int(v) for v in rng.integers(48, 321, 2))
        img = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.choice([1, 1, 2, 3]))):
            _shape(draw, rng, w, h)
        mask = np.asarray(img, dtype=bool)
        if mask.sum() >= 8:
            out.append((mask, tight_box(mask)))
    return out


# -- training -----------------------------------------------------------------------------------


def _init_codebook(codec: MaskCodec, x: torch.Tensor, gen: torch.Generator) -> None:
    with torch.no_grad():
        z = codec.encode_latents(x).reshape(-1, codec.config.embed_dim)
        idx = torch.randperm(z.shape[0], generator=gen)[: codec.config.num_codes]
        codec.codebook.data.copy_(z[idx])


@torch.no_grad()
def heldout_iou(
    codec: MaskCodec, masks: Sequence[np.ndarray], boxes: Sequence[Box], batch_size: int = 256
) -> list[float]:
    """Encode-then-decode IoU of each mask at full resolution, as the task language does it:
    crop to the box, encode, decode, paste back into the box of a picture of the mask's size."""
    codec.eval()
    ious = []
    for i in range(0, len(masks), batch_size):
        mb, bb = masks[i : i + batch_size], boxes[i : i + batch_size]
        values = codec.decode(codec.encode(crop_masks(mb, bb)))
        for m, b, v in zip(mb, bb, values, strict=True):
            (back,) = paste_masks(v[None], [b], *m.shape)
            ious.append(mask_iou(m, back))
    return ious


def evaluate_codec(
    codec: MaskCodec, coco_json: str | Path, limit: int | None = None
) -> dict[str, float | int]:
    """Round-trip IoU of ``codec`` on a COCO instances JSON's masks: mean, share >= 0.8."""
    pairs = list(iter_coco_masks(coco_json, limit=limit))
    if not pairs:
        raise ValueError(f"{coco_json} has no usable instance masks")
    ious = np.asarray(heldout_iou(codec, [m for m, _ in pairs], [b for _, b in pairs]))
    return {
        "masks": len(pairs),
        "iou": round(float(ious.mean()), 4),
        "iou_ge_08": round(float((ious >= 0.8).mean()), 4),
    }


def train_codec(
    masks: Sequence[np.ndarray],
    boxes: Sequence[Box] | None = None,
    config: CodecTrainConfig | None = None,
    *,
    heldout: Sequence[tuple[np.ndarray, Box]] | None = None,
    progress: bool = True,
) -> tuple[MaskCodec, CodecReport]:
    """Train a mask codec on (H, W) bool masks cut to their pixel boxes (tight boxes if None).

    Held-out masks are scored with the full-resolution round trip: ``heldout`` (mask, box)
    pairs when given (e.g. benchmark pictures), else a ``config.heldout`` share of ``masks``
    (at least one) kept out of training. The report says how well, how long and how many
    codebook entries are in use.
    """
    cfg = config or CodecTrainConfig()
    if len(masks) < 2:
        raise ValueError(f"train_codec needs at least 2 masks, got {len(masks)}")
    boxes = list(boxes) if boxes is not None else [tight_box(m) for m in masks]
    if len(boxes) != len(masks):
        raise ValueError(f"{len(masks)} masks but {len(boxes)} boxes")
    old_threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(list(masks), boxes, cfg, progress, heldout)
    finally:
        torch.set_num_threads(old_threads)


def _train(
    masks: list[np.ndarray],
    boxes: list[Box],
    cfg: CodecTrainConfig,
    progress: bool,
    heldout: Sequence[tuple[np.ndarray, Box]] | None,
) -> tuple[MaskCodec, CodecReport]:
    start = time.perf_counter()
    cpu_start = time.process_time()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(masks), generator=gen).tolist()
    if heldout:
        train = order
        held_masks, held_boxes = [m for m, _ in heldout], [b for _, b in heldout]
    else:
        n_held = min(max(1, round(len(masks) * cfg.heldout)), len(masks) - 1)
        held, train = order[:n_held], order[n_held:]
        held_masks, held_boxes = [masks[i] for i in held], [boxes[i] for i in held]
    x_all = crop_masks([masks[i] for i in train], [boxes[i] for i in train])

    codec = MaskCodec(cfg.codec)
    opt = torch.optim.Adam(codec.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1
    )
    n_codes = cfg.codec.num_codes
    last_used = torch.zeros(n_codes, dtype=torch.long)
    _init_codebook(codec, x_all[torch.randperm(len(x_all), generator=gen)[:64]], gen)
    history: list[dict[str, float]] = []
    iou = 0.0
    step = 0
    bar = tqdm(range(cfg.steps), desc="codec", disable=not progress, leave=False)
    for step in bar:
        codec.train()
        idx = torch.randint(len(x_all), (cfg.batch_size,), generator=gen)
        x = x_all[idx]
        # flips and transposes are masks too: more shapes from the same data
        if torch.rand(1, generator=gen) < 0.5:
            x = x.flip(-1)
        if torch.rand(1, generator=gen) < 0.5:
            x = x.transpose(-1, -2)
        z = codec.encode_latents(x)
        codes = codec.nearest(z.detach())
        q = codec.codebook[codes]
        zq = z + (q - z).detach()  # straight-through
        logits = codec.decode_latents(zq)
        recon = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2)
        vq = F.mse_loss(q, z.detach()) + cfg.commitment * F.mse_loss(z, q.detach())
        loss = recon + vq
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            used = torch.bincount(codes.flatten(), minlength=n_codes) > 0
            last_used[used] = step
            dead = (step - last_used >= cfg.reset_after).nonzero().flatten()
            if len(dead):
                # move dead entries onto the latents the codebook serves worst
                flat = z.detach().reshape(-1, z.shape[-1])
                err = (flat - codec.codebook[codes.flatten()]).pow(2).sum(-1)
                worst = err.argsort(descending=True)[: len(dead)]
                codec.codebook.data[dead[: len(worst)]] = flat[worst]
                last_used[dead] = step
        bar.set_postfix(loss=f"{loss.item():.3f}")
        done = step + 1 == cfg.steps
        if (step + 1) % cfg.eval_every == 0 or done:
            iou = float(np.mean(heldout_iou(codec, held_masks, held_boxes)))
            history.append({"step": step + 1, "loss": float(loss.detach()), "heldout_iou": iou})
            log.info(json.dumps({"event": "codec_eval", **history[-1]}))
            if cfg.target_iou is not None and iou >= cfg.target_iou:
                break
    codec.eval()
    ious = heldout_iou(codec, held_masks, held_boxes)
    with torch.no_grad():
        used_codes = len(torch.unique(codec.encode(x_all[:2048])))
    report = CodecReport(
        n_train=len(train),
        n_heldout=len(held_masks),
        steps=step + 1,
        seconds=round(time.perf_counter() - start, 2),
        cpu_seconds=round(time.process_time() - cpu_start, 2),
        heldout_iou=round(float(np.mean(ious)), 4),
        heldout_iou_ge_08=round(float(np.mean(np.asarray(ious) >= 0.8)), 4),
        codes_used=used_codes,
        history=history,
    )
    return codec, report


def train_codec_files(
    out: str | Path,
    *,
    coco: str | Path | None = None,
    scenes: str | None = None,
    heldout_coco: str | Path | None = None,
    config: CodecTrainConfig | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> CodecReport:
    """Train on the masks of a COCO instances JSON (``coco``) or of scene shards (``scenes``,
    e.g. ``OUT/scenes/*.tar``) and save the codec at ``out``. ``heldout_coco`` scores on
    another file's masks (e.g. ``OUT/benchmarks/coco_det``'s) instead of a split."""
    if (coco is None) == (scenes is None):
        raise ValueError("give the masks to train on: a COCO instances JSON or scene shards")
    if coco is not None:
        pairs, source = list(iter_coco_masks(coco, limit=limit)), str(coco)
    else:
        pairs, source = list(iter_shard_masks(scenes, limit=limit)), str(scenes)
    if len(pairs) < 2:
        raise ValueError(f"{source} has {len(pairs)} usable masks; need at least 2")
    held = list(iter_coco_masks(heldout_coco)) if heldout_coco is not None else None
    if held is not None and not held:
        raise ValueError(f"{heldout_coco} has no usable masks to score on")
    codec, report = train_codec(
        [m for m, _ in pairs], [b for _, b in pairs], config, heldout=held, progress=progress
    )
    extra = {"source": Path(source).name, "heldout_source": str(heldout_coco or "split")}
    save_codec(codec, out, extra={**extra, **report.to_dict()})
    return report
