"""Helpers for the server tests: picture bytes (good and hostile) and running servers."""

from __future__ import annotations

import base64
import io
import shutil
import struct
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from globelens.serve import BackgroundServer, ServeConfig, ServerState, create_app, discover


def picture(width: int = 96, height: int = 80, fmt: str = "PNG", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_with_header_size(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` (CRC fixed), with a tiny body."""
    data = bytearray(picture(16, 16))
    # the IHDR chunk starts at byte 8: length(4) type(4) width(4) height(4) ...
    struct.pack_into(">II", data, 16, width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    struct.pack_into(">I", data, 29, crc)
    return bytes(data)


def corrupt_jpeg() -> bytes:
    good = picture(64, 64, "JPEG")
    return good[:200] + bytes(range(256)) * 8  # a JPEG header, then garbage


def truncated_png() -> bytes:
    good = picture(64, 64, "PNG")
    return good[: len(good) // 2]


def model_folder(root: Path, models: dict[str, Path]) -> Path:
    """A folder laid out like a demo: RUN/model dirs, plus a checkpoint that must be skipped."""
    for name, src in models.items():
        shutil.copytree(src, root / "runs" / name / "model")
    first = next(iter(models.values()))
    ckpt = root / "runs" / "ckpt_only" / "step_000010"
    shutil.copytree(first, ckpt)
    (ckpt / "trainer_state.pt").write_bytes(b"")
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "tokenizer.json").write_text("{}")
    return root


@contextmanager
def running(
    targets: Sequence[str], config: ServeConfig | None = None, wait: bool = True
) -> Iterator[tuple[BackgroundServer, ServerState]]:
    """A real uvicorn server on 127.0.0.1, port 0; stopped (with its batchers) on exit."""
    state = ServerState(discover(targets), config or ServeConfig())
    server = BackgroundServer(create_app(state)).start()
    try:
        if wait:
            assert state.wait_loaded(120), state.error
        yield server, state
    finally:
        server.stop()
        state.stop()
