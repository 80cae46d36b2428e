"""Caption steps: matching against class names, replacing captions from metadata."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from globelens.curate.base import Step, StepResult, register_step
from globelens.data import Sample


@register_step("text_match")
class TextMatch(Step):
    """Keep captions that contain one of the class names, as whole words, ignoring case
    (DataComp's ``text_based`` baseline matches ImageNet-21k synsets; this is its offline
    kin with a user list). Give ``classnames`` inline or ``classnames_file`` (one a line)."""

    def __init__(
        self, classnames: list[str] | None = None, classnames_file: str | None = None
    ) -> None:
        names = list(classnames or [])
        if classnames_file:
            names += [ln.strip() for ln in Path(classnames_file).read_text().splitlines()]
        names = sorted({n.casefold() for n in names if n.strip()}, key=len, reverse=True)
        if not names:
            raise ValueError("text_match needs 'classnames' or 'classnames_file' with names")
        # \b fails next to non-word characters in names (e.g. "t-shirt"), so use lookarounds.
        self.pattern = re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)"
        )

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        result = StepResult()
        for sample in batch:
            if self.pattern.search((sample.caption or "").casefold()):
                result.kept.append(sample)
            else:
                result.dropped.append((sample, "no_class_name_in_caption"))
        return result


@register_step("replace_caption")
class ReplaceCaption(Step):
    """Replace the caption by a metadata field (e.g. ``caption_en``, an English translation)
    to build the "globe-tl" variant. ``only_if_lang_not_in`` limits it to captions whose
    detected ``lang`` is not listed (e.g. ``["en"]``: translate only non-English captions).
    The original goes to ``original_field``. ``missing``: what to do when the field is
    absent or empty: ``keep`` the original caption or ``drop`` the sample."""

    def __init__(
        self,
        field: str = "caption_en",
        only_if_lang_not_in: list[str] | None = None,
        original_field: str = "caption_original",
        missing: str = "keep",
    ) -> None:
        if missing not in ("keep", "drop"):
            raise ValueError(f"replace_caption: missing must be 'keep' or 'drop', got {missing!r}")
        self.field = field
        self.skip_langs = set(only_if_lang_not_in or [])
        self.original_field = original_field
        self.missing = missing

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        result = StepResult()
        for sample in batch:
            if (
                self.skip_langs
                and sample.meta.get("lang", sample.meta.get("language")) in self.skip_langs
            ):
                result.kept.append(sample)
                continue
            new = sample.meta.get(self.field)
            if not isinstance(new, str) or not new.strip():
                if self.missing == "drop":
                    result.dropped.append((sample, f"no_{self.field}"))
                else:
                    result.kept.append(sample)
                continue
            if new != sample.caption:
                sample.meta[self.original_field] = sample.caption
                sample.caption = new
                sample.meta["caption"] = new
                sample.meta["caption_replaced"] = True
            result.kept.append(sample)
        return result
