"""The generative objective (``globelens train-vlm``): PaliGemma on a mixture of tasks.

A sample of task ``t`` reads as ``[image tokens] <bos> prefix \\n suffix <eos>``: full
attention over the picture and the prefix, causal over the suffix, and the loss on the suffix
tokens only (PaliGemma, arXiv 2407.07726). ``PaliGemmaProcessor`` builds the sequence, the
token types and the labels (-100 on the picture, prefix and padding) from ``suffix=``.

The loss is the sum of the suffix tokens' cross-entropies over the whole step (all ranks, all
micro-batches) divided by their number, so the update is the same whatever the split into
ranks and micro-batches: one all-reduce of a token count per step under DDP.

Everything else (data stream and recipes, checkpoints and resume, logs, DDP) is the shared
loop's (``globelens.train.loop``). Tasks are the recipe's sources: each task is a seeded
stream over its data source, and ``data.phases`` mix tasks by weight.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from globelens.data.annotations import AnnotationError, Annotations
from globelens.data.atomic import atomic_path
from globelens.data.index import ShardFiles
from globelens.models.hf import check_model_dir
from globelens.models.hub import local_model_path
from globelens.models.maskcodec import load_codec
from globelens.models.paligemma import CODEC_FILES, HFGenerator
from globelens.models.vlm import (
    IMAGE,
    build_paligemma,
    build_vlm_tokenizer,
    save_generator,
    saved_dtype,
)
from globelens.tasks import TASKS, TargetContext, build_target, get_task
from globelens.train.config import SourceConfig, VLMTrainConfig
from globelens.train.data import BatchDataset, Ref, SampleError, SourceStream, derive_seed
from globelens.train.evaluation import HeldOutBenchmark
from globelens.train.objective import Objective

log = logging.getLogger(__name__)
#: malformed samples logged with their file and key per data worker (the rest are counted)
MAX_BAD_LOGGED = 20
_TASK_TOKEN_RE = re.compile(r"<(?:loc\d{4}|seg\d{3})>")


class SuffixLM(nn.Module):
    """PaliGemma's forward returning the logits of the suffix positions only.

    The LM head (a vocabulary-wide matmul) runs only where a label is predicted: the picture
    and prefix tokens (36 + ~6 of ~60 at the tiny shapes) need no logits in training.
    Returns (logits (N, V) float32, targets (N,)) for the N predicted tokens.

    ``length_groups`` > 1 runs the batch as that many groups of rows of similar length, each
    cut to its own longest row (``VLMCollator`` pads on the right). A batch mixing tasks is padded to its longest prompt (a
    detection prompt of eight classes beside two-word captions): on act two's mixture half of
    the tokens were padding. The rows, their targets and so the summed loss are those of the
    one padded batch; only the padding is not computed.
    """

    def __init__(self, model: nn.Module, length_groups: int = 1) -> None:
        super().__init__()
        self.model = model
        self.length_groups = max(1, length_groups)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        labels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = attention_mask.sum(1)
        groups = min(self.length_groups, len(lengths))
        if groups == 1:
            return self._run(input_ids, attention_mask, token_type_ids, pixel_values, labels)
        parts = []
        for rows in lengths.argsort().tensor_split(groups):
            width = int(lengths[rows].max())
            parts.append(
                self._run(
                    input_ids[rows, :width],
                    attention_mask[rows, :width],
                    token_type_ids[rows, :width],
                    pixel_values[rows],
                    labels[rows, :width],
                )
            )
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _run(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        labels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lm = self.model
        if hasattr(lm, "get_base_model"):  # peft: LoRA layers live inside the base model
            lm = lm.get_base_model()
        hidden = lm.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            pixel_values=pixel_values,
            use_cache=False,
        ).last_hidden_state
        targets = labels[:, 1:]
        keep = targets != -100
        logits = lm.lm_head(hidden[:, :-1][keep]).float()
        cap = getattr(lm.config.get_text_config(), "final_logit_softcapping", None)
        if cap is not None:  # Gemma 2
            logits = torch.tanh(logits / cap) * cap
        return logits, targets[keep]


class VLMCollator:
    """Task targets from each sample's ``.json`` and the processor's PaliGemma batch.

    Pictures go to the processor as decoded (never cropped or flipped: boxes and masks would
    move), so training sees exactly the preprocessing of inference.
    """

    draft = False  # boxes are normalised by the picture's true size
    augments = False
    #: a scene's metadata (objects, masks) is re-read each time, not kept with its picture
    keeps_raw = False
    #: malformed samples this copy has logged
    bad_logged = 0

    def __init__(
        self,
        processor: Any,
        tasks: dict[str, tuple[str, tuple[str, ...]]],
        codec: Any,
        max_text_tokens: int,
        negatives: dict[str, tuple[tuple[str, ...], int]] | None = None,
    ) -> None:
        self.processor, self.tasks, self.codec = processor, tasks, codec
        #: task -> (classes a prompt may add although absent, how many at most)
        self.negatives = negatives or {}
        self.max_text_tokens = max_text_tokens
        size = processor.image_processor.size
        self.image_size = int(size["height"])

    def read(self, dataset: BatchDataset, source: str, ref: Ref) -> tuple[str, Annotations]:
        if ref.json is None:
            raise SampleError("missing_json")
        # read as the data layer reads every shard (a non-object .json: malformed_json)
        meta = dataset.sample(source, ref).meta
        where = f"{dataset.streams[source].paths[ref.shard]}:{ref.key}.json"
        try:
            return source, Annotations.from_json(meta, where)
        except AnnotationError as e:
            self._log_bad(e)
            raise SampleError("bad_annotation") from e

    def _log_bad(self, e: AnnotationError) -> None:
        """The file and key of a malformed sample (the first few: all are counted)."""
        self.bad_logged += 1
        if self.bad_logged <= MAX_BAD_LOGGED:
            record = {"event": "bad_annotation", "file": e.source, "key": e.key}
            log.warning(json.dumps({**record, "problem": e.problem}))

    def prepare(
        self, raw: tuple[str, Annotations], image: Image.Image, rng: random.Random
    ) -> tuple[str, str, Image.Image]:
        task, sample = raw
        kind, langs = self.tasks[task]
        classes, negatives = self.negatives.get(task, ((), 0))
        ctx = TargetContext(image.width, image.height, langs, self.codec, classes, negatives)
        prefix, suffix = build_target(kind, sample, ctx, rng)
        if self._text_tokens(prefix, suffix) > self.max_text_tokens:
            raise SampleError("too_long")
        return prefix, suffix, image

    def _text_tokens(self, prefix: str, suffix: str) -> int:
        """An upper bound on the tokens of ``<bos> prefix \\n suffix <eos>``, exact when it
        matters: every token of the byte-fallback BPE covers at least one byte of the
        NFKC-normalised text (a loc or seg token: its own one), so a short text needs no
        tokenising (tokenising twice cost a quarter of the data loading)."""
        text = _TASK_TOKEN_RE.sub("#", prefix + suffix)
        bound = len(unicodedata.normalize("NFKC", text).encode()) + 3
        if bound <= self.max_text_tokens:
            return bound
        tok = self.processor.tokenizer
        return len(tok(prefix)["input_ids"]) + len(tok(suffix)["input_ids"]) + 3

    def collate(self, images: list[np.ndarray], items: list[Any]) -> dict[str, Any]:
        if not items:
            empty = torch.zeros(0, 1, dtype=torch.long)
            return {
                "pixel_values": torch.zeros(0, 3, self.image_size, self.image_size),
                "input_ids": empty,
                "attention_mask": empty,
                "token_type_ids": empty,
                "labels": empty,
            }
        enc = self.processor(
            text=[IMAGE + p for p, _, _ in items],
            images=[im for _, _, im in items],
            suffix=[s for _, s, _ in items],
            padding="longest",
            padding_side="right",
            return_tensors="pt",
        )
        return {
            k: enc[k]
            for k in ("pixel_values", "input_ids", "attention_mask", "token_type_ids", "labels")
        }


def _first_samples(
    streams: dict[str, SourceStream], name: str, limit: int
) -> Iterator[Annotations]:
    """The annotations of the first ``limit`` readable samples of one stream."""
    ds = BatchDataset.__new__(BatchDataset)
    ds.streams, ds._files = streams, ShardFiles()
    try:
        for ref in streams[name].take(0, min(limit, streams[name].size)):
            if ref.json is None:
                continue
            try:
                meta = ds.sample(name, ref).meta
                yield Annotations.from_json(meta, f"{streams[name].paths[ref.shard]}:{ref.key}")
            except (ValueError, OSError):  # SampleProblem, AnnotationError: not a usable sample
                continue
    finally:
        ds._files.close()


def sample_texts(streams: dict[str, SourceStream], limit: int) -> list[str]:
    """Captions, questions, answers, labels and referring expressions of up to ``limit``
    samples spread over the sources (what a fresh tokenizer learns its merges from)."""
    texts: list[str] = []
    per_stream = max(1, limit // max(len(streams), 1))
    for name in streams:
        for ann in _first_samples(streams, name, per_stream):
            for caps in ann.captions.values():
                texts.extend(c for c in caps if c)
            for qa in ann.qa:
                texts += [qa.question, qa.multiple_choice_answer]
            texts += [o.label for o in ann.objects]
            texts += [r.sent for r in ann.refs]
    return [t for t in texts if t.strip()]


def sample_labels(streams: dict[str, SourceStream], name: str, limit: int) -> list[str]:
    """The object labels of a stream's first ``limit`` samples, sorted (the same list on
    every rank)."""
    labels = {
        " ".join(o.label.split())
        for ann in _first_samples(streams, name, limit)
        for o in ann.objects
        if o.label.strip()
    }
    return sorted(labels)


def _load_codec(path: str | Path | None) -> Any:
    if path is None:
        return None
    return load_codec(path)


class GenerativeObjective(Objective):
    """PaliGemma (vision tower + projection + Gemma) on the task mixture; see the module."""

    cfg: VLMTrainConfig

    def __init__(self, cfg: VLMTrainConfig, dist: Any) -> None:
        super().__init__(cfg, dist)
        m = cfg.model
        if not cfg.data.sources:
            raise ValueError(
                "no training data: give --data PATTERN or [[data.sources]] in the config"
            )
        if not cfg.tasks:
            raise ValueError("no tasks: give --task or [[tasks]] in the config")
        if (m.vision is None) == (m.init_from is None):
            raise ValueError(
                "give exactly one of --vision SIGLIP_DIR (a fresh PaliGemma) and "
                "--init-from PALIGEMMA_DIR (fine-tune)"
            )
        if m.unfreeze_last_n and not m.freeze_vision:
            raise ValueError("--unfreeze-last-n applies to a frozen tower (--freeze-vision)")
        if m.decoder_init and m.init_from:
            raise ValueError("--decoder-init starts a fresh PaliGemma; --init-from has a decoder")
        if m.freeze_vision and m.freeze_decoder and not m.lora_rank:
            raise ValueError(
                "--freeze-vision and --freeze-decoder together leave only the projection"
            )
        sources = {s.name: s for s in cfg.data.sources}
        names = [t.name for t in cfg.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"task names repeat: {names}")
        self.task_specs: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.task_sources: dict[str, SourceConfig] = {}
        for t in cfg.tasks:
            kind = t.kind or t.name
            if kind not in TASKS:
                raise ValueError(
                    f"task {t.name!r}: unknown kind {kind!r}; available: {', '.join(TASKS)}"
                )
            source = t.source or cfg.data.sources[0].name
            if source not in sources:
                raise ValueError(
                    f"task {t.name!r} reads unknown source {source!r}; sources: {sorted(sources)}"
                )
            self.task_specs[t.name] = (kind, tuple(t.langs))
            if t.negatives and kind != "detect":
                raise ValueError(f"task {t.name!r}: negatives apply to detect tasks, not {kind!r}")
            self.task_sources[t.name] = sources[source]
        self.codec_path = m.codec
        if self.codec_path is None and m.init_from is not None:
            start = local_model_path(m.init_from)
            found = [start / f for f in CODEC_FILES if (start / f).is_file()]
            self.codec_path = str(found[0]) if found else None
        needs_codec = sorted(n for n, (k, _) in self.task_specs.items() if get_task(k).needs_codec)
        if needs_codec and self.codec_path is None:
            raise ValueError(
                f"tasks {needs_codec} need a mask codec: give --codec vae-oid.npz (big_vision's) "
                "or a codec .safetensors (`globelens codec train`)"
            )
        # read before any model is built: a wrong held-out set fails the run at once
        ev = cfg.eval
        self.eval_set = None
        if ev.data and self.d.main:
            self.eval_set = HeldOutBenchmark(
                ev.data,
                [kind for kind, _ in self.task_specs.values()],
                ev.data_root,
                max_images=ev.max_images,
                max_new_tokens=ev.max_new_tokens,
                seed=cfg.seed,
            )
        self._norm = 1.0
        self._tokens = 0

    # -- data ----------------------------------------------------------------------------------
    def make_streams(self) -> dict[str, SourceStream]:
        """One seeded stream per task over its source (the recipe mixes tasks)."""
        cfg = self.cfg
        return {
            name: SourceStream(SourceConfig(name, src.pattern), cfg.seed, cfg.data.shuffle_buffer)
            for name, src in self.task_sources.items()
        }

    def collator(self) -> VLMCollator:
        return VLMCollator(
            self.processor,
            self.task_specs,
            self.codec,
            self.cfg.model.max_text_tokens,
            negatives=self.task_negatives,
        )

    # -- model ---------------------------------------------------------------------------------
    def _fresh_init(self, streams: dict[str, SourceStream]) -> Path:
        """A fresh PaliGemma at OUT/init (written once, by the main rank; every rank then
        loads the same file, so one process and many ranks start from the same weights)."""
        m = self.cfg.model
        init = Path(self.cfg.out) / "init"
        if self.d.main and not (init / "model.safetensors").is_file():
            tok = None
            if m.decoder_init is None:  # else the pretrained decoder's tokenizer
                texts = sample_texts(streams, m.tokenizer_texts)
                tok = build_vlm_tokenizer(texts, vocab_size=m.tokenizer_vocab)
            model, processor = build_paligemma(
                m.vision, m.decoder, tok, image_size=m.image_size, seed=self.cfg.seed,
                decoder_init=m.decoder_init, loc_init=m.loc_init,
            )  # fmt: skip
            with atomic_path(init, folder=True) as tmp:
                save_generator(model, processor, tmp, codec=self.codec)
        self.d.barrier()
        return init

    def _freeze(self, model: nn.Module) -> None:
        m = self.cfg.model
        if m.freeze_vision:
            tower = model.model.vision_tower
            tower.requires_grad_(False)
            if m.unfreeze_last_n:
                vm = getattr(tower, "vision_model", tower)
                for layer in vm.encoder.layers[-m.unfreeze_last_n :]:
                    layer.requires_grad_(True)
                vm.post_layernorm.requires_grad_(True)
        if m.freeze_decoder:
            model.model.language_model.requires_grad_(False)
            model.lm_head.requires_grad_(False)

    def _lora(self, model: nn.Module, resume_from: Path | None) -> nn.Module:
        from peft import LoraConfig, PeftModel, get_peft_model

        m = self.cfg.model
        if resume_from is not None:
            return PeftModel.from_pretrained(model, resume_from, is_trainable=True)
        targets: Any = list(m.lora_targets)
        scope = (
            "language_model" if m.freeze_vision else "vision_tower" if m.freeze_decoder else None
        )
        if scope is not None:  # adapt only the part that is not frozen
            targets = rf".*{scope}.*\.({'|'.join(m.lora_targets)})$"
        config = LoraConfig(
            r=m.lora_rank,
            lora_alpha=m.lora_alpha,
            lora_dropout=m.lora_dropout,
            target_modules=targets,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.cfg.seed, "lora"))  # the same A on every rank
            return get_peft_model(model, config)

    def build(self, streams: dict[str, SourceStream], resume_from: Path | None) -> None:
        from transformers import AutoProcessor, PaliGemmaForConditionalGeneration

        m = self.cfg.model
        self.codec = _load_codec(self.codec_path)
        self.task_negatives = {
            t.name: (tuple(sample_labels(streams, t.name, m.tokenizer_texts)), t.negatives)
            for t in self.cfg.tasks
            if t.negatives
        }
        base_dir = check_model_dir(m.init_from) if m.init_from else self._fresh_init(streams)
        self.assets = base_dir
        # trained in float32; written back in the dtype the start came in (PaliGemma 2: bf16)
        self.save_dtype = saved_dtype(base_dir)
        weights = base_dir if (m.lora_rank or resume_from is None) else resume_from
        model = PaliGemmaForConditionalGeneration.from_pretrained(
            weights, local_files_only=True, use_safetensors=True, dtype=torch.float32
        )
        self.processor = AutoProcessor.from_pretrained(base_dir, local_files_only=True)
        if m.lora_rank:
            model = self._lora(model, resume_from)
        else:
            self._freeze(model)
        if m.grad_checkpointing:
            model.gradient_checkpointing_enable()
        self.model = model.to(self.d.device).train()
        self.module = SuffixLM(self.model, self.cfg.length_groups)
        self.image_size = int(self.processor.image_processor.size["height"])

    def _base(self) -> nn.Module:
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    # -- step ----------------------------------------------------------------------------------
    def batch_len(self, mb: dict[str, Any]) -> int:
        return int(mb["input_ids"].shape[0])

    def begin_step(self, micro_batches: Any) -> None:
        count = sum(int((mb["labels"][:, 1:] != -100).sum()) for mb in micro_batches)
        if self.d.world > 1:
            t = torch.tensor([count], dtype=torch.long, device=self.d.device)
            torch.distributed.all_reduce(t)
            count = int(t.item())
        self._tokens = count
        self._norm = max(count, 1) / (self.d.world * len(micro_batches))

    def forward(self, module: nn.Module, mb: dict[str, Any], device: torch.device) -> Any:
        return module(
            **{
                k: mb[k].to(device, non_blocking=True)
                for k in ("input_ids", "attention_mask", "token_type_ids", "pixel_values", "labels")
            }
        )

    def loss(self, outputs: Any, mb: dict[str, Any]) -> torch.Tensor:
        logits, targets = outputs
        return F.cross_entropy(logits, targets, reduction="sum") / self._norm

    def metrics(self) -> dict[str, float]:
        return {"target_tokens": self._tokens}

    # -- output --------------------------------------------------------------------------------
    def save_model(self, out: Path) -> None:
        """A full PaliGemma directory (LoRA merged into a copy of the weights)."""
        model = self.model
        if self.cfg.model.lora_rank:
            model = copy.deepcopy(model).merge_and_unload()
        save_generator(model, self.processor, out, codec=self.codec, dtype=self.save_dtype)

    def save_checkpoint_model(self, out: Path) -> None:
        """The full model, or for LoRA the adapter alone (resumed on top of the base)."""
        if self.cfg.model.lora_rank:
            self.model.save_pretrained(out, safe_serialization=True)
            self.processor.save_pretrained(out)
        else:
            save_generator(self.model, self.processor, out, codec=self.codec)

    def evaluate(self) -> dict[str, float]:
        if self.eval_set is None:
            return {}
        gen = HFGenerator.from_loaded(self._base(), self.processor, self.codec)
        try:
            return self.eval_set.evaluate(gen)
        finally:
            self.model.train()
