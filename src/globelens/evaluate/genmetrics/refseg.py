"""Referring segmentation metrics as big_vision's PaliGemma segmentation evaluator defines them
(``big_vision/evaluators/proj/paligemma/transfers/segmentation.py``):

- every example counts: ``miou`` is the mean over *all* examples of the mask IoU at the
  original image's resolution, an invalid prediction scoring 0;
- a prediction is invalid when it lacks a box with ``y_max > y_min`` and ``x_max > x_min`` plus
  16 mask tokens, or when its box is empty in whole pixels; ``invalid`` counts them;
- ``boxacc@0.5``: the fraction of examples whose box IoU with the referred object's box is at
  least 0.5 (invalid predictions miss);
- only the first object of the answer is scored;
- mask IoU is :func:`globelens.models.maskcodec.mask_iou` (two empty masks score 0), the one
  the codec's round trip is scored with too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from globelens.models.maskcodec import mask_iou

#: a box in pixels: (x_min, y_min, x_max, y_max)
BoxXYXY = tuple[float, float, float, float]

__all__ = ["BoxXYXY", "RefSegScores", "box_iou", "mask_iou"]


def box_iou(a: BoxXYXY, b: BoxXYXY) -> float:
    """IoU of two boxes (big_vision computes it in [0, 1] coordinates: IoU does not change
    when both axes are scaled, so pixels give the same number)."""
    ix = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    iy = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = ix * iy
    area = lambda r: max(r[2] - r[0], 0.0) * max(r[3] - r[1], 0.0)  # noqa: E731
    union = area(a) + area(b) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class RefSegScores:
    """Per-example scores; invalid examples have IoU 0 and their reason."""

    ious: list[float] = field(default_factory=list)
    box_ious: list[float] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # "" for valid predictions

    def add(
        self,
        pred_box: BoxXYXY | None,
        pred_mask: np.ndarray | None,
        gt_box: BoxXYXY,
        gt_mask: np.ndarray,
        reason: str = "",
    ) -> None:
        """One example. ``pred_box`` None (or ``reason``) marks an invalid prediction;
        ``pred_mask`` is the decoded mask at the image's resolution (None: no mask tokens)."""
        if pred_box is None or reason:
            self._invalid(reason or "no_object")
            return
        x0, y0, x1, y1 = pred_box
        if not (x1 > x0 and y1 > y0):
            self._invalid("bad_box")
            return
        b_iou = box_iou(pred_box, gt_box)
        # big_vision truncates the box to whole pixels and calls an empty one invalid.
        if int(x1) <= int(x0) or int(y1) <= int(y0):
            self.ious.append(0.0)
            self.box_ious.append(b_iou)
            self.reasons.append("empty_box")
            return
        if pred_mask is None:
            self._invalid("no_mask")  # big_vision: fewer than 16 mask tokens = invalid
            return
        self.ious.append(mask_iou(np.asarray(pred_mask, bool), np.asarray(gt_mask, bool)))
        self.box_ious.append(b_iou)
        self.reasons.append("")

    def _invalid(self, reason: str) -> None:
        self.ious.append(0.0)
        self.box_ious.append(0.0)
        self.reasons.append(reason)

    def metrics(self, thresholds: Sequence[float] = (0.5,)) -> dict[str, float]:
        ious, bious = np.asarray(self.ious), np.asarray(self.box_ious)
        n = len(ious)
        out = {"miou": float(ious.mean()) if n else float("nan")}
        for t in thresholds:
            out[f"boxacc@{t:g}"] = float((bious >= t).mean()) if n else float("nan")
        out["invalid_rate"] = sum(1 for r in self.reasons if r) / n if n else float("nan")
        return out

    @property
    def invalid(self) -> int:
        return sum(1 for r in self.reasons if r)
