"""The trainer, assembled from named parts: data, step, eval, checkpoint.

``train(config)`` is the Python API (``globelens train`` is a thin wrapper). It runs in one
process, or under ``torchrun`` with DistributedDataParallel (it reads RANK/WORLD_SIZE).
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from globelens.data.atomic import atomic_path
from globelens.models.hf import FAMILIES, HFDualEncoder, check_model_dir
from globelens.models.presets import build_model, get_preset
from globelens.models.tokenizer import bytes_per_token, save_token_report, train_tokenizer
from globelens.train.checkpoint import (
    latest_checkpoint,
    load_state,
    save_checkpoint,
    save_model_dir,
)
from globelens.train.config import TrainConfig
from globelens.train.data import BatchDataset, Plan, SourceStream, make_loader, sample_captions
from globelens.train.evaluation import ZeroShotBenchmark
from globelens.train.losses import make_loss
from globelens.train.step import DualTowers, TrainStep, make_optimizer


class Dist:
    """Process-group facts; a single process is world size 1."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        self.device = (
            torch.device("cuda", self.local_rank)
            if torch.cuda.is_available()
            else torch.device("cpu")
        )
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def _rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "python": repr(random.getstate()),
        "numpy": repr(np.random.get_state()[1].tolist()),
    }


def _set_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])


def prepare_model_dir(cfg: TrainConfig, streams: dict[str, SourceStream], d: Dist) -> Path:
    """The directory training starts from: ``--init-from``, or a fresh preset model whose
    tokenizer is given or trained on the training captions."""
    out = Path(cfg.out)
    if cfg.model.init_from:
        return check_model_dir(cfg.model.init_from)
    init = out / "init"
    if d.main and not (init / "model.safetensors").is_file():
        tok_dir = cfg.model.tokenizer
        if tok_dir is None:
            preset = get_preset(cfg.model.preset)
            captions, langs = sample_captions(streams, cfg.model.tokenizer_captions)
            tok_dir = str(out / "tokenizer")
            vocab = cfg.model.tokenizer_vocab or preset["vocab_size"]
            tok = train_tokenizer(captions, vocab, tok_dir, languages=langs, seed=cfg.seed)
            save_token_report(
                bytes_per_token(tok, captions, langs), Path(tok_dir) / "bytes_per_token.json"
            )
        logit_init = {
            k: v
            for k, v in (
                ("logit_scale", cfg.model.init_logit_scale),
                ("logit_bias", cfg.model.init_logit_bias),
            )
            if v is not None
        }
        build_model(
            cfg.model.preset,
            tok_dir,
            init,
            seed=cfg.seed,
            model_type=cfg.model.model_type,
            init=logit_init,
        )
    d.barrier()
    return init


class Trainer:
    """Holds the parts; ``run()`` is the loop."""

    def __init__(self, cfg: TrainConfig, resume: bool = False) -> None:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        self.cfg = cfg
        self.d = Dist()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        if not cfg.data.sources:
            raise ValueError(
                "no training data: give --data PATTERN or [[data.sources]] in the config"
            )
        # data (addresses only; cheap)
        self.streams = {
            s.name: SourceStream(s, cfg.seed, cfg.data.shuffle_buffer) for s in cfg.data.sources
        }
        self.plan = Plan(list(self.streams), cfg.data.phases, cfg.steps, cfg.batch_size)
        # model
        self.ckpt_root = self.out / "checkpoints"
        resume_from = latest_checkpoint(self.ckpt_root) if resume else None
        self.assets = prepare_model_dir(cfg, self.streams, self.d)
        src = resume_from or self.assets
        self.hf_model = AutoModel.from_pretrained(src, local_files_only=True, use_safetensors=True)
        self.tokenizer = AutoTokenizer.from_pretrained(self.assets, local_files_only=True)
        self.image_processor = AutoImageProcessor.from_pretrained(
            self.assets, local_files_only=True
        )
        self.family = FAMILIES[self.hf_model.config.model_type]
        if cfg.loss == "sigmoid" and getattr(self.hf_model, "logit_bias", None) is None:
            raise ValueError(
                "the sigmoid loss needs a model with a logit bias (SigLIP); use --loss softmax"
            )
        if cfg.model.grad_checkpointing:
            self.hf_model.gradient_checkpointing_enable()
        self.hf_model.to(self.d.device).train()
        towers: nn.Module = DualTowers(self.hf_model, compact_text=self.family.pools_last)
        if cfg.model.compile:
            towers = torch.compile(towers)
        if self.d.world > 1:
            towers = nn.parallel.DistributedDataParallel(
                towers,
                device_ids=[self.d.local_rank] if self.d.device.type == "cuda" else None,
                find_unused_parameters=cfg.loss == "softmax"
                and hasattr(self.hf_model, "logit_bias"),
            )
        strategy = (
            "local" if self.d.world == 1 else ("neighbour" if cfg.loss == "sigmoid" else "gather")
        )
        self.optimizer = make_optimizer(self.hf_model, cfg.optim)
        use_bf16 = cfg.precision == "bf16" or (
            cfg.precision == "auto" and self.d.device.type == "cuda"
        )
        self.step_fn = TrainStep(
            towers,
            make_loss(cfg.loss, strategy),
            self.optimizer,
            cfg.optim,
            cfg.steps,
            torch.bfloat16 if use_bf16 else None,
            self.d.device,
            clamp_scale=cfg.loss == "softmax",
            hf_model=self.hf_model,
        )
        # state; shards that could not be fully indexed count once, under the source's name
        self.start_step, self.samples_seen = 0, 0
        self.bad = {
            f"{name}:{reason}": n
            for name, stream in self.streams.items()
            for reason, n in sorted(stream.problems.items())
        }
        if resume_from is not None:
            state = load_state(resume_from)
            self.optimizer.load_state_dict(state["optimizer"])
            _set_rng(state["rng"])
            self.start_step, self.bad = int(state["step"]), dict(state["bad"])
            self.samples_seen = int(state["samples_seen"])
        else:
            torch.manual_seed(cfg.seed)
        self.resumed_from = resume_from
        self.benchmark = (
            ZeroShotBenchmark(cfg.eval.benchmark, cfg.eval.max_images)
            if cfg.eval.benchmark and self.d.main
            else None
        )

    # -- parts -------------------------------------------------------------------------------
    def make_loader(self) -> torch.utils.data.DataLoader:
        cfg = self.cfg
        dataset = BatchDataset(
            cfg.data,
            self.streams,
            self.plan,
            self.tokenizer,
            HFDualEncoder.from_loaded(
                self.hf_model, self.tokenizer, self.image_processor
            ).transform,
            int(self.hf_model.config.vision_config.image_size),
            int(self.hf_model.config.text_config.max_position_embeddings),
            self.family.padding,
            cfg.seed,
            self.start_step,
            self.d.rank,
            self.d.world,
            cfg.optim.accum_steps,
        )
        self.hf_model.train()
        return make_loader(dataset, cfg.data.workers, cfg.data.prefetch)

    def evaluate(self) -> dict[str, float]:
        if self.benchmark is None:
            return {}
        enc = HFDualEncoder.from_loaded(self.hf_model, self.tokenizer, self.image_processor)
        try:
            result = self.benchmark.evaluate(enc)
        finally:
            self.hf_model.train()
        return {f"eval/{self.benchmark.name}/{k}": v for k, v in result.items()}

    def checkpoint(self, step: int) -> Path | None:
        path = None
        if self.d.main:
            state = {
                "step": step,
                "optimizer": self.optimizer.state_dict(),
                "rng": _rng_state(),
                "bad": self.bad,
                "samples_seen": self.samples_seen,
                "config": json.dumps(self.cfg.to_dict()),
            }
            path = save_checkpoint(
                self.ckpt_root, step, self.hf_model, self.assets, state, self.cfg.checkpoint.keep
            )
        self.d.barrier()
        return path

    def log(self, record: dict[str, Any]) -> None:
        if self.d.main:
            with open(self.out / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")

    def _trim_metrics(self) -> None:
        """On resume, drop metric lines logged after the checkpoint (they will be redone)."""
        path = self.out / "metrics.jsonl"
        if not (self.d.main and path.is_file()):
            return
        keep = [
            line
            for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= self.start_step
        ]
        path.write_text("".join(line + "\n" for line in keep))

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> Path:
        from tqdm import tqdm

        cfg = self.cfg
        if self.resumed_from is not None:
            self._trim_metrics()
        elif self.d.main:
            (self.out / "metrics.jsonl").unlink(missing_ok=True)
        accum = cfg.optim.accum_steps
        loader = iter(self.make_loader())
        bar = tqdm(
            total=cfg.steps,
            initial=self.start_step,
            disable=not (cfg.progress and self.d.main),
            unit="step",
            dynamic_ncols=True,
        )
        t0, window_samples, window_t = time.perf_counter(), 0, time.perf_counter()
        for step in range(self.start_step, cfg.steps):
            micro = [next(loader) for _ in range(accum)]
            for mb in micro:
                for reason, n in mb["bad"].items():
                    self.bad[reason] = self.bad.get(reason, 0) + n
            n_samples = sum(mb["pixel_values"].shape[0] for mb in micro) * self.d.world
            metrics = self.step_fn(step, micro)
            self.samples_seen += n_samples
            window_samples += n_samples
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                now = time.perf_counter()
                sps = window_samples / max(now - window_t, 1e-9)
                window_samples, window_t = 0, now
                record = {
                    "step": done,
                    **metrics,
                    "samples_per_s": sps,
                    "elapsed_s": now - t0,
                    "logit_scale": float(self.hf_model.logit_scale.detach().exp()),
                    "bad_samples": dict(self.bad),
                }
                if getattr(self.hf_model, "logit_bias", None) is not None:
                    record["logit_bias"] = float(self.hf_model.logit_bias.detach())
                self.log(record)
                bar.set_postfix(loss=f"{metrics['loss']:.3f}", samples_s=f"{sps:.0f}")
            bar.update(1)
            if cfg.eval.every and done % cfg.eval.every == 0 and done != cfg.steps:
                self.log({"step": done, **self.evaluate()})
            if cfg.checkpoint.every and done % cfg.checkpoint.every == 0 and done != cfg.steps:
                self.checkpoint(done)
        bar.close()
        final = self.checkpoint(cfg.steps)
        result = {"step": cfg.steps, **self.evaluate()}
        if len(result) > 1:
            self.log(result)
        model_dir = self.out / "model"
        if self.d.main and final is not None:
            with atomic_path(model_dir, folder=True) as tmp:
                save_model_dir(self.hf_model, self.assets, tmp)
            summary = {
                "model": str(model_dir),
                "steps": cfg.steps,
                "samples_seen": self.samples_seen,
                "bad_samples": self.bad,
                **{k: v for k, v in result.items() if k != "step"},
            }
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        self.d.barrier()
        return model_dir


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train as ``cfg`` says; returns the final HF model directory (``OUT/model``)."""
    return Trainer(cfg, resume=resume).run()
