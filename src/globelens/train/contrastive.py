"""The contrastive objective (``globelens train``): a SigLIP/CLIP dual encoder, image-caption
pairs, the sigmoid or softmax loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from globelens.models.families import DualEncoderFamily, dual_encoder_family
from globelens.models.hf import HFDualEncoder, check_model_dir, config_model_type
from globelens.models.presets import build_model, get_preset
from globelens.models.textpositions import narrow_text_positions, text_context
from globelens.models.tokenizer import bytes_per_token, save_token_report, train_tokenizer
from globelens.train.checkpoint import save_model_dir
from globelens.train.config import ModelConfig, TrainConfig
from globelens.train.data import CaptionCollator, SourceStream, sample_captions
from globelens.train.evaluation import ZeroShotBenchmark
from globelens.train.losses import loss_class, make_loss
from globelens.train.objective import Objective
from globelens.train.step import MAX_LOG_SCALE, DualTowers


def prepare_model_dir(cfg: TrainConfig, streams: dict[str, SourceStream], d: Any) -> Path:
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


def trained_family(model: ModelConfig) -> DualEncoderFamily:
    """The family of the model to train (``--init-from``'s, else the preset's); an error
    when it is not a dual encoder or globelens cannot fine-tune it."""
    model_type = model.model_type
    if model.init_from:
        model_type = config_model_type(check_model_dir(model.init_from)) or model_type
    family = dual_encoder_family(model_type)
    if family.not_trainable:
        raise ValueError(f"{model.init_from or model_type}: {family.not_trainable}")
    return family


class ContrastiveObjective(Objective):
    """SigLIP/CLIP on image-caption pairs; evaluation is zero-shot classification."""

    min_batch = 2  # a contrastive loss needs at least one negative
    cfg: TrainConfig

    def __init__(self, cfg: TrainConfig, dist: Any) -> None:
        super().__init__(cfg, dist)
        if not cfg.data.sources:
            raise ValueError(
                "no training data: give --data PATTERN or [[data.sources]] in the config"
            )
        family = trained_family(cfg.model)
        if cfg.loss is None:
            cfg.loss = family.loss
        self.loss_cls = loss_class(cfg.loss)
        # A loss that ignores the logit bias leaves it without gradient (refined in build()).
        self.find_unused_parameters = not self.loss_cls.uses_bias

    def make_streams(self) -> dict[str, SourceStream]:
        cfg = self.cfg
        return {
            s.name: SourceStream(s, cfg.seed, cfg.data.shuffle_buffer) for s in cfg.data.sources
        }

    def build(self, streams: dict[str, SourceStream], resume_from: Path | None) -> None:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        cfg = self.cfg
        self.assets = prepare_model_dir(cfg, streams, self.d)
        src = resume_from or self.assets
        self.model = AutoModel.from_pretrained(src, local_files_only=True, use_safetensors=True)
        self.tokenizer = AutoTokenizer.from_pretrained(self.assets, local_files_only=True)
        self.image_processor = AutoImageProcessor.from_pretrained(
            self.assets, local_files_only=True
        )
        # Saved models carry the pipeline's text positions; train on the trained context.
        narrow_text_positions(self.model, text_context(self.model.config, self.tokenizer))
        self.family = dual_encoder_family(self.model.config.model_type)
        if self.loss_cls.uses_bias and getattr(self.model, "logit_bias", None) is None:
            raise ValueError(
                f"the {cfg.loss} loss needs a model with a logit bias (SigLIP); use --loss softmax"
            )
        if cfg.model.grad_checkpointing:
            self.model.gradient_checkpointing_enable()
        self.model.to(self.d.device).train()
        self.module = DualTowers(self.model, compact_text=self.family.pools_last)
        self.find_unused_parameters = not self.loss_cls.uses_bias and hasattr(
            self.model, "logit_bias"
        )
        strategy = "local" if self.d.world == 1 else self.loss_cls.distributed_strategy
        self.loss_fn = make_loss(cfg.loss, strategy)
        self.image_size = int(self.model.config.vision_config.image_size)
        self.benchmark = (
            ZeroShotBenchmark(cfg.eval.benchmark, cfg.eval.max_images)
            if cfg.eval.benchmark and self.d.main
            else None
        )

    def collator(self) -> CaptionCollator:
        transform = HFDualEncoder.from_loaded(
            self.model, self.tokenizer, self.image_processor
        ).transform
        self.model.train()
        return CaptionCollator(
            self.tokenizer,
            transform,
            self.image_size,
            int(self.model.config.text_config.max_position_embeddings),
            self.family.text_for(self.tokenizer),
        )

    def forward(self, module: nn.Module, mb: dict[str, Any], device: torch.device) -> Any:
        return module(
            mb["pixel_values"].to(device, non_blocking=True),
            mb["input_ids"].to(device, non_blocking=True),
            mb["attention_mask"].to(device, non_blocking=True),
        )

    def loss(self, outputs: Any, mb: dict[str, Any]) -> torch.Tensor:
        return self.loss_fn(*outputs)["contrastive_loss"]

    def after_update(self) -> None:
        if self.loss_cls.caps_scale:
            with torch.no_grad():
                self.model.logit_scale.clamp_(0, MAX_LOG_SCALE)

    def metrics(self) -> dict[str, float]:
        record = {"logit_scale": float(self.model.logit_scale.detach().exp())}
        if getattr(self.model, "logit_bias", None) is not None:
            record["logit_bias"] = float(self.model.logit_bias.detach())
        return record

    def save_model(self, out: Path) -> None:
        save_model_dir(self.model, self.assets, out)

    def evaluate(self) -> dict[str, float]:
        if self.benchmark is None:
            return {}
        enc = HFDualEncoder.from_loaded(self.model, self.tokenizer, self.image_processor)
        try:
            result = self.benchmark.evaluate(enc)
        finally:
            self.model.train()
        return {f"eval/{self.benchmark.name}/{k}": v for k, v in result.items()}
