"""Group definitions shared by the world, curation audits and evaluation."""

from __future__ import annotations

# Dollar Street income buckets: monthly income per adult, USD PPP (No Filter, SigLIP 2).
INCOME_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("$0-200", 0.0, 200.0),
    ("$201-684", 200.0, 684.0),
    ("$685-1997", 684.0, 1997.0),
    ("$1998+", 1997.0, float("inf")),
)
INCOME_BUCKET_NAMES: tuple[str, ...] = tuple(name for name, _, _ in INCOME_BUCKETS)


def income_bucket(income: float) -> str:
    """The Dollar Street bucket of a monthly income: ``$0-200`` ... ``$1998+``."""
    if income != income or income < 0:  # NaN or negative
        raise ValueError(f"income must be a non-negative number, got {income!r}")
    for name, _low, high in INCOME_BUCKETS:
        if income <= high:
            return name
    return INCOME_BUCKETS[-1][0]
