"""Periodic zero-shot evaluation during training on a CLIP_benchmark WebDataset folder."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from globelens.data import ImageDecodeError, ReadReport, read_shards
from globelens.models.base import DualEncoder


class ZeroShotBenchmark:
    """A small classification set: images, class names and prompt templates, loaded once."""

    def __init__(self, path: str | os.PathLike, max_images: int = 2000) -> None:
        root = Path(path)
        for name in ("classnames.txt", "zeroshot_classification_templates.txt"):
            if not (root / name).is_file():
                raise FileNotFoundError(f"{root}: missing {name} (not a CLIP_benchmark folder)")
        self.name = root.name
        self.classnames = [
            c.strip() for c in (root / "classnames.txt").read_text().splitlines() if c.strip()
        ]
        self.templates = [
            t.strip()
            for t in (root / "zeroshot_classification_templates.txt").read_text().splitlines()
            if t.strip()
        ]
        self.report = ReadReport()
        self.images, self.labels = [], []
        for sample in read_shards(str(root / "test"), self.report, require_caption=False):
            if len(self.images) >= max_images:
                break
            try:
                label = int(sample.extras["cls"].decode())
                self.images.append(sample.image())
                self.labels.append(label)
            except (KeyError, ValueError, ImageDecodeError):
                self.report.add(sample.source, sample.key, "bad_benchmark_sample")

    @torch.no_grad()
    def evaluate(self, model: DualEncoder, batch_size: int = 256) -> dict[str, float]:
        """Top-1 accuracy with prompt ensembling (mean of normalised template embeddings)."""
        class_embeds = []
        for name in self.classnames:
            e = model.encode_texts([t.replace("{c}", name) for t in self.templates]).mean(0)
            class_embeds.append(e / e.norm())
        classes = torch.stack(class_embeds)
        correct = 0
        for i in range(0, len(self.images), batch_size):
            img = model.encode_images(model.preprocess(self.images[i : i + batch_size]))
            pred = model.logits(img, classes).argmax(-1).cpu()
            correct += int((pred == torch.tensor(self.labels[i : i + batch_size])).sum())
        n = max(len(self.images), 1)
        return {
            "top1": correct / n,
            "n": float(len(self.images)),
            "chance": 1 / max(len(self.classnames), 1),
        }
