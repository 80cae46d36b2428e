"""The trainer, assembled from named parts: data, step, eval, checkpoint.

``train(config)`` is the Python API (``globelens train`` and ``globelens train-vlm`` are thin
wrappers). It runs in one process, or under ``torchrun`` with DistributedDataParallel (it
reads RANK/WORLD_SIZE). What is trained is an :class:`~globelens.train.objective.Objective`
(the model, the collation, the loss); the loop, data stream, checkpoints and logs are shared.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from globelens.data.atomic import atomic_path
from globelens.train.checkpoint import latest_checkpoint, load_state, save_checkpoint
from globelens.train.config import RunConfig, check_types
from globelens.train.contrastive import ContrastiveObjective
from globelens.train.data import BatchDataset, Plan, make_loader
from globelens.train.objective import Objective
from globelens.train.step import TrainStep, make_optimizer


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
    # Only torch's global generator is used in a step (dropout, init); the data order and
    # augmentation come from generators seeded per step, so there is nothing else to restore.
    return {"torch": torch.get_rng_state()}


def _set_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])


class Trainer:
    """Holds the parts; ``run()`` is the loop. ``objective`` says what is trained (default:
    the contrastive dual encoder of ``globelens train``)."""

    def __init__(
        self,
        cfg: RunConfig,
        resume: bool = False,
        objective: Callable[[Any, Dist], Objective] | None = None,
    ) -> None:
        check_types(cfg)  # a config built in Python is checked as a file's is
        self.cfg = cfg
        self.d = Dist()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.objective = (objective or ContrastiveObjective)(cfg, self.d)
        # data (addresses only; cheap)
        self.streams = self.objective.make_streams()
        self.plan = Plan(list(self.streams), cfg.data.phases, cfg.steps, cfg.batch_size)
        # model
        self.ckpt_root = self.out / "checkpoints"
        resume_from = latest_checkpoint(self.ckpt_root) if resume else None
        self.objective.build(self.streams, resume_from)
        self.hf_model = self.objective.model
        module = self.objective.module
        if getattr(cfg, "model", None) is not None and getattr(cfg.model, "compile", False):
            module = torch.compile(module)
        if self.d.world > 1:
            module = nn.parallel.DistributedDataParallel(
                module,
                device_ids=[self.d.local_rank] if self.d.device.type == "cuda" else None,
                find_unused_parameters=self.objective.find_unused_parameters,
            )
        self.optimizer = make_optimizer(self.hf_model, cfg.optim)
        use_bf16 = cfg.precision == "bf16" or (
            cfg.precision == "auto" and self.d.device.type == "cuda"
        )
        self.step_fn = TrainStep(
            module,
            self.objective,
            self.optimizer,
            cfg.optim,
            cfg.steps,
            torch.bfloat16 if use_bf16 else None,
            self.d.device,
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

    # -- parts -------------------------------------------------------------------------------
    def make_loader(self) -> torch.utils.data.DataLoader:
        cfg = self.cfg
        dataset = BatchDataset(
            cfg.data,
            self.streams,
            self.plan,
            self.objective.collator(),
            self.objective.image_size,
            cfg.seed,
            self.start_step,
            self.d.rank,
            self.d.world,
            cfg.optim.accum_steps,
        )
        return make_loader(dataset, cfg.data.workers, cfg.data.prefetch)

    def evaluate(self) -> dict[str, float]:
        return self.objective.evaluate() if self.d.main else {}

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
                self.ckpt_root,
                step,
                self.objective.save_checkpoint_model,
                state,
                self.cfg.checkpoint.keep,
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
            n_samples = sum(self.objective.batch_len(mb) for mb in micro) * self.d.world
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
                    **self.objective.metrics(),
                    "bad_samples": dict(self.bad),
                }
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
                self.objective.save_model(tmp)
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


def train(
    cfg: RunConfig,
    resume: bool = False,
    objective: Callable[[Any, Dist], Objective] | None = None,
) -> Path:
    """Train as ``cfg`` says; returns the final HF model directory (``OUT/model``)."""
    return Trainer(cfg, resume=resume, objective=objective).run()
