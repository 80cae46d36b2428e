"""One rule for every finding of the study, act one's and act two's.

A finding is a claim "A beats B" measured as a margin per training seed. With several seeds it
"holds" only when every seed's margin is positive *and* the 95% t interval of the mean margin
lies above zero; it "does not hold" when both say the reverse; anything else is "not robust",
and the per-seed margins are shown beside it. With one seed there is no interval over seeds:
the claim follows the margin's sign, unless the images' own noise cannot tell the two models
apart ("no difference beyond the noise").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

HOLDS, DOES_NOT_HOLD = "holds", "does not hold"
NOT_ROBUST = "not robust"
NO_DIFFERENCE = "no difference beyond the noise"
#: the claim's premise is absent (a model at the floor, no gap to recover, not measured)
NOT_APPLICABLE = "n/a"

# Two-sided 95% Student t quantiles by degrees of freedom (no scipy here).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}  # fmt: skip


def t95(df: int) -> float:
    if df <= 0:
        return float("nan")
    keys = sorted(k for k in _T95 if k <= df)
    return _T95[keys[-1]] if df <= 30 else 1.96


def mean_ci(values: Sequence[float]) -> tuple[float, list[float] | None]:
    """Mean and the 95% Student t interval over seeds (None with fewer than two values)."""
    xs = [float(v) for v in values if v == v]
    if not xs:
        return float("nan"), None
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = t95(len(xs) - 1) * sd / math.sqrt(len(xs))
    return mean, [mean - half, mean + half]


@dataclass(frozen=True)
class Verdict:
    status: str
    #: True: holds; False: the reverse holds; None: neither can be said
    holds: bool | None

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "holds": self.holds}


def judge(per_seed: Sequence[float], within_noise: bool = False) -> Verdict:
    """The verdict on "margin > 0" from its per-seed margins (see the module docstring);
    ``within_noise`` matters only with one seed."""
    xs = [float(x) for x in per_seed if x == x]
    if not xs:
        return Verdict(NOT_APPLICABLE, None)
    if len(xs) == 1:
        if within_noise or xs[0] == 0:
            return Verdict(NO_DIFFERENCE, None)
        return Verdict(HOLDS, True) if xs[0] > 0 else Verdict(DOES_NOT_HOLD, False)
    _, (lo, hi) = mean_ci(xs)  # type: ignore[misc]
    if all(x > 0 for x in xs) and lo > 0:
        return Verdict(HOLDS, True)
    if all(x < 0 for x in xs) and hi < 0:
        return Verdict(DOES_NOT_HOLD, False)
    return Verdict(NOT_ROBUST, None)
