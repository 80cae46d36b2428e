"""One rule for every finding of the study, act one's and act two's.

A finding is a claim "A beats B" measured as a margin per training seed. With several seeds it
"holds" only when every seed's margin is positive *and* the 95% t interval of the mean margin
lies above zero; it "does not hold" when both say the reverse; anything else is "not robust",
and the per-seed margins are shown beside it. With one seed there is no interval over seeds:
the claim follows the margin's sign, unless the images' own noise cannot tell the two models
apart ("no difference beyond the noise").

Every finding of the study is built here (:func:`finding`, :func:`share_finding`,
:func:`not_applicable`), so the rule, the noise threshold and the record's fields are defined
once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HOLDS, DOES_NOT_HOLD = "holds", "does not hold"
NOT_ROBUST = "not robust"
NO_DIFFERENCE = "no difference beyond the noise"
#: the claim's premise is absent (a model at the floor, no gap to recover, not measured)
NOT_APPLICABLE = "n/a"

#: The smallest margin that means anything on the world's benchmarks: their bootstrap
#: half-widths are 2-3 points, so a difference (or a gap a share is taken of) under two points
#: is within the per-example noise; a share of it would be a share of noise (e.g. "246%").
MIN_MARGIN = 0.02

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


def finite(x: Any) -> float | None:
    """``x`` as a float, or None when it is missing, not a number or infinite."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def finding(
    statement: str,
    margin: float | None,
    per_seed: Sequence[float],
    *,
    within_noise: bool | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A claim "margin > 0" with its per-seed margins and :func:`judge`'s verdict;
    ``within_noise`` (one seed) is kept in the record when given. ``fields`` describe the
    claim (its unit, interval, benchmark...)."""
    out: dict[str, Any] = {"statement": statement, **fields, "margin": margin,
                           "per_seed": list(per_seed)}  # fmt: skip
    if within_noise is not None:
        out["within_noise"] = within_noise
    out |= judge(per_seed, bool(within_noise)).as_dict()
    if out["status"] == NOT_APPLICABLE:
        out["reason"] = "not measured"
    return out


def not_applicable(
    statement: str, reason: str, margin: float | None = None, **fields: Any
) -> dict[str, Any]:
    """A claim whose premise is absent (a model at the floor, no gap, no result): n/a."""
    return {"statement": statement, **fields, "status": NOT_APPLICABLE, "holds": None,
            "margin": margin, "reason": reason}  # fmt: skip


def share_finding(
    statement: str,
    part: Sequence[float],
    whole: Sequence[float],
    whole_name: str,
    unit: str,
) -> dict[str, Any]:
    """ "Keeps / recovers most (>= 50%) of ``whole``", from per-seed ``part`` and ``whole``:
    ``share = mean part / mean whole``, defined only when the mean ``whole`` is at least
    :data:`MIN_MARGIN`; otherwise the claim has no premise and is n/a (never "holds"). The
    verdict is :func:`judge` on each seed's ``part - whole / 2`` (positive exactly when that
    seed's share is over one half), kept as ``excess_per_seed``."""
    p, w = mean_ci(part)[0], mean_ci(whole)[0]
    fields: dict[str, Any] = {whole_name: w, "part": p, "unit": unit, "min_gap": MIN_MARGIN}
    if not (w == w and p == p):  # a metric is missing
        return not_applicable(statement, "not measured", float("nan"), **fields)
    if w < MIN_MARGIN:
        verb = "recover" if whole_name == "gap" else "keep"
        why = f"no {whole_name} to {verb} ({100 * w:+.1f} points, under {100 * MIN_MARGIN:.0f})"
        return not_applicable(statement, why, float("nan"), **fields)
    excess = [a - b / 2 for a, b in zip(part, whole, strict=True)]
    return {"statement": statement, **fields, "margin": p / w, "excess_per_seed": excess,
            **judge(excess).as_dict()}  # fmt: skip


def within_noise(
    margin: float, a: dict[str, Any], b: dict[str, Any], key: str = "value", ci: str = "ci95"
) -> bool:
    """One seed: is ``margin`` (a's ``key`` minus b's) under :data:`MIN_MARGIN`, or is each
    value inside the other's 95% interval ``ci``?"""
    if abs(margin) < MIN_MARGIN:
        return True
    ca, cb = a.get(ci), b.get(ci)
    va, vb = finite(a.get(key)), finite(b.get(key))
    try:
        return bool(ca[0] <= vb <= ca[1] and cb[0] <= va <= cb[1])  # type: ignore[index]
    except (TypeError, IndexError):
        return False
