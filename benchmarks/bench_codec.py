"""Mask codec: encode-then-decode IoU of held-out masks, and how long training takes to get there.

Trains the small codec on the world's training scenes (``OUT/scenes/*.tar``) and scores the
round trip at full resolution on the masks of the benchmark pictures
(``OUT/benchmarks/coco_det``), which no training scene shows. Prints one JSON line per
evaluation and a summary with wall and CPU seconds (the machine is shared: CPU seconds are the
stable figure).

    globelens world build /tmp/lang_world --size small --quiet
    python benchmarks/bench_codec.py /tmp/lang_world --steps 400 --target-iou 0.8
    python benchmarks/bench_codec.py --synthetic 3000 --steps 400   # drawn masks only
    python benchmarks/bench_codec.py --thread-timing 1,2             # CPU-s per step by threads
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from globelens.models.maskcodec import MaskCodecConfig
from globelens.models.maskcodec_train import (
    SMALL,
    CodecTrainConfig,
    iter_coco_masks,
    iter_shard_masks,
    synthetic_masks,
    train_codec,
)


def thread_timing(threads: list[int], steps: int = 5, batch_size: int = 32) -> None:
    """CPU seconds per training step (forward, backward, Adam) for each thread count, one
    after the other in this process, on the same model and batch."""
    import torch
    import torch.nn.functional as F

    from globelens.models.maskcodec import MaskCodec

    torch.manual_seed(0)
    x = torch.rand(batch_size, 64, 64) * 2 - 1
    for n in threads:
        torch.set_num_threads(n)
        codec = MaskCodec(SMALL)
        opt = torch.optim.Adam(codec.parameters())
        for i in range(steps + 1):
            if i == 1:  # the first step warms up
                cpu, wall = time.process_time(), time.perf_counter()
            z = codec.encode_latents(x)
            q = codec.codebook[codec.nearest(z.detach())]
            out = codec.decode_latents(z + (q - z).detach())
            loss = F.binary_cross_entropy_with_logits(out, (x + 1) / 2) + F.mse_loss(q, z.detach())
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(json.dumps({"event": "thread_timing", "threads": n,
                          "cpu_s_per_step": round((time.process_time() - cpu) / steps, 3),
                          "wall_s_per_step": round((time.perf_counter() - wall) / steps, 3)}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("world", nargs="?", help="a built world (OUT of globelens world build)")
    ap.add_argument("--synthetic", type=int, default=0, help="drawn masks instead of a world")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=CodecTrainConfig.batch_size)
    ap.add_argument("--lr", type=float, default=CodecTrainConfig.lr)
    ap.add_argument("--target-iou", type=float, default=None)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--dims", default=",".join(map(str, SMALL.dims)))
    ap.add_argument("--embed-dim", type=int, default=SMALL.embed_dim)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="save the codec here")
    ap.add_argument("--thread-timing", help="only time steps for these thread counts: 1,2")
    args = ap.parse_args()
    if args.thread_timing:
        thread_timing([int(v) for v in args.thread_timing.split(",")])
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    t0 = time.perf_counter()
    if args.world:
        root = Path(args.world)
        train = list(iter_shard_masks(str(root / "scenes" / "*.tar")))
        held = list(
            iter_coco_masks(root / "benchmarks/coco_det/annotations/instances_val2017.json")
        )
    elif args.synthetic:
        pairs = synthetic_masks(args.synthetic, seed=args.seed)
        n_held = len(pairs) // 10
        train, held = pairs[n_held:], pairs[:n_held]
    else:
        ap.error("give a world folder or --synthetic N")
    load_s = time.perf_counter() - t0
    cfg = CodecTrainConfig(
        codec=MaskCodecConfig(
            dims=tuple(int(v) for v in args.dims.split(",")), embed_dim=args.embed_dim
        ),
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        target_iou=args.target_iou,
        eval_every=args.eval_every,
        threads=args.threads,
        seed=args.seed,
    )
    codec, report = train_codec(
        [m for m, _ in train], [b for _, b in train], cfg, heldout=held, progress=False
    )
    if args.out:
        from globelens.models.maskcodec import save_codec

        save_codec(codec, args.out, extra=report.to_dict())
    areas = [int(m.sum()) for m, _ in held]
    summary = {
        "event": "summary",
        "config": {
            "dims": cfg.codec.dims,
            "embed_dim": cfg.codec.embed_dim,
            "lr": cfg.lr,
            "batch_size": cfg.batch_size,
            "threads": cfg.threads,
        },
        "load_seconds": round(load_s, 2),
        "heldout_median_area_px": int(np.median(areas)),
        **{k: v for k, v in report.to_dict().items() if k != "history"},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
