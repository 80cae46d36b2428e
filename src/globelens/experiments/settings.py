"""What the study is made of: the demo's model, its profiles (:class:`StudyConfig`), and the
curated data and model variants it trains (act one's, and MetaCLIP 2's ladder)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globelens.curate import load_recipe

#: The demo's model: a tiny SigLIP small enough to train 12 times on 2 CPU cores in minutes.
#: 32 px input (the world draws 96 px pictures), 16 patches, 16 text tokens (alt text is short).
DEMO_PRESET: dict[str, Any] = {
    "description": "demo SigLIP: 32 px, patch 8, width 64, 2+2 layers, 16 text tokens",
    "image_size": 32,
    "patch_size": 8,
    "vision": {"width": 64, "layers": 2, "heads": 2, "mlp": 256},
    "text": {"width": 64, "layers": 2, "heads": 2, "mlp": 256, "context": 16},
    "embed_dim": 64,
    "vocab_size": 4096,
    # SigLIP starts at t = 10, b = -10 for batches of 32k; b = -5 suits a batch of 128.
    "init": {"logit_scale": 10.0, "logit_bias": -5.0},
}

#: Prompts for zero-shot classification: a handful in the style of the OpenAI set, so that
#: twelve models evaluate in seconds (the same prompts for every model).
DEMO_TEMPLATES: tuple[str, ...] = (
    "a photo of a {c}.",
    "a photo of the {c}.",
    "a bad photo of a {c}.",
    "a close-up photo of the {c}.",
    "a bright photo of a {c}.",
    "a cropped photo of the {c}.",
)

#: Prompts written as the crawl's English alt text is (the world's
#: ``globelens.world.lexicon.TEMPLATES["en"]``), as CLIP's prompts mirror web alt text. Every
#: token of :data:`DEMO_TEMPLATES` beyond the class name is rare or absent in the training
#: captions ("." is ``<unk>``; "bad", "bright", "cropped", "close-up" split into pieces that
#: never occur), so its embedding stays at the training seed's random initialisation and
#: each seed answers differently; with these prompts the same models agree more closely
#: (benchmarks/RESULTS.md, "Seeds that agree"). ``run_study(..., templates=ALT_TEXT_TEMPLATES)``.
ALT_TEXT_TEMPLATES: tuple[str, ...] = (
    "{c}",
    "{c} at home",
    "photo: {c}",
    "{c} for sale",
    "{c} in our house",
)


@dataclass(frozen=True)
class StudyConfig:
    """Everything that sets the size of the study (the seed is given separately)."""

    profile: str
    #: crawl samples of the world
    world_size: int
    #: training seeds per model variant (intervals over seeds need at least 3)
    seeds: int
    steps: int
    batch_size: int
    lr: float
    warmup_frac: float = 0.05
    weight_decay: float = 1e-4
    #: learning-rate multiplier of SigLIP's temperature and bias. At 10 the temperature fell
    #: from 10 to 4-6 in the first 130 steps, further for some seeds than others, and the
    #: seeds disagreed most; at 1 it stays at 8.5-9 and every metric's seed spread is smaller
    #: (benchmarks/RESULTS.md, "Seeds that agree")
    logit_lr_mult: float = 1.0
    #: the cosine schedule ends at this fraction of the peak (the last phase still learns)
    min_lr_ratio: float = 0.2
    #: share of the steps that "globe->en" spends on en, at the end
    finetune_frac: float = 0.2
    preset: dict[str, Any] = field(default_factory=lambda: dict(DEMO_PRESET))
    tokenizer_captions: int = 40_000
    #: bootstrap resamples for per-benchmark intervals (used as the interval with one seed)
    n_bootstrap: int = 1000
    templates: tuple[str, ...] = DEMO_TEMPLATES
    #: image-decoding workers per training run (0: decode in the training process)
    data_workers: int = 0
    #: MiB of decoded pictures each training run keeps in memory (0: decode every time)
    decoded_cache_mb: int = 512
    #: training runs at a time (each on one thread)
    parallel: int = 2
    #: benchmark sizes: those of this world size (``globelens world build --size``)
    benchmark_size: str = "default"
    #: curation and world-drawing processes
    workers: int = 2
    #: :class:`globelens.world.WorldConfig` fields that differ from the world's defaults
    world: dict[str, Any] = field(default_factory=dict)
    #: also run MetaCLIP 2's ablation ladder: the data variants of :data:`LADDER` (metadata
    #: balancing over the world's own lists) and a model trained on each
    ladder: bool = False

    def fingerprint(self, seed: int) -> str:
        fields = dataclasses.asdict(self)
        if not self.ladder:  # studies from before the option keep their fingerprints
            del fields["ladder"]
        blob = json.dumps({"seed": seed, **fields}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


PROFILES: dict[str, StudyConfig] = {
    "full": StudyConfig(profile="full", world_size=30_000, seeds=3, steps=800, batch_size=128,
                        lr=3e-3),
    "quick": StudyConfig(profile="quick", world_size=15_000, seeds=1, steps=800,
                         batch_size=128, lr=3e-3, n_bootstrap=500),
    # the quick study plus MetaCLIP 2's ladder, over 3 seeds (about 3x the quick study's time)
    "ladder": StudyConfig(profile="ladder", world_size=15_000, seeds=3, steps=800,
                          batch_size=128, lr=3e-3, n_bootstrap=500, ladder=True),
}  # fmt: skip


@dataclass(frozen=True)
class DataVariant:
    """A curated version of the crawl: a curation recipe from ``configs/``, or, with
    ``balance``, MetaCLIP metadata balancing (``metadata_balance`` with these settings) over
    the world's own lists (``world/metadata``)."""

    name: str
    recipe: str
    description: str
    balance: dict[str, Any] | None = None

    def build_recipe(self, world: Path) -> Any:

        if self.balance is None:
            return load_recipe(self.recipe)
        step = {"type": "metadata_balance", "metadata": str(world / "metadata"), **self.balance}
        return load_recipe({"name": self.recipe, "description": self.description,
                            "steps": [{"type": "langid"}, step]})  # fmt: skip


DATA_VARIANTS: dict[str, DataVariant] = {
    v.name: v
    for v in (
        DataVariant("en", "english_only", "captions that fastText lid.176 calls English"),
        DataVariant("globe", "no_filter", "every readable pair, in every language"),
        DataVariant(
            "globe-tl", "globe_tl", "every pair; non-English captions replaced by caption_en"
        ),
    )
}


#: The English tail mass of the ladder's balancing: the published thresholds (t_en = 20,000
#: or 170,000 matches) exceed every count of the world's crawl, so the tail mass is given.
LADDER_TAIL_MASS = 0.5

#: MetaCLIP 2's ablation ladder (their Table on metadata and thresholds), on the world's crawl.
LADDER: dict[str, DataVariant] = {
    v.name: v
    for v in (
        DataVariant("mc2-en-metadata", "metaclip2_english", "every caption against the English "
                    "list", {"scope": "english", "tail_mass": LADDER_TAIL_MASS}),
        DataVariant("mc2-merged", "metaclip2_merged", "every caption against all lists merged",
                    {"scope": "merged", "tail_mass": LADDER_TAIL_MASS}),
        DataVariant("mc2-one-t", "metaclip2_one_threshold", "per-language lists, English's "
                    "threshold for all", {"threshold": "shared", "tail_mass": LADDER_TAIL_MASS}),
        DataVariant("metaclip2", "metaclip2", "per-language lists and thresholds (MetaCLIP 2)",
                    {"threshold": "per_language", "tail_mass": LADDER_TAIL_MASS}),
    )
}  # fmt: skip


def data_variants(ladder: bool = False) -> dict[str, DataVariant]:
    """The study's curated data: en, globe, globe-tl, and the ladder's when asked."""
    return {**DATA_VARIANTS, **(LADDER if ladder else {})}


@dataclass(frozen=True)
class ModelVariant:
    """A training recipe over the curated data: phases of (until fraction, data variant).

    ``continues``: a variant whose run is identical up to the last phase; its checkpoint at
    the phase boundary is continued instead of recomputing those steps (same batches, same
    learning-rate schedule, so the result is the same as training from scratch).
    """

    name: str
    phases: tuple[tuple[float, str], ...]
    description: str
    continues: str | None = None

    def sources(self) -> list[str]:
        return list(dict.fromkeys(d for _, d in self.phases))


def model_variants(finetune_frac: float, ladder: bool = False) -> dict[str, ModelVariant]:
    """en, globe, globe-tl, and globe->en / globe-tl->en (then en for the last
    ``finetune_frac`` of the same number of steps); with ``ladder``, one model per rung of
    :data:`LADDER` too."""
    split = round(1.0 - finetune_frac, 6)
    rungs = {
        name: ModelVariant(name, ((1.0, name),), f"MetaCLIP 2 ladder: {dv.description}")
        for name, dv in (LADDER.items() if ladder else ())
    }
    base = {
        v.name: v
        for v in (
            ModelVariant("en", ((1.0, "en"),), "English-only data"),
            ModelVariant("globe", ((1.0, "globe"),), "all data, no filter"),
            ModelVariant("globe-tl", ((1.0, "globe-tl"),), "all data, translated to English"),
            ModelVariant(
                "globe→en",
                ((split, "globe"), (1.0, "en")),
                f"globe, then en for the last {finetune_frac:.0%} of the steps",
                continues="globe",
            ),
            ModelVariant(
                "globe-tl→en",
                ((split, "globe-tl"), (1.0, "en")),
                f"globe-tl, then en for the last {finetune_frac:.0%} of the steps",
                continues="globe-tl",
            ),
        )
    }
    return base | rungs


def resolve_config(profile: str, **overrides: Any) -> StudyConfig:
    """A profile's settings with field overrides (``steps=50``); unknown names fail."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; available: {', '.join(PROFILES)}")
    names = {f.name for f in dataclasses.fields(StudyConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown study setting(s) {unknown}; valid: {sorted(names)}")
    return dataclasses.replace(PROFILES[profile], **overrides)
