"""Recipes: a named list of steps plus run settings, read from TOML.

```toml
name = "english_only"
description = "What CLIP, LAION and DataComp do: keep English captions only."
decode = "full"          # full | draft | header | none: how images are checked up front

[[steps]]
type = "langid"          # a registered step; the other keys are its constructor arguments
backend = "fasttext"

[[steps]]
type = "language"
keep = ["en"]
```
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globelens.curate.base import Step
from globelens.curate.steps import build_step

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# How the pipeline checks images before the steps run. "full" decodes every image, so a corrupt
# one is counted and never written; "draft" lets JPEG decode at reduced scale (DCT scaling,
# still reads the whole stream, so truncation is caught), at the largest size a pixel step
# needs (near_dedup's pHash: 32; a step with pixel_size None gets full resolution), and the
# pixel steps then see that image; "header" reads sizes only.
DECODE_MODES = ("full", "draft", "header", "none")
#: the draft size when no step reads pixels
DRAFT_SIZE = 64


@dataclass
class StepSpec:
    """One step of a recipe: its registered ``type``, a display ``label`` and its arguments."""

    type: str
    args: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def build(self) -> Step:
        return build_step(self.type, **self.args)


@dataclass
class Recipe:
    """A curation recipe; ``steps`` run in order on every sample."""

    name: str
    steps: list[StepSpec] = field(default_factory=list)
    description: str = ""
    decode: str = "full"
    batch_size: int = 256

    def __post_init__(self) -> None:
        if self.decode not in DECODE_MODES:
            raise ValueError(
                f"recipe {self.name!r}: decode must be one of {DECODE_MODES}, got {self.decode!r}"
            )
        if self.batch_size < 1:
            raise ValueError(f"recipe {self.name!r}: batch_size must be positive")
        for i, spec in enumerate(self.steps):
            if not spec.label:
                spec.label = f"{i}:{spec.type}"

    @classmethod
    def from_dict(cls, data: dict[str, Any], default_name: str = "recipe") -> Recipe:
        data = dict(data)
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ValueError(
                f"recipe got unknown key(s) {unknown}. Valid keys are: {', '.join(valid)}"
            )
        steps = []
        for i, raw in enumerate(data.pop("steps", [])):
            raw = dict(raw)
            if "type" not in raw:
                raise ValueError(f"recipe step {i} has no 'type'")
            type_name = raw.pop("type")
            label = raw.pop("name", "") or f"{i}:{type_name}"
            steps.append(StepSpec(type=type_name, args=raw, label=str(label)))
        recipe = cls(name=str(data.pop("name", default_name)), steps=steps, **data)
        recipe.build_steps()  # fail now, on a typo, not inside a worker
        return recipe

    def build_steps(self) -> list[Step]:
        return [spec.build() for spec in self.steps]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "decode": self.decode,
            "batch_size": self.batch_size,
            "steps": [{"type": s.type, "name": s.label, **s.args} for s in self.steps],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)


def load_recipe(source: str | os.PathLike | dict[str, Any] | Recipe) -> Recipe:
    """A Recipe from a TOML file, a dict, or a name of a recipe in ``configs/``."""
    if isinstance(source, Recipe):
        return source
    if isinstance(source, dict):
        return Recipe.from_dict(source)
    path = Path(source)
    if not path.exists() and not path.suffix:
        candidate = bundled_recipe_dir() / f"{source}.toml"
        if candidate.exists():
            path = candidate
    if not path.exists():
        raise FileNotFoundError(
            f"recipe {str(source)!r} not found; give a TOML path or one of: "
            f"{', '.join(sorted(p.stem for p in bundled_recipe_dir().glob('*.toml')))}"
        )
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return Recipe.from_dict(data, default_name=path.stem)


def bundled_recipe_dir() -> Path:
    """The example recipes shipped with the package (``configs/`` in the repository links here)."""
    return Path(__file__).resolve().parents[1] / "recipes"
