"""The built-in curation steps (importing this package registers them) and :func:`build_step`,
which builds any registered step by name: it lives here, above the steps, so every built-in is
registered before a recipe names one."""

from typing import Any

from globelens.curate.base import STEPS, Step
from globelens.curate.steps import balance, clipscore, dedup, langid, mix, quality, text
from globelens.options import check_keywords


def build_step(type_name: str, **config: Any) -> Step:
    """Build a registered step from recipe keys; unknown names and keys fail here, naming
    what is valid."""
    if type_name not in STEPS:
        raise ValueError(
            f"unknown curation step {type_name!r}. Available steps are: {', '.join(sorted(STEPS))}"
        )
    cls = STEPS[type_name]
    check_keywords(cls.__init__, config, f"step {type_name!r}")
    step = cls(**config)
    step._config = dict(config)  # type: ignore[attr-defined]
    return step


__all__ = ["balance", "build_step", "clipscore", "dedup", "langid", "mix", "quality", "text"]
