"""One optimisation step: forward both towers, contrastive loss, backward, clip, AdamW."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from globelens.train.config import OptimConfig

# CLIP caps its temperature at 100 (Radford et al. 2021).
MAX_LOG_SCALE = math.log(100.0)


def _pooled(out: Any) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def compact_padding(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, multiple: int = 8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Drop the masked padding between the text and the last position, keeping positions.

    For a text tower that pools the LAST position (SigLIP) of right-padded, masked input:
    padding positions are masked as keys, so nothing reads them, and the last position only
    reads the text. Keeping the text (rounded up to ``multiple``) plus the last position, with
    their original position ids, gives the same pooled output as the full length (tested)
    for a fraction of the work: world captions are ~10 tokens of SigLIP's 64.
    Returns (input_ids, attention_mask, position_ids or None when nothing can be dropped).
    """
    length = input_ids.shape[1]
    if input_ids.shape[0] == 0 or bool(attention_mask[:, -1].any()):
        return input_ids, attention_mask, None  # some text reaches the last position
    keep = int(attention_mask.sum(1).max())
    keep = min(length - 1, -(-keep // multiple) * multiple)
    if keep >= length - 1:
        return input_ids, attention_mask, None
    idx = torch.cat(
        [torch.arange(keep, device=input_ids.device), input_ids.new_tensor([length - 1])]
    )
    return input_ids[:, idx], attention_mask[:, idx], idx[None].expand(input_ids.shape[0], -1)


class DualTowers(nn.Module):
    """Wraps an HF SigLIP/CLIP model so one forward returns what the loss needs.

    Scale and bias are returned from ``forward`` (not read off the module afterwards) so that
    DistributedDataParallel sees them used inside the forward it wraps. ``compact_text``:
    drop masked padding before the text tower (see ``compact_padding``; SigLIP only).
    """

    def __init__(self, model: nn.Module, compact_text: bool = False) -> None:
        super().__init__()
        self.model = model
        self.compact_text = compact_text

    def forward(
        self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        img = _pooled(self.model.get_image_features(pixel_values=pixel_values))
        position_ids = None
        if self.compact_text:
            input_ids, attention_mask, position_ids = compact_padding(input_ids, attention_mask)
        txt = _pooled(
            self.model.get_text_features(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
            )
        )
        bias = getattr(self.model, "logit_bias", None)
        return (
            F.normalize(img.float(), dim=-1),
            F.normalize(txt.float(), dim=-1),
            self.model.logit_scale * 1.0,
            bias * 1.0 if bias is not None else None,
        )


def lr_at(step: int, total: int, cfg: OptimConfig) -> float:
    """Linear warmup then cosine decay to ``min_lr_ratio * lr``."""
    warmup = max(1, round(cfg.warmup_frac * total))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and the logit scale/bias scalars.

    The logit scale and bias get their own group (``lr * logit_lr_mult``): with Adam a
    parameter moves about ``lr`` per step, so at lr 1e-3 SigLIP's ``b = -10`` needs thousands
    of steps to move, which matters in a short run. ``TrainStep`` keeps each group's ratio to
    the scheduled lr. The fused AdamW kernel (CPU and CUDA) is used when every parameter is
    float32 on one such device: on a CPU the per-tensor loop of the default implementation
    cost as much as a third of a ``tiny`` step.
    """
    decay, no_decay, logit = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if "logit_" in name:
            logit.append(p)
        else:
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay, "lr_mult": 1.0},
        {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
        {"params": logit, "weight_decay": 0.0, "lr_mult": cfg.logit_lr_mult},
    ]
    groups = [g for g in groups if g["params"]]
    params = [p for g in groups for p in g["params"]]
    devices = {p.device.type for p in params}
    fused = (
        cfg.fused
        and len(devices) == 1
        and devices <= {"cpu", "cuda"}
        and all(p.dtype == torch.float32 for p in params)
    )
    return torch.optim.AdamW(
        groups,
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.eps,
        **({"fused": True} if fused else {}),
    )


class TrainStep:
    """Gradient accumulation over micro-batches, autocast, clipping and the optimizer update.

    What the forward and the loss are is the objective's (``globelens.train.objective``):
    the forward runs under autocast, the loss outside it, and each micro-batch's loss is
    divided by their number before its backward.
    """

    def __init__(
        self,
        module: nn.Module,
        objective: Any,
        optimizer: torch.optim.Optimizer,
        cfg: OptimConfig,
        total_steps: int,
        autocast_dtype: torch.dtype | None,
        device: torch.device,
    ) -> None:
        self.module, self.objective, self.optimizer = module, objective, optimizer
        self.cfg, self.total_steps = cfg, total_steps
        self.autocast_dtype, self.device = autocast_dtype, device
        self.params = [p for g in optimizer.param_groups for p in g["params"]]

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def __call__(self, step: int, micro_batches: Sequence[dict[str, Any]]) -> dict[str, float]:
        lr = lr_at(step, self.total_steps, self.cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_mult", 1.0)
        self.optimizer.zero_grad(set_to_none=True)
        self.objective.begin_step(micro_batches)
        total, n = 0.0, 0
        for i, mb in enumerate(micro_batches):
            if self.objective.batch_len(mb) < self.objective.min_batch:
                continue
            last = i == len(micro_batches) - 1
            sync = getattr(self.module, "no_sync", None)
            ctx = sync() if sync is not None and not last else contextlib.nullcontext()
            with ctx:
                with self._autocast():
                    outputs = self.objective.forward(self.module, mb, self.device)
                loss = self.objective.loss(outputs, mb) / len(micro_batches)
                loss.backward()
            total += float(loss.detach()) * len(micro_batches)
            n += 1
        grad_norm = 0.0
        if n:
            if self.cfg.grad_clip > 0:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip))
            self.optimizer.step()
            self.objective.after_update()
        return {"loss": total / max(n, 1), "lr": lr, "grad_norm": grad_norm}
