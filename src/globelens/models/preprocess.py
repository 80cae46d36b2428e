"""Image preprocessing that reproduces a saved Hugging Face image processor.

transformers' PIL backend (the one it uses without torchvision) resizes each uint8 image with
PIL, centre-crops, then rescales and normalises in NumPy, one image at a time. We do the resize
with the same PIL call (so the pixels are identical) and the rest as one batched tensor
operation, which is where the time went.

Two conventions exist: :class:`ImageTransform` gives every picture one square (or fixed)
size, a tensor (N, 3, H, W); :class:`PatchTransform` (SigLIP 2 NaFlex) keeps each picture's
aspect ratio and cuts it into at most ``max_num_patches`` patches, a :class:`Patches` batch.
:data:`Pixels` is either; :func:`cat_pixels` and :func:`pixel_inputs` are all that callers
which batch or run pictures need to know of the difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image


def _rgb(value: Any) -> tuple[float, float, float]:
    """A processor's per-channel mean or std (one number stands for all three)."""
    values = value if isinstance(value, list | tuple) else [value] * 3
    r, g, b = (float(v) for v in values)
    return r, g, b


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
        mean, std = _rgb(ip.image_mean), _rgb(ip.image_std)
        return cls(
            do_resize=bool(ip.do_resize),
            resize=resize,
            resample=int(ip.resample if ip.resample is not None else Image.Resampling.BILINEAR),
            do_center_crop=do_crop,
            crop=crop,
            do_rescale=bool(ip.do_rescale),
            rescale_factor=float(ip.rescale_factor),
            do_normalize=bool(ip.do_normalize),
            mean=mean,
            std=std,
        )

    @property
    def image_size(self) -> int:
        """The side of the (square) pictures the model sees."""
        return int(self.output_size[0])

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


@dataclass(frozen=True)
class Patches:
    """Pictures cut into patches at their own resolution (SigLIP 2 NaFlex): row ``i`` of
    ``values`` holds picture ``i``'s ``rows x cols`` patches in raster order, each flattened
    (patch row, patch column, channel), then zeros up to the patch budget."""

    #: (N, max_num_patches, patch_size * patch_size * 3), normalised float32
    values: torch.Tensor
    #: (N, 2) int64: each picture's (rows, cols) of patches
    spatial_shapes: torch.Tensor

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __getitem__(self, index: slice) -> Patches:
        return Patches(self.values[index], self.spatial_shapes[index])

    @property
    def attention_mask(self) -> torch.Tensor:
        """(N, max_num_patches) int32: 1 on a picture's patches, 0 on the padding."""
        counts = self.spatial_shapes.prod(dim=-1, keepdim=True)
        return (torch.arange(self.values.shape[1]) < counts).to(torch.int32)

    @staticmethod
    def cat(parts: Sequence[Patches]) -> Patches:
        return Patches(
            torch.cat([p.values for p in parts]), torch.cat([p.spatial_shapes for p in parts])
        )


#: what a dual encoder's ``preprocess`` returns and its ``encode_images`` takes
Pixels = torch.Tensor | Patches


def cat_pixels(parts: Sequence[Pixels]) -> Pixels:
    """Batches of preprocessed pictures (all of one model) as one batch."""
    if isinstance(parts[0], Patches):
        return Patches.cat(parts)  # type: ignore[arg-type]
    return torch.cat(parts)  # type: ignore[arg-type]


def pixel_inputs(pixels: Pixels, device: torch.device) -> dict[str, torch.Tensor]:
    """The image tower's keyword inputs, as transformers' processor names them."""
    if isinstance(pixels, Patches):
        return {
            "pixel_values": pixels.values.to(device),
            "pixel_attention_mask": pixels.attention_mask.to(device),
            "spatial_shapes": pixels.spatial_shapes.to(device),
        }
    return {"pixel_values": pixels.to(device)}


def _patched_side(size: int, scale: float, patch: int) -> int:
    return max(patch, math.ceil(size * scale / patch) * patch)


def naflex_size(height: int, width: int, patch: int, max_patches: int) -> tuple[int, int]:
    """(height, width) a picture is resized to: the largest scale, found by bisection to
    1e-5, whose sides rounded up to whole patches hold at most ``max_patches`` patches
    (transformers' ``get_image_size_for_max_num_patches``, which the released processor
    runs; the aspect ratio is kept up to that rounding)."""
    lo, hi = 1e-6, 100.0
    while hi - lo >= 1e-5:
        scale = (lo + hi) / 2
        h, w = _patched_side(height, scale, patch), _patched_side(width, scale, patch)
        if (h // patch) * (w // patch) <= max_patches:
            lo = scale
        else:
            hi = scale
    return _patched_side(height, lo, patch), _patched_side(width, lo, patch)


@dataclass(frozen=True)
class PatchTransform:
    """SigLIP 2 NaFlex's processor (``Siglip2ImageProcessor``): each picture resized with PIL
    to :func:`naflex_size` (its aspect ratio kept), rescaled, normalised and cut into
    ``patch_size`` patches, padded to ``max_num_patches``."""

    patch_size: int = 16
    max_num_patches: int = 256
    resample: int = int(Image.Resampling.BILINEAR)
    #: the rescale and normalisation (its resize is not used)
    values: ImageTransform = ImageTransform(do_resize=False)

    @classmethod
    def from_processor(cls, ip: Any) -> PatchTransform:
        if not getattr(ip, "do_resize", True):
            raise ValueError("a NaFlex image processor without do_resize is not supported")
        return cls(
            patch_size=int(ip.patch_size),
            max_num_patches=int(ip.max_num_patches),
            resample=int(ip.resample if ip.resample is not None else Image.Resampling.BILINEAR),
            values=ImageTransform(
                do_resize=False,
                do_rescale=bool(ip.do_rescale),
                rescale_factor=float(ip.rescale_factor),
                do_normalize=bool(ip.do_normalize),
                mean=_rgb(ip.image_mean),
                std=_rgb(ip.image_std),
            ),
        )

    @property
    def image_size(self) -> int:
        """The side of a square picture at the full patch budget: no picture is resized to a
        shorter side longer than this (what JPEG draft decoding and pixel limits go by)."""
        return self.patch_size * math.isqrt(self.max_num_patches)

    def _patches(self, im: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        if im.mode != "RGB":
            im = im.convert("RGB")
        h, w = naflex_size(im.height, im.width, self.patch_size, self.max_num_patches)
        # PIL returns a copy when the size already fits, as transformers' resize does
        arr = np.array(im.resize((w, h), resample=self.resample))
        x = self.values.normalize(torch.from_numpy(arr)[None])[0]  # (3, h, w)
        p, rows, cols = self.patch_size, h // self.patch_size, w // self.patch_size
        x = x.reshape(3, rows, p, cols, p).permute(1, 3, 2, 4, 0)
        return x.reshape(rows * cols, p * p * 3), torch.tensor([rows, cols])

    def __call__(self, images: Sequence[Image.Image]) -> Patches:
        dim = self.patch_size * self.patch_size * 3
        values = torch.zeros(len(images), self.max_num_patches, dim)
        shapes = torch.zeros(len(images), 2, dtype=torch.int64)
        for i, im in enumerate(images):
            patches, shapes[i] = self._patches(im)
            values[i, : len(patches)] = patches
        return Patches(values, shapes)
