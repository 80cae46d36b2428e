"""Periodic evaluation during training, by the evaluator's own loaders and scorers.

- Contrastive: a CLIP_benchmark WebDataset folder read by the evaluation's own loader
  (``wds``) and scored by its own zero-shot classifier
  (:func:`globelens.evaluate.tasks.zeroshot.classifier`, prompt ensembling), so the number
  logged during training is the ``acc1`` that ``globelens eval`` reports for the model. Only
  the decoded pictures are kept in memory, to score them again at every evaluation.
- Generative: a small held-out benchmark (scene shards, or any benchmark spec) run through
  the registered generative tasks' evaluators (``captioning``, ``vqa``, ``detection``,
  ``segmentation``, ``referring_segmentation``, ...) exactly as ``globelens eval`` runs them, bootstrap off. The
  logged ``eval/{task}/{metric}`` is the ``metrics.{metric}`` of that task's result.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from globelens.data import ImageDecodeError, decode_image
from globelens.evaluate import metrics as M
from globelens.evaluate.datasets import Benchmark, load_benchmark
from globelens.evaluate.datasets.registry import FORMATS
from globelens.evaluate.suite import Caches, SuiteOptions, evaluate_model_on_benchmark
from globelens.evaluate.tasks import tasks_for
from globelens.evaluate.tasks.zeroshot import classifier
from globelens.models.base import DualEncoder, Generator
from globelens.tasks import TASKS, get_task

log = logging.getLogger("globelens.train")


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


def load_held_out(spec: str, data_root: str | None = None) -> Benchmark:
    """A benchmark spec (``world/vqa``, ``FORMAT:PATH``, a folder: scene shards are detected)
    or a glob / brace pattern of scene shards (the training layout)."""
    if glob.has_magic(spec) or "{" in spec or "::" in spec:
        bench = FORMATS["scenes"].load(Path(spec))
        bench.name = f"scenes:{spec}"
        return bench
    return load_benchmark(spec, data_root)


class HeldOutBenchmark:
    """The first ``max_images`` records of a benchmark, scored for the training tasks.

    ``kinds``: the training tasks' kinds. Each registered task (``globelens.tasks``) is run by
    its own evaluator (``caption`` -> ``captioning``, ``answer`` -> ``vqa``, ``detect`` ->
    ``detection``, ``segment`` -> ``segmentation``, ``refer`` -> ``referring_segmentation``,
    ``question`` -> ``question_generation``) where the benchmark carries data for it, with
    ``globelens eval``'s settings, bootstrap off.
    """

    def __init__(
        self,
        spec: str,
        kinds: Iterable[str],
        data_root: str | None = None,
        max_images: int = 64,
        max_new_tokens: int | None = None,
        seed: int = 0,
    ) -> None:
        kinds = list(dict.fromkeys(kinds))
        self.bench = load_held_out(spec, data_root)
        self.bench.records = self.bench.records[:max_images]
        wanted = list(dict.fromkeys(get_task(k).eval_name for k in kinds if k in TASKS))
        self.tasks = tasks_for(self.bench, "generator", wanted) if wanted else []
        if not self.tasks:
            raise ValueError(
                f"held-out benchmark {self.bench.name!r} has nothing to score for the tasks "
                f"{kinds} (it has: {', '.join(self.bench.tasks) or 'none'})"
            )
        options = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}
        self.options = SuiteOptions(
            n_bootstrap=0, seed=seed, progress=False, cache_dir="", task_options=options
        )

    def evaluate(self, generator: Generator) -> dict[str, float]:
        """``eval/{task}/{metric}`` for every metric of every task's result, with
        ``eval/{task}/n`` (examples scored) and ``eval/captioning/{lang}/{metric}``. A task
        that cannot score anything is logged (JSON) and left out: training goes on."""
        out: dict[str, float] = {}
        for task in self.tasks:
            try:
                results = evaluate_model_on_benchmark(
                    generator, self.bench, [task], self.options, Caches()
                )
            except (ValueError, KeyError, TypeError, OSError) as e:  # a long run goes on
                log.warning(
                    json.dumps({"event": "eval_task_failed", "task": task, "error": repr(e)})
                )
                continue
            for res in results:
                out.update(_flat(task, res))
        return out


def _flat(task: str, result: dict[str, Any]) -> dict[str, float]:
    out = {
        f"eval/{task}/{k}": float(v)
        for k, v in result["metrics"].items()
        if isinstance(v, int | float) and not math.isnan(v)
    }
    out[f"eval/{task}/n"] = float(result.get("n_evaluated", 0))
    for lang, per in sorted((result.get("languages") or {}).items()):
        out.update({f"eval/{task}/{lang}/{k}": float(v) for k, v in per.items() if k != "n"})
    return out
