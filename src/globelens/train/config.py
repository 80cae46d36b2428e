"""Typed training configuration: dataclasses filled from TOML, then from command-line flags.

Unknown keys fail at load time and name the valid ones, so a typo never trains silently with
the default.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class SourceConfig:
    """One data source: a shard pattern, and where its caption comes from."""

    name: str
    pattern: str
    #: metadata field to use as the caption (e.g. "caption_en"); default: the ``.txt`` member
    caption_field: str | None = None


@dataclass
class PhaseConfig:
    """Until ``until`` (a fraction of all steps), batches mix the sources by ``mix`` weights."""

    until: float = 1.0
    mix: dict[str, float] = field(default_factory=dict)


@dataclass
class DataConfig:
    sources: list[SourceConfig] = field(default_factory=list)
    phases: list[PhaseConfig] = field(default_factory=list)
    #: shuffle buffer over sample addresses, per source (>= the source size: a full shuffle)
    shuffle_buffer: int = 10_000
    workers: int = 1
    prefetch: int = 4
    augment: bool = True
    crop_scale: tuple[float, float] = (0.6, 1.0)
    flip: bool = True
    #: keep decoded pictures (before augmentation) in memory, up to this many MiB per loading
    #: process, so later epochs skip JPEG decoding; 0 turns the cache off. Batches are the same
    #: with or without it.
    decoded_cache_mb: int = 0


@dataclass
class ModelConfig:
    #: a preset name (``globelens.models.presets``) or a preset's dict itself
    preset: str | dict[str, Any] = "tiny"
    model_type: str = "siglip"
    #: a tokenizer directory; default: train one on the training captions
    tokenizer: str | None = None
    tokenizer_vocab: int | None = None
    tokenizer_captions: int = 20_000
    #: fine-tune from this HF model directory instead of a fresh preset
    init_from: str | None = None
    grad_checkpointing: bool = False
    compile: bool = False
    #: initial temperature t = exp(t') of a fresh model; None: the preset's (SigLIP: 10)
    init_logit_scale: float | None = None
    #: initial logit bias b of a fresh SigLIP model; None: the preset's (SigLIP: -10)
    init_logit_bias: float | None = None


@dataclass
class OptimConfig:
    #: peak learning rate; 2e-3 suits the ``tiny`` preset at batch 128 (5e-3 learns slower)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-6
    warmup_frac: float = 0.1
    min_lr_ratio: float = 0.0
    grad_clip: float = 1.0
    accum_steps: int = 1
    #: learning-rate multiplier for the logit scale t' and bias b (see ``make_optimizer``)
    logit_lr_mult: float = 1.0
    #: fused AdamW kernel when the parameters allow it (much faster on a CPU)
    fused: bool = True


@dataclass
class CheckpointConfig:
    every: int = 200
    keep: int = 2


@dataclass
class EvalConfig:
    #: a CLIP_benchmark WebDataset folder (classnames.txt, templates, test/*.tar)
    benchmark: str | None = None
    every: int = 0
    max_images: int = 2000


@dataclass
class RunConfig:
    """What every trainer shares: steps, batch, seed, data stream, optimizer, checkpoints."""

    out: str = "runs/train"
    steps: int = 1000
    batch_size: int = 128
    seed: int = 0
    #: "auto": bf16 autocast on CUDA, fp32 on CPU; or "fp32" / "bf16"
    precision: str = "auto"
    threads: int = 0
    log_every: int = 10
    progress: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainConfig(RunConfig):
    """The contrastive trainer (``globelens train``)."""

    #: a loss of ``train.losses``; None: the model family's own (SigLIP: sigmoid, CLIP: softmax)
    loss: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def _hint_args(hint: Any) -> tuple[Any, ...]:
    return getattr(hint, "__args__", ()) or ()


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the type hint (an int fits a float; a bool is not an int)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        ok = (int,) if hint is int else (int, float)
        return isinstance(value, ok) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value if args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(_matches, value, args))
    if origin is dict:
        return isinstance(value, dict) and all(
            _matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items()
        )
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    return True  # a hint this check does not know: left to the code that reads it


def check_types(cfg: Any, where: str = "top level") -> None:
    """Raise ``TypeError`` naming the key when a config value does not fit its field's type
    (``steps = "100"`` in a TOML file, ``TrainConfig(steps="100")`` in Python)."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value, hint = getattr(cfg, f.name), hints[f.name]
        sub = f.name if where == "top level" else f"{where}.{f.name}"
        if not _matches(value, hint):
            shown = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
            raise TypeError(
                f"config key {sub} = {value!r} ({type(value).__name__}): expected {shown}"
            )
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                check_types(item, f"{sub}[{i}]" if isinstance(value, list) else sub)


def build_config(cls: type, values: dict[str, Any], where: str = "top level") -> Any:
    """A config dataclass from nested dicts; nested dataclasses and lists of them follow the
    field's type hint, so every trainer's config is read the same way."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in [{where}]; valid keys: {sorted(names)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        hint = hints[key]
        inner = _hint_args(hint)
        sub = key if where == "top level" else f"{where}.{key}"
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            kwargs[key] = build_config(hint, value, sub)
        elif (
            typing.get_origin(hint) is list
            and inner
            and dataclasses.is_dataclass(inner[0])
            and isinstance(value, list)
        ):
            kwargs[key] = [build_config(inner[0], v, sub) for v in value]
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    cfg = cls(**kwargs)
    if where == "top level":
        check_types(cfg)
    return cfg


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    return build_config(TrainConfig, values)


def load_config(path: str | Path | None, cls: type = TrainConfig) -> Any:
    """Read a TOML config into ``cls`` (or return its defaults when ``path`` is None)."""
    if path is None:
        return cls()
    with open(path, "rb") as fh:
        return build_config(cls, tomllib.load(fh))


def source_from_spec(spec: str, index: int = 0) -> SourceConfig:
    """``--data`` syntax: ``PATTERN`` or ``name=PATTERN`` or ``name=PATTERN@caption_field``.

    Patterns may use ``::``, braces and globs (see ``expand_shards``); repeat ``--data`` for
    several sources.
    """
    name, sep, rest = spec.partition("=")
    if not sep or "/" in name:
        name, rest = f"s{index}", spec
    pattern, _, caption_field = rest.partition("@")
    return SourceConfig(name=name, pattern=pattern, caption_field=caption_field or None)


# -- the generative trainer (``globelens train-vlm``) -------------------------------------------


@dataclass
class TaskConfig:
    """One task of the mixture: a name the phases mix (``data.phases[].mix``), the kind of
    target it builds from each sample's ``.json`` (a registered task of ``globelens.tasks``),
    and the data source it reads."""

    name: str
    #: a registered task: caption, answer, question, detect, segment, refer, ...; default: the
    #: name
    kind: str | None = None
    #: a ``data.sources`` name; default: the first source
    source: str | None = None
    #: only captions/questions in these languages; empty: every language the sample has
    langs: list[str] = field(default_factory=list)
    #: detect only: up to this many classes the picture lacks join each prompt (drawn from
    #: the labels of the source's first samples), as in an evaluation prompt that lists a
    #: benchmark's classes; the answer still names only the objects present
    negatives: int = 0


@dataclass
class VLMModelConfig:
    #: a SigLIP directory (``globelens train``'s OUT/model, or a Hugging Face one) for the
    #: vision tower of a fresh PaliGemma
    vision: str | None = None
    #: decoder preset of a fresh PaliGemma (``globelens.models.vlm.GEMMA_PRESETS``)
    decoder: str = "tiny"
    #: a pretrained decoder folder (``globelens textpretrain``): its Gemma weights and
    #: tokenizer start a fresh PaliGemma's decoder (``decoder`` and ``tokenizer_*`` unused)
    decoder_init: str | None = None
    #: fine-tune this PaliGemma directory instead of building one
    init_from: str | None = None
    #: tokenizer vocabulary learned from the training texts (loc/seg tokens not counted)
    tokenizer_vocab: int = 2048
    tokenizer_texts: int = 20_000
    #: a mask codec (``globelens codec train``); needed by the segment and refer tasks
    codec: str | None = None
    #: change the tower's resolution (position embeddings are resampled); default: the tower's
    image_size: int | None = None
    #: how a fresh decoder's ``<locDDDD>`` embeddings start (``globelens.models.vlm.LOC_INITS``)
    loc_init: str = "random"
    freeze_vision: bool = False
    #: with ``freeze_vision``: the tower's last N encoder layers (and its final norm) train
    #: all the same (a partly unfrozen tower)
    unfreeze_last_n: int = 0
    freeze_decoder: bool = False
    #: LoRA rank through peft (0: train every unfrozen weight)
    lora_rank: int = 0
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    #: module names LoRA adapts (peft ``target_modules``)
    lora_targets: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    #: longest prefix + suffix in tokens (image tokens not counted); longer samples are counted
    #: as ``too_long`` and left out
    max_text_tokens: int = 128
    grad_checkpointing: bool = False
    compile: bool = False


@dataclass
class VLMEvalConfig:
    #: the held-out benchmark: scene shards in the training layout (a folder or a glob), or
    #: any benchmark spec ``globelens eval`` takes (``world/vqa``, ``coco_det:PATH`` ...);
    #: greedy generation every ``every`` steps and at the end, scored by the evaluator's
    #: tasks (``eval/{task}/{metric}``, the names ``globelens eval`` writes)
    data: str | None = None
    #: where named benchmarks (``world/...``) live: ``globelens eval --data-root``
    data_root: str | None = None
    every: int = 0
    #: the first records of the benchmark (``globelens eval --limit``)
    max_images: int = 64
    #: None: each task's own default, as ``globelens eval`` (``--max-new-tokens``)
    max_new_tokens: int | None = None


def _default_tasks() -> list[TaskConfig]:
    return [TaskConfig("caption"), TaskConfig("answer"), TaskConfig("detect")]


@dataclass
class VLMTrainConfig(RunConfig):
    """The generative trainer: PaliGemma on a mixture of tasks named by their prefixes."""

    out: str = "runs/vlm"
    batch_size: int = 32
    #: each batch runs as this many groups of rows of similar length, each cut to its own
    #: longest row (``SuffixLM``): the same loss and gradient without the padding's compute
    length_groups: int = 4
    tasks: list[TaskConfig] = field(default_factory=_default_tasks)
    model: VLMModelConfig = field(default_factory=VLMModelConfig)
    eval: VLMEvalConfig = field(default_factory=VLMEvalConfig)


def vlm_config_from_dict(values: dict[str, Any]) -> VLMTrainConfig:
    return build_config(VLMTrainConfig, values)


def task_from_spec(spec: str) -> tuple[TaskConfig, float | None]:
    """``--task`` syntax: ``KIND``, ``NAME=KIND``, either with ``@lang,lang`` (only those
    languages), ``+N`` (detect: up to N absent classes per prompt) and ``:WEIGHT`` (its share
    of every batch), e.g. ``detect+7:3``, ``caption_sw=caption@sw:1``."""
    body, sep, weight = spec.rpartition(":")
    if not sep or not weight.replace(".", "", 1).isdigit():
        body, weight = spec, ""
    named, _, kind_langs = body.rpartition("=")
    kind, _, langs = kind_langs.partition("@")
    kind, plus, negatives = kind.partition("+")
    if not kind:
        raise ValueError(f"--task {spec!r}: no task kind")
    if plus and not negatives.isdigit():
        raise ValueError(f"--task {spec!r}: +N needs a whole number of negatives")
    task = TaskConfig(
        name=named or kind,
        kind=kind,
        langs=[x for x in langs.split(",") if x],
        negatives=int(negatives or 0),
    )
    return task, float(weight) if weight else None
