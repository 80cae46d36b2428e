"""Caption and image quality filters, DataComp's ``basic_filter`` among them."""

from __future__ import annotations

from collections.abc import Sequence

from globelens.curate.base import Step, StepResult, register_step, stored_size
from globelens.curate.steps.langid import FastTextBackend
from globelens.data import ImageDecodeError, Sample


def image_dims(sample: Sample, use_original: bool = True) -> tuple[int, int]:
    """(width, height): the ``original_width/height`` metadata that DataComp filters on when
    present (the size before img2dataset resized), else the stored image's size (both rules
    that use it are symmetric in width and height, so an EXIF rotation does not matter)."""
    meta = sample.meta
    if use_original and meta.get("original_width") and meta.get("original_height"):
        return int(meta["original_width"]), int(meta["original_height"])
    return stored_size(sample)


@register_step("caption_length")
class CaptionLength(Step):
    """Keep captions with at least ``min_words`` whitespace-separated words and at least
    ``min_chars`` characters (DataComp: more than 2 words and more than 5 characters)."""

    def __init__(self, min_words: int = 3, min_chars: int = 6) -> None:
        self.min_words = min_words
        self.min_chars = min_chars

    def reason(self, caption: str) -> str | None:
        if len(caption.split()) < self.min_words:
            return "caption_too_few_words"
        if len(caption) < self.min_chars:
            return "caption_too_few_chars"
        return None

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        result = StepResult()
        for sample in batch:
            why = self.reason(sample.caption or "")
            (result.dropped.append((sample, why)) if why else result.kept.append(sample))
        return result


@register_step("image_size")
class ImageSize(Step):
    """Keep images whose shorter side is at least ``min_side`` pixels and whose long/short
    aspect ratio is at most ``max_aspect`` (DataComp: 200 and 3.0)."""

    def __init__(self, min_side: int = 200, max_aspect: float = 3.0, use_original: bool = True):
        self.min_side = min_side
        self.max_aspect = max_aspect
        self.use_original = use_original

    def reason(self, sample: Sample) -> str | None:
        width, height = image_dims(sample, self.use_original)
        short, long = min(width, height), max(width, height)
        if short < self.min_side:
            return "image_too_small"
        if short == 0 or long / short > self.max_aspect:
            return "aspect_ratio_too_large"
        return None

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        result = StepResult()
        for sample in batch:
            try:
                why = self.reason(sample)
            except ImageDecodeError as e:
                result.corrupt.append((sample, e.reason))
                continue
            (result.dropped.append((sample, why)) if why else result.kept.append(sample))
        return result


@register_step("datacomp_basic")
class DataCompBasic(Step):
    """DataComp's ``basic_filter`` exactly (``baselines/apply_filter.py``): fastText lid.176's
    top-1 label is ``en`` (no score threshold, newlines replaced by spaces), the caption has
    more than 2 words (``str.split``) and more than 5 characters, the image's shorter side is
    at least 200 and its aspect ratio at most 3. DataComp uses ``lid.176.bin``; the default
    here is the bundled ``lid.176.ftz`` (its quantised twin), or ``model_path`` for the .bin.
    The first failing condition is the drop reason, in the order language, caption, image."""

    def __init__(self, model_path: str | None = None, use_original: bool = True) -> None:
        self.lid = FastTextBackend(model_path)
        self.caption = CaptionLength(min_words=3, min_chars=6)
        self.image = ImageSize(min_side=200, max_aspect=3.0, use_original=use_original)

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        result = StepResult()
        langs = self.lid.detect([s.caption or "" for s in batch])
        for sample, (lang, _score) in zip(batch, langs, strict=True):
            why = "not_english" if lang != "en" else self.caption.reason(sample.caption or "")
            if why is None:
                try:
                    why = self.image.reason(sample)
                except ImageDecodeError as e:
                    result.corrupt.append((sample, e.reason))
                    continue
            (result.dropped.append((sample, why)) if why else result.kept.append(sample))
        return result
