"""Image preprocessing that reproduces a saved Hugging Face image processor.

transformers' PIL backend (the one it uses without torchvision) resizes each uint8 image with
PIL, centre-crops, then rescales and normalises in NumPy, one image at a time. We do the resize
with the same PIL call (so the pixels are identical) and the rest as one batched tensor
operation, which is where the time went.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class ImageTransform:
    """resize -> centre crop -> rescale -> normalise, as the processor config says."""

    do_resize: bool = True
    #: ("hw", (h, w)) for a fixed size, ("short", (s, 0)) to resize the shorter edge to s
    resize: tuple[str, tuple[int, int]] = ("hw", (224, 224))
    resample: int = int(Image.Resampling.BICUBIC)
    do_center_crop: bool = False
    crop: tuple[int, int] = (224, 224)
    do_rescale: bool = True
    rescale_factor: float = 1 / 255
    do_normalize: bool = True
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    @classmethod
    def from_processor(cls, ip: Any) -> ImageTransform:
        """Read the settings of a transformers image processor (defaults already merged)."""
        size = dict(ip.size) if ip.size is not None else {}
        size = {k: v for k, v in size.items() if v is not None}
        if "height" in size and "width" in size:
            resize = ("hw", (int(size["height"]), int(size["width"])))
        elif "shortest_edge" in size and "longest_edge" not in size:
            resize = ("short", (int(size["shortest_edge"]), 0))
        else:
            raise ValueError(
                f"unsupported image processor size {size}: expected height+width or shortest_edge"
            )
        crop_size = dict(getattr(ip, "crop_size", None) or {})
        do_crop = bool(getattr(ip, "do_center_crop", False))
        crop = (int(crop_size.get("height", 0)), int(crop_size.get("width", 0)))
        if do_crop and not all(crop):
            raise ValueError(f"centre crop enabled but crop_size is {crop_size}")
        mean, std = ip.image_mean, ip.image_std
        mean = tuple(float(m) for m in (mean if isinstance(mean, list | tuple) else [mean] * 3))
        std = tuple(float(s) for s in (std if isinstance(std, list | tuple) else [std] * 3))
        return cls(
            do_resize=bool(ip.do_resize),
            resize=resize,
            resample=int(ip.resample if ip.resample is not None else Image.Resampling.BILINEAR),
            do_center_crop=do_crop,
            crop=crop,
            do_rescale=bool(ip.do_rescale),
            rescale_factor=float(ip.rescale_factor),
            do_normalize=bool(ip.do_normalize),
            mean=mean,  # type: ignore[arg-type]
            std=std,  # type: ignore[arg-type]
        )

    @property
    def output_size(self) -> tuple[int, int]:
        if self.do_center_crop:
            return self.crop
        if self.resize[0] == "hw":
            return self.resize[1]
        raise ValueError("shortest-edge resize without a crop gives images of varying size")

    def _resize(self, im: Image.Image) -> Image.Image:
        kind, (a, b) = self.resize
        if kind == "hw":
            h, w = a, b
        else:  # transformers.image_transforms.get_resize_output_image_size, default_to_square=False
            short, long = sorted(im.size)
            new_short, new_long = a, int(a * long / short)
            w, h = (new_short, new_long) if im.width <= im.height else (new_long, new_short)
        if (w, h) == im.size:
            return im
        return im.resize((w, h), resample=self.resample)

    def _crop(self, arr: np.ndarray) -> np.ndarray:
        ch, cw = self.crop
        h, w = arr.shape[:2]
        top, left = (h - ch) // 2, (w - cw) // 2
        if top >= 0 and left >= 0:
            return arr[top : top + ch, left : left + cw]
        # Smaller than the crop: pad with zeros around the centre, as transformers does.
        out = np.zeros((max(h, ch), max(w, cw), 3), dtype=arr.dtype)
        pt, pl = (out.shape[0] - h) // 2, (out.shape[1] - w) // 2
        out[pt : pt + h, pl : pl + w] = arr
        top, left = (out.shape[0] - ch) // 2, (out.shape[1] - cw) // 2
        return out[top : top + ch, left : left + cw]

    def to_uint8(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Geometric part (resize, crop) per image with PIL -> uint8 tensor (N, H, W, 3)."""
        arrays = []
        for im in images:
            if im.mode != "RGB":
                im = im.convert("RGB")
            if self.do_resize:
                im = self._resize(im)
            arr = np.asarray(im)
            if self.do_center_crop:
                arr = self._crop(arr)
            arrays.append(arr)
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"preprocessed images differ in size: {sorted(shapes)}")
        return (
            torch.from_numpy(np.stack(arrays))
            if arrays
            else torch.zeros(0, 0, 0, 3, dtype=torch.uint8)
        )

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) or (N, 3, H, W) float/uint8 -> normalised float32 (N, 3, H, W)."""
        if pixels.shape[-1] == 3 and pixels.shape[1] != 3:
            pixels = pixels.permute(0, 3, 1, 2)
        # One contiguous float copy, then in place: the same values as out-of-place ops on
        # the permuted view, at a third of the time (it runs on every training batch).
        x = pixels.to(torch.float32, memory_format=torch.contiguous_format, copy=True)
        if self.do_rescale:
            x.mul_(self.rescale_factor)
        if self.do_normalize:
            mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1)
            std = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1)
            x.sub_(mean).div_(std)
        return x

    def __call__(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return self.normalize(self.to_uint8(images))
