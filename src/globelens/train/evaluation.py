"""Periodic zero-shot evaluation during training on a CLIP_benchmark WebDataset folder.

The set is read by the evaluation's own loader (``wds``) and scored by its own zero-shot
classifier (:func:`globelens.evaluate.tasks.zeroshot.classifier`, prompt ensembling), so the
number logged during training is the ``acc1`` that ``globelens eval`` reports for the model.
Only the decoded pictures are kept in memory, to score them again at every evaluation.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from globelens.data import ImageDecodeError, decode_image
from globelens.evaluate import metrics as M
from globelens.evaluate.benchmarks import load_benchmark
from globelens.evaluate.tasks.zeroshot import classifier
from globelens.models.base import DualEncoder


class ZeroShotBenchmark:
    """A small classification set: images, class names and prompt templates, loaded once."""

    def __init__(self, path: str | os.PathLike, max_images: int = 2000) -> None:
        root = Path(path)
        for name in ("classnames.txt", "zeroshot_classification_templates.txt"):
            if not (root / name).is_file():
                raise FileNotFoundError(f"{root}: missing {name} (not a CLIP_benchmark folder)")
        bench = load_benchmark(f"wds:{root}")
        self.name = root.name
        self.classnames = list(bench.classnames or [])
        self.templates = list(bench.templates)
        self.report = bench.report
        self.images, self.labels = [], []
        for i, data in bench.iter_image_sources():
            if len(self.images) >= max_images:
                break
            rec = bench.records[i]
            try:
                image = decode_image(data if isinstance(data, bytes) else Path(data).read_bytes())
            except ImageDecodeError as e:
                self.report.add(rec.meta.get("_shard", str(root)), rec.id, e.reason, e.detail)
                continue
            self.images.append(image)
            self.labels.append(rec.labels)

    @torch.no_grad()
    def evaluate(self, model: DualEncoder, batch_size: int = 256) -> dict[str, float]:
        """Top-1 accuracy with prompt ensembling (mean of normalised template embeddings)."""
        weights = classifier(model, self.classnames, self.templates)
        parts = [
            model.encode_images(model.preprocess(self.images[i : i + batch_size])).cpu().numpy()
            for i in range(0, len(self.images), batch_size)
        ]
        correct = 0.0
        if parts:
            scores = np.concatenate(parts) @ weights.T
            correct = float(M.topk_correct(scores, self.labels, 1).sum())
        return {
            "top1": correct / max(len(self.images), 1),
            "n": float(len(self.images)),
            "chance": 1 / max(len(self.classnames), 1),
        }
