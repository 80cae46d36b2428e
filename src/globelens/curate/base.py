"""The step contract: a pure function of a batch of samples that says why it drops each one.

Two kinds of steps (datatrove-style "filters say why", image-native):

- a **local** step decides each sample from the sample alone: ``step(batch) -> StepResult``;
- a **global** step needs the whole data set (near-duplicates across shards, a top fraction of
  CLIP scores, per-language caps). It splits into ``features(batch)`` (per sample, computed in
  parallel next to the local steps) and ``select(features, uids)`` (one deterministic decision
  over all candidates, in input order). ``step(batch)`` still works on a batch alone, which is
  what the tests and in-memory users call.

Steps are registered by name; a recipe refers to them by ``type`` and its other keys map 1:1 to
constructor arguments, so a typo fails at construction and names the valid keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from globelens.data import ImageDecodeError, Sample


@dataclass
class StepResult:
    """What a step did to a batch: the kept samples (in input order; they may be modified
    copies), each dropped sample with a reason, and samples whose image would not decode."""

    kept: list[Sample] = field(default_factory=list)
    dropped: list[tuple[Sample, str]] = field(default_factory=list)
    corrupt: list[tuple[Sample, str]] = field(default_factory=list)


@dataclass
class StepReport:
    """How a global step decided, for the manifest and the audit: ``summary`` is JSON (its
    ``table``, ``{"columns": [...], "rows": [[...], ...]}``, is shown on the audit page) and
    ``tables`` are row lists written beside the decisions as
    ``reports/NN_<type>_<name>.parquet``."""

    summary: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Step:
    """Base class of curation steps. Subclasses set ``name`` and implement ``__call__``."""

    name: ClassVar[str] = ""
    is_global: ClassVar[bool] = False
    #: the step reads image pixels (the pipeline then decodes each image once, up front)
    needs_pixels: ClassVar[bool] = False
    #: the shorter side the step needs from a pixel image (None: full resolution); with the
    #: recipe's ``decode = "draft"`` a JPEG is decoded once at the largest size any step needs
    pixel_size: int | None = None

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The constructor arguments this step was built with (for manifests and logs)."""
        return dict(getattr(self, "_config", {}))


class GlobalStep(Step):
    """A step whose decision needs every sample: ``features`` per batch, ``select`` once."""

    is_global: ClassVar[bool] = True

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        """One JSON-able feature per sample, or an ``ImageDecodeError`` for a corrupt image."""
        raise NotImplementedError

    def select(
        self, features: Sequence[Any], uids: Sequence[str]
    ) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
        """Decide over all candidates, given in input order: ({index: drop reason},
        {index: metadata fields to set on the kept sample})."""
        raise NotImplementedError

    def report(self) -> StepReport | None:
        """How the last ``select`` decided (thresholds, counts), or None: nothing to report."""
        return None

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        feats = self.features(batch)
        result = StepResult()
        ok: list[int] = []
        for i, f in enumerate(feats):
            if isinstance(f, ImageDecodeError):
                result.corrupt.append((batch[i], f.reason))
            else:
                ok.append(i)
        drops, patches = self.select([feats[i] for i in ok], [batch[i].uid for i in ok])
        for j, i in enumerate(ok):
            if j in drops:
                result.dropped.append((batch[i], drops[j]))
            else:
                sample = batch[i]
                if j in patches:
                    sample.meta.update(patches[j])
                result.kept.append(sample)
        return result


STEPS: dict[str, type[Step]] = {}


def register_step(name: str) -> Callable[[type[Step]], type[Step]]:
    """Class decorator: make a step available to recipes as ``type = "name"``."""

    def wrap(cls: type[Step]) -> type[Step]:
        if name in STEPS:
            raise ValueError(f"curation step {name!r} is registered twice")
        cls.name = name
        STEPS[name] = cls
        return cls

    return wrap


# Decoded pixels are cached on the sample for the duration of one batch, so a recipe with
# several pixel steps (near-dup hashing, CLIP score) decodes each image once.
_PIXELS_ATTR = "_globelens_pixels"
# Whether the cached pixels are the full-resolution image (not a JPEG draft).
_FULL_ATTR = "_globelens_pixels_full"
_SIZE_ATTR = "_globelens_size"


def pixels(sample: Sample, target_size: int | None = None) -> Image.Image:
    """The decoded RGB image of a sample (cached; raises ``ImageDecodeError``)."""
    cached = sample.__dict__.get(_PIXELS_ATTR)
    if cached is not None:
        return cached
    im = sample.image(target_size=target_size)
    sample.__dict__[_PIXELS_ATTR] = im
    sample.__dict__[_FULL_ATTR] = target_size is None
    return im


def stored_size(sample: Sample) -> tuple[int, int]:
    """The stored image's (width, height), read once: from the full-resolution pixels when
    they are already decoded (possibly EXIF-rotated, i.e. width and height swapped), else from
    the header (raises ``ImageDecodeError``)."""
    size = sample.__dict__.get(_SIZE_ATTR)
    if size is None:
        if sample.__dict__.get(_FULL_ATTR):
            size = sample.__dict__[_PIXELS_ATTR].size
        else:
            size = sample.image_size()
        sample.__dict__[_SIZE_ATTR] = size
    return size


def drop_pixels(sample: Sample) -> None:
    for attr in (_PIXELS_ATTR, _FULL_ATTR, _SIZE_ATTR):
        sample.__dict__.pop(attr, None)
