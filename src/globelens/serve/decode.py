"""Decoding request pictures within a budget.

A small file can decode huge (a 105 kB solid 6000x6000 PNG is 144 MB of pixels), so what is
limited is what a picture decodes to, not its file size:

- the pixel limit applies to the decoded size, after JPEG draft scaling (DCT scaling to at
  least the model's side, which also makes large JPEGs cheap), and by default follows the
  model's size (``Limits.pixel_limit``);
- :class:`DecodeGate` runs at most ``max_decodes`` decodes at once, and only while the bytes of
  the pixels being decoded fit ``decode_budget_bytes``; others wait their turn (within the
  request's deadline) on the event loop, holding no thread;
- when a burst of large decodes is over, the C heap is trimmed so the memory goes back to the
  system (glibc keeps freed arenas otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from starlette.concurrency import run_in_threadpool

from globelens.data.images import ImageDecodeError, decode_image, image_size
from globelens.serve.config import Limits
from globelens.serve.errors import APIError

log = logging.getLogger(__name__)

#: Pillow holds RGB pixels as 4 bytes each
BYTES_PER_PIXEL = 4
#: pictures up to this many pixels are decoded right on the event loop, outside the gate: the
#: hop to a worker thread costs more CPU than decoding them (64x64 PNG: ~0.1 ms)
INLINE_DECODE_PIXELS = 256 * 256
#: trim the C heap once this many bytes were decoded since the last trim and nothing decodes
TRIM_AFTER_BYTES = 64 << 20


@dataclass(frozen=True)
class Plan:
    """How one picture will be decoded: its header size and the size it decodes to."""

    width: int
    height: int
    decoded_pixels: int

    @property
    def nbytes(self) -> int:
        return self.decoded_pixels * BYTES_PER_PIXEL


def plan(data: bytes, limits: Limits, target_size: int, param: str) -> Plan:
    """Check a picture from its header alone: empty, corrupt, too small, too many pixels."""
    if not data:
        raise APIError(400, "empty_image", "image is empty", param=param)
    try:
        width, height = image_size(data)
    except ImageDecodeError as e:
        raise decode_error(e, param) from e
    if min(width, height) < limits.min_image_side:
        raise APIError(
            400,
            "image_too_small",
            f"image is {width}x{height}; both sides must be at least {limits.min_image_side} px",
            param=param,
        )
    dw, dh = _draft_size(data, target_size, (width, height))
    limit = limits.pixel_limit(target_size)
    if dw * dh > limit:
        raise APIError(
            413,
            "too_many_pixels",
            f"image is {width}x{height} ({dw}x{dh} decoded); the limit is {limit} pixels "
            "(raise it with --max-pixels)",
            param=param,
        )
    return Plan(width, height, dw * dh)


def _draft_size(data: bytes, target_size: int, size: tuple[int, int]) -> tuple[int, int]:
    """The size Pillow's JPEG draft mode will decode to (the header size for other formats)."""
    if data[:3] != b"\xff\xd8\xff":
        return size
    with contextlib.suppress(Exception), Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (target_size, target_size))
        return im.size
    return size


def decode(data: bytes, p: Plan, target_size: int, param: str) -> Image.Image:
    """The RGB picture (JPEG draft-decoded to about ``target_size``), EXIF orientation applied."""
    try:
        return decode_image(data, target_size=target_size, max_pixels=p.width * p.height)
    except ImageDecodeError as e:
        raise decode_error(e, param) from e


def decode_error(e: ImageDecodeError, param: str) -> APIError:
    status = 413 if e.reason == "too_many_pixels" else 400
    return APIError(status, e.reason, f"cannot read the image: {e.detail}", param=param)


def original_size(p: Plan, im: Image.Image) -> tuple[int, int]:
    """The picture's full size in its displayed orientation (a draft decode is smaller; EXIF
    may have turned it by 90 degrees)."""
    same = (im.width >= im.height) == (p.width >= p.height)
    return (p.width, p.height) if same else (p.height, p.width)


class DecodeGate:
    """At most ``max_decodes`` decodes at once, holding at most ``budget`` bytes of pixels."""

    def __init__(self, limits: Limits) -> None:
        self.max_decodes = limits.max_decodes
        self.budget = limits.decode_budget_bytes
        self.running = 0
        self.in_use = 0
        #: the most bytes of pixels ever decoding at once (read by tests and the benchmark)
        self.peak_bytes = 0
        self._since_trim = 0
        self._cond: asyncio.Condition | None = None

    async def run(self, p: Plan, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, a decode of the picture ``p`` describes, when its turn comes."""
        if p.width * p.height <= INLINE_DECODE_PIXELS:  # the header size: a JPEG's draft
            return fn(*args)  # decode still reads the whole file
        if p.nbytes > self.budget:
            raise APIError(
                413,
                "decode_budget_exceeded",
                f"the image decodes to {p.nbytes >> 20} MB; the decode budget is "
                f"{self.budget >> 20} MB",
            )
        cond = self._condition()
        async with cond:
            await cond.wait_for(
                lambda: self.running < self.max_decodes and self.in_use + p.nbytes <= self.budget
            )
            self.running += 1
            self.in_use += p.nbytes
            self.peak_bytes = max(self.peak_bytes, self.in_use)
        # the thread runs to its end even if the request is cancelled: the budget is given
        # back when it has, not when the request gave up
        task = asyncio.ensure_future(run_in_threadpool(fn, *args))
        task.add_done_callback(lambda _: asyncio.ensure_future(self._release(p.nbytes)))
        return await asyncio.shield(task)

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def _release(self, nbytes: int) -> None:
        cond = self._condition()
        async with cond:
            self.running -= 1
            self.in_use -= nbytes
            self._since_trim += nbytes
            trim = self.in_use == 0 and self._since_trim >= TRIM_AFTER_BYTES
            if trim:
                self._since_trim = 0
            cond.notify_all()
        if trim:
            await run_in_threadpool(trim_heap)


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return lib if lib is not None and hasattr(lib, "malloc_trim") else None


_LIBC = _libc()


def trim_heap() -> None:
    """Give freed C heap back to the system (glibc; a no-op elsewhere)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
