"""Training throughput and loss memory.

1. ``loop``: samples/s of the full training loop (shards -> decode -> augment -> tokenise ->
   step, with DataLoader workers prefetching) vs the bare forward + backward + optimizer step of
   the same model on pre-built tensors, in the same run: segments of bare and loop steps
   alternate, so both see the same machine load, and the overhead is 1 - the median of the
   per-repeat loop/bare ratios. (A loop segment may start with up to ``prefetch`` batches
   decoded during the bare segment before it: about 1-2% of a segment's work at the defaults.)
   On a shared machine the wall-clock ratio is noisy; ``cpu_overhead`` compares CPU-seconds per
   sample (main process + decoding workers), which the load does not change much (use
   ``--threads 1``: idle OpenMP threads spin and bill CPU time under contention).
2. ``mfu``: model FLOPs utilisation of the training step (forward, backward, AdamW) on a GPU
   in bf16 autocast: analytic matmul FLOPs of both towers per sample (3x the forward: forward
   plus a backward of twice its cost) times samples/s, over the chip's dense bf16 peak.
3. ``memory``: peak RSS growth of the sigmoid loss with neighbour exchange vs all-gather, at
   the same global batch on 2 ranks (gloo, CPU).

    .venv/bin/python benchmarks/bench_train.py loop --data out/world/crawl --repeats 5
    .venv/bin/python benchmarks/bench_train.py memory --global-batch 8192 --dim 256
    python benchmarks/bench_train.py mfu --preset B/16 --batch-size 256   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import tempfile
import time
from pathlib import Path
from typing import Any


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time of this process (all threads) plus the given child processes (Linux /proc)."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def bench_loop(args: argparse.Namespace) -> dict:
    import torch

    from globelens.train.config import SourceConfig, TrainConfig
    from globelens.train.loop import Trainer
    from globelens.train.synthetic import make_synthetic_shards

    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    data = args.data
    if data is None:
        make_synthetic_shards(tmp / "shards", n=2048, per_shard=512)
        data = str(tmp / "shards")
    segments = args.repeats * args.segment
    cfg = TrainConfig(
        out=str(tmp / "run"), steps=args.warmup + segments, batch_size=args.batch_size
    )
    cfg.data.sources = [SourceConfig("a", data)]
    cfg.data.workers = args.workers
    cfg.data.prefetch = args.prefetch
    cfg.model.preset = args.preset
    cfg.model.tokenizer_captions = 2000
    cfg.model.tokenizer_vocab = 2000
    cfg.checkpoint.every = 0
    cfg.progress = False
    cfg.log_every = 1
    cfg.threads = args.threads
    trainer = Trainer(cfg)
    return {
        "preset": args.preset,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "prefetch": args.prefetch,
        "threads": torch.get_num_threads(),
        **interleaved_overhead(trainer, args),
    }


def interleaved_overhead(trainer: Any, args: argparse.Namespace) -> dict:
    """Samples/s of ``trainer``'s full loop against its bare step on pre-built batches, in
    interleaved segments (``args``: warmup, repeats, segment, batch_size); any objective."""
    import statistics

    # Pre-built batches for the bare step (decoded once, same model, optimizer and loss).
    dataset = trainer.make_loader().dataset
    batches = [dataset.load(i, 0) for i in range(4)]
    loader = iter(trainer.make_loader())
    pids = [w.pid for w in getattr(loader, "_workers", [])]
    step = 0
    for i in range(args.warmup):  # both paths warm: allocator, worker start, kernels
        trainer.step_fn(step, [batches[i % len(batches)]])
        trainer.step_fn(step, [next(loader)])
        step += 1
    # Interleaved segments, so both paths see the same machine load; medians over repeats.
    # CPU-seconds per sample (main process + decoding workers) measure the same thing without
    # the machine's load: on a saturated machine, wall time follows CPU time.
    bare, loop, bare_cpu, loop_cpu = [], [], [], []
    n = args.segment * args.batch_size
    for _ in range(args.repeats):
        t, c = time.perf_counter(), _cpu_seconds(pids)
        for i in range(args.segment):
            trainer.step_fn(step, [batches[i % len(batches)]])
        bare.append(n / (time.perf_counter() - t))
        bare_cpu.append(1000 * (_cpu_seconds(pids) - c) / n)
        t, c = time.perf_counter(), _cpu_seconds(pids)
        for _ in range(args.segment):
            trainer.step_fn(step, [next(loader)])
            step += 1
        loop.append(n / (time.perf_counter() - t))
        loop_cpu.append(1000 * (_cpu_seconds(pids) - c) / n)
    ratios = [lo / b for lo, b in zip(loop, bare, strict=True)]
    cpu_ratios = [b / lo for lo, b in zip(loop_cpu, bare_cpu, strict=True)]
    return {
        "segments": f"{args.repeats} x ({args.segment} bare + {args.segment} loop steps)",
        "bare_samples_per_s": round(statistics.median(bare), 1),
        "loop_samples_per_s": round(statistics.median(loop), 1),
        "overhead": round(1 - statistics.median(ratios), 3),
        "overhead_per_repeat": [round(1 - r, 3) for r in ratios],
        "bare_cpu_ms_per_sample": round(statistics.median(bare_cpu), 2),
        "loop_cpu_ms_per_sample": round(statistics.median(loop_cpu), 2),
        "cpu_overhead": round(1 - statistics.median(cpu_ratios), 3),
        "load_average": round(os.getloadavg()[0], 2),
    }


#: Dense bf16 peak (TFLOP/s, no sparsity) by a substring of ``torch.cuda.get_device_name()``.
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L4": 121.0}


def tower_flops(width: int, layers: int, mlp: int, seq: int) -> float:
    """Forward matmul FLOPs of one transformer tower on one sequence (2 FLOPs per MAC); per
    layer: Q, K, V and output projections 8 w^2 S, MLP 4 w m S, scores and values 4 S^2 w."""
    return layers * (8 * width * width * seq + 4 * width * mlp * seq + 4 * seq * seq * width)


def step_flops_per_sample(preset: dict) -> float:
    """Training FLOPs per image-text pair: 3x the forward of both towers and the patch embed."""
    v, t = preset["vision"], preset["text"]
    patches = (preset["image_size"] // preset["patch_size"]) ** 2
    embed = 2 * patches * 3 * preset["patch_size"] ** 2 * v["width"]
    fwd = (
        tower_flops(v["width"], v["layers"], v["mlp"], patches)
        + embed
        + tower_flops(t["width"], t["layers"], t["mlp"], t["context"])
    )
    return 3 * fwd


def bench_mfu(args: argparse.Namespace) -> dict:
    import torch

    from globelens.models.presets import get_preset
    from globelens.train.config import SourceConfig, TrainConfig
    from globelens.train.loop import Trainer
    from globelens.train.synthetic import make_synthetic_shards

    cuda = torch.cuda.is_available()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    tmp = Path(tempfile.mkdtemp(prefix="bench_mfu_"))
    make_synthetic_shards(tmp / "shards", n=512, per_shard=256)
    cfg = TrainConfig(out=str(tmp / "run"), steps=1000, batch_size=args.batch_size)
    cfg.data.sources = [SourceConfig("a", str(tmp / "shards"))]
    cfg.model.preset = args.preset
    cfg.model.tokenizer_captions = 2000
    cfg.checkpoint.every = 0
    cfg.progress = False
    trainer = Trainer(cfg)
    dataset = trainer.make_loader().dataset
    batches = [dataset.load(i, 0) for i in range(2)]
    for i in range(args.warmup):
        trainer.step_fn(i, [batches[i % 2]])
    sync()
    times = []
    for r in range(args.repeats):
        t = time.perf_counter()
        for i in range(args.steps):
            trainer.step_fn(args.warmup + r * args.steps + i, [batches[i % 2]])
        sync()
        times.append((time.perf_counter() - t) / args.steps)
    step_s = sorted(times)[len(times) // 2]
    per_sample = step_flops_per_sample(get_preset(args.preset))
    flops = per_sample * args.batch_size
    name = torch.cuda.get_device_name() if cuda else "cpu"
    peak = args.peak_tflops or next(
        (v for k, v in PEAK_BF16_TFLOPS.items() if k in name), float("nan")
    )
    achieved = flops / step_s / 1e12
    return {
        "device": name,
        "preset": args.preset,
        "batch_size": args.batch_size,
        "params_m": round(sum(p.numel() for p in trainer.hf_model.parameters()) / 1e6, 1),
        "step_ms": round(1000 * step_s, 2),
        "step_ms_per_repeat": [round(1000 * x, 2) for x in times],
        "samples_per_s": round(args.batch_size / step_s, 1),
        "tflops_per_sample": round(per_sample / 1e12, 4),
        "achieved_tflops": round(achieved, 1),
        "peak_tflops": peak,
        "mfu": round(achieved / peak, 3),
        "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }


def _mem_worker(rank: int, port: int, strategy: str, n: int, dim: int, out: dict) -> None:
    import math

    import torch
    import torch.distributed as dist
    import torch.nn.functional as F

    from globelens.train.losses import SigLipLoss

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    x = F.normalize(torch.randn(n, dim), dim=-1).requires_grad_()
    y = F.normalize(torch.randn(n, dim), dim=-1).requires_grad_()
    scale, bias = (
        torch.tensor(math.log(10.0), requires_grad=True),
        torch.tensor(-10.0, requires_grad=True),
    )
    dist.barrier()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loss = SigLipLoss(strategy)(x, y, scale, bias)["contrastive_loss"]
    loss.backward()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out[(strategy, rank)] = (after - before) / 1024  # MiB (ru_maxrss is KiB on Linux)
    dist.destroy_process_group()


def bench_memory(args: argparse.Namespace) -> dict:
    import torch.multiprocessing as mp

    results = {}
    for strategy in ("neighbour", "gather"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = mp.Manager().dict()
        mp.spawn(
            _mem_worker, args=(port, strategy, args.global_batch // 2, args.dim, out), nprocs=2
        )
        results[strategy] = round(max(out[(strategy, r)] for r in range(2)), 1)
    local = args.global_batch // 2
    return {
        "global_batch": args.global_batch,
        "ranks": 2,
        "peak_rss_growth_mib": results,
        "logits_mib_per_block": round(local * local * 4 / 2**20, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="what", required=True)
    lp = sub.add_parser("loop")
    lp.add_argument("--preset", default="tiny")
    lp.add_argument("--repeats", type=int, default=5, help="interleaved bare/loop segments")
    lp.add_argument("--segment", type=int, default=8, help="steps per segment")
    lp.add_argument("--warmup", type=int, default=3)
    lp.add_argument("--prefetch", type=int, default=2)
    lp.add_argument("--batch-size", type=int, default=128)
    lp.add_argument("--workers", type=int, default=1)
    lp.add_argument("--threads", type=int, default=0)
    lp.add_argument("--data", default=None, help="shards to read (default: synthetic)")
    fp = sub.add_parser("mfu")
    fp.add_argument("--preset", default="B/16")
    fp.add_argument("--batch-size", type=int, default=256)
    fp.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    fp.add_argument("--repeats", type=int, default=3)
    fp.add_argument("--warmup", type=int, default=3)
    fp.add_argument("--peak-tflops", type=float, default=None)
    mp_ = sub.add_parser("memory")
    mp_.add_argument("--global-batch", type=int, default=8192)
    mp_.add_argument("--dim", type=int, default=256)
    args = ap.parse_args()
    result = {"loop": bench_loop, "mfu": bench_mfu, "memory": bench_memory}[args.what](args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
