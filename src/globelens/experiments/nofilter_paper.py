"""The No Filter paper's own numbers (Pouget, Beyer et al., NeurIPS 2024, arXiv 2405.13777),
beside each finding the study checks.

Only what the paper reports is here: Table 1's headline means over 3 seeds (SigLIP B/16, 10B
pairs of WebLI) for en and globe-tl, the 10-shot geo-localization probe for en, globe and
globe-tl, the Dollar Street disparity, and the qualitative result on fine-tuning
("globe-tl→en keeps most of the GLDv2 gain without hurting ImageNet"). Our benchmarks stand
in for the paper's: the Western set for ImageNet, the landmark set for GLDv2 (geo-diverse
subset). A finding the paper gives no number for says so instead of borrowing one. The
ladder's findings carry MetaCLIP 2's numbers (worldwide vs English-only data, ViT-H/14).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SOURCE = "No Filter (Pouget, Beyer et al. 2024), Table 1, mean of 3 seeds"


@dataclass(frozen=True)
class PaperNumber:
    """The paper's value for a comparison: ``a`` minus ``b`` is the finding's margin, in
    points (percent), positive where the finding holds."""

    benchmark: str
    a: str
    a_value: float | None
    b: str
    b_value: float | None
    source: str = SOURCE
    #: a result the paper states without a number in its headline table
    stated: str | None = None
    #: the direction the statement gives (True: the finding holds in the paper)
    stated_holds: bool | None = None

    @property
    def margin(self) -> float | None:
        if self.a_value is None or self.b_value is None:
            return None
        return round(self.a_value - self.b_value, 2)

    @property
    def holds(self) -> bool | None:
        if self.margin is not None:
            return self.margin > 0
        return self.stated_holds

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "margin": self.margin, "holds": self.holds}


_FINETUNE = (
    "globe-tl→en fine-tuning keeps most of the GLDv2 gain without hurting ImageNet; "
    "the reverse does not"
)

#: finding name -> the paper's number for the same comparison
PAPER: dict[str, PaperNumber] = {
    "globe-tl_beats_en_dollarstreet": PaperNumber(
        "Dollar Street 0-shot top-1", "globe-tl", 49.96, "en", 48.52
    ),
    "globe-tl_beats_en_landmarks": PaperNumber(
        "GLDv2 (geo-diverse) 0-shot top-1", "globe-tl", 49.46, "en", 43.84
    ),
    "globe-tl_beats_en_geode": PaperNumber("GeoDE 0-shot top-1", "globe-tl", 92.84, "en", 91.82),
    "globe-tl_beats_en_geode_country_10shot": PaperNumber(
        "GeoDE country 10-shot", "globe-tl", 26.23, "en", 16.41
    ),
    "globe_beats_en_geode_country_10shot": PaperNumber(
        "GeoDE country 10-shot", "globe", 26.29, "en", 16.41
    ),
    "globe-tl_smaller_disparity": PaperNumber(
        "Dollar Street income disparity (en minus globe-tl)", "en", 32.5, "globe-tl", 27.4
    ),
    "en_beats_globe-tl_western": PaperNumber(
        "ImageNet 0-shot top-1", "en", 70.36, "globe-tl", 68.23
    ),
    "globe-tl_then_en_recovers_western": PaperNumber(
        "ImageNet 0-shot top-1",
        "globe-tl→en",
        None,
        "globe-tl",
        None,
        stated=_FINETUNE,
        stated_holds=True,
    ),
    "globe-tl_then_en_keeps_global_gain": PaperNumber(
        "GLDv2 (geo-diverse) 0-shot top-1",
        "globe-tl→en",
        None,
        "en",
        None,
        stated=_FINETUNE,
        stated_holds=True,
    ),
}

# MetaCLIP 2 (Chuang et al., "MetaCLIP 2: A Worldwide Scaling Recipe", NeurIPS 2025):
# worldwide curated data against English-only, ViT-H/14. Its stand-ins here: the Western set
# for ImageNet, the global sets (Dollar Street and landmarks) for GLDv2.
METACLIP2 = "MetaCLIP 2 (2025), worldwide vs English-only data, ViT-H/14"
PAPER |= {
    "metaclip2_beats_en_western": PaperNumber(
        "ImageNet 0-shot top-1", "worldwide", 81.3, "English-only", 80.5, source=METACLIP2
    ),
    "metaclip2_beats_en_global": PaperNumber(
        "GLDv2 0-shot top-1", "worldwide", 69.0, "English-only", 52.8, source=METACLIP2
    ),
}
_NO_GLOBE = (
    "MetaCLIP 2 compares balanced worldwide data with English-only data and with mSigLIP, "
    "not with unbalanced worldwide data"
)
for _bench in ("western", "global"):
    PAPER[f"metaclip2_beats_globe_{_bench}"] = PaperNumber(
        _bench, "metaclip2", None, "globe", None, source=METACLIP2, stated=_NO_GLOBE
    )

NOT_REPORTED = (
    "not in the paper's headline numbers (Table 1 compares en with globe-tl; globe appears "
    "only in the 10-shot probe)"
)


def paper_finding(name: str) -> dict[str, Any]:
    """The paper's entry for finding ``name``, or ``{"reported": False, "note": ...}``."""
    p = PAPER.get(name)
    if p is None:
        return {"reported": False, "note": NOT_REPORTED, "holds": None}
    return {"reported": True, **p.to_dict()}


def direction_matches(ours: bool | None, paper: dict[str, Any]) -> bool | None:
    """Whether our finding goes the paper's way; None when either side has no direction
    (our premise absent, or no number or statement in the paper)."""
    theirs = paper.get("holds")
    if ours is None or theirs is None:
        return None
    return bool(ours) == bool(theirs)


__all__ = ["PAPER", "PaperNumber", "direction_matches", "paper_finding"]
