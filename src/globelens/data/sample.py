"""The record every stage passes around: one image, its caption and its metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from globelens.data.images import DEFAULT_MAX_PIXELS, decode_image, image_size


@dataclass
class Sample:
    """An image-text pair. The image stays encoded until :meth:`image` is called."""

    key: str
    image_bytes: bytes | None = None
    caption: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    image_ext: str = "jpg"
    # Other members of the tar group (e.g. ``cls``, ``npy``), raw bytes by extension.
    extras: dict[str, bytes] = field(default_factory=dict)
    # The shard this sample was read from ("" when built in memory); never written out.
    source: str = ""

    def image(
        self, target_size: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> Image.Image:
        """Decode the image to RGB (raises ``ImageDecodeError`` on corrupt data)."""
        if self.image_bytes is None:
            raise ValueError(f"sample {self.key!r} has no image")
        return decode_image(self.image_bytes, target_size=target_size, max_pixels=max_pixels)

    def image_size(self) -> tuple[int, int]:
        """(width, height) from the image header, without decoding pixels."""
        if self.image_bytes is None:
            raise ValueError(f"sample {self.key!r} has no image")
        return image_size(self.image_bytes)

    @property
    def uid(self) -> str:
        """A stable identifier: the ``uid`` metadata field when present, else the key."""
        return str(self.meta.get("uid", self.key))
