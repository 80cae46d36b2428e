"""What a trainer trains: the model, how samples become micro-batches, the loss.

The loop (``globelens.train.loop.Trainer``) owns everything else and is the same for every
objective: the seeded data stream and recipes, gradient accumulation, DDP, checkpoints and
bit-identical resume, logs, progress and periodic evaluation. An objective is built in two
stages so the loop can read the data sources before any model exists: ``__init__`` checks
the config, ``build`` loads or creates the model (from the newest checkpoint on resume).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import torch
from torch import nn

from globelens.train.config import RunConfig
from globelens.train.data import Collator, SourceStream


class Objective(ABC):
    """The model-specific part of training; see the module docstring."""

    #: micro-batches with fewer samples are skipped (a contrastive loss needs a negative)
    min_batch: int = 1
    #: DistributedDataParallel's ``find_unused_parameters``
    find_unused_parameters: bool = False

    def __init__(self, cfg: RunConfig, dist: Any) -> None:
        self.cfg, self.d = cfg, dist
        #: the parameters that are optimised and saved
        self.model: nn.Module
        #: what the forward runs (the loop may wrap it in torch.compile and DDP)
        self.module: nn.Module
        #: square input resolution of the pictures in a micro-batch
        self.image_size: int

    @abstractmethod
    def make_streams(self) -> dict[str, SourceStream]:
        """The named streams the recipe's phases mix (``data.phases[].mix`` keys)."""

    @abstractmethod
    def build(self, streams: dict[str, SourceStream], resume_from: Path | None) -> None:
        """Create ``model``/``module`` on ``self.d.device`` in train mode (from the
        checkpoint ``resume_from`` when given)."""

    @abstractmethod
    def collator(self) -> Collator:
        """Reads and collates samples in the DataLoader workers (must pickle)."""

    @abstractmethod
    def forward(self, module: nn.Module, mb: dict[str, Any], device: torch.device) -> Any:
        """The forward of one micro-batch (under autocast)."""

    @abstractmethod
    def loss(self, outputs: Any, mb: dict[str, Any]) -> torch.Tensor:
        """The micro-batch's loss (outside autocast), before division by the number of
        micro-batches in the step."""

    @abstractmethod
    def save_model(self, out: Path) -> None:
        """Write the final model directory."""

    def save_checkpoint_model(self, out: Path) -> None:
        """Write what a checkpoint needs to rebuild the trained weights exactly."""
        self.save_model(out)

    def batch_len(self, mb: dict[str, Any]) -> int:
        return int(mb["pixel_values"].shape[0])

    def begin_step(self, micro_batches: Any) -> None:
        """Called on every rank before the step's first forward."""
        return None

    def after_update(self) -> None:
        """Called after every optimizer update."""
        return None

    def metrics(self) -> dict[str, float]:
        """Extra fields for the logged metric lines."""
        return {}

    def evaluate(self) -> dict[str, float]:
        """In-training evaluation (main rank); keys are logged as they are."""
        return {}
