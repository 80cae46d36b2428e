"""Helpers for the server tests: picture bytes (good and hostile) and running servers."""

from __future__ import annotations

import atexit
import base64
import io
import shutil
import struct
import tempfile
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
    """A folder laid out like a demo: RUN/model dirs beside the untrained RUN/init start the
    trainer keeps, plus a checkpoint; neither the start nor the checkpoint is to be served."""
    for name, src in models.items():
        shutil.copytree(src, root / "runs" / name / "model")
        shutil.copytree(src, root / "runs" / name / "init")
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


# -- a tiny generator taught a few answers --------------------------------------------------

#: the picture the taught generator has seen, its size, and what it was taught to say about it
TAUGHT_SIZE = (96, 80)
TAUGHT_BOX = (10.0, 20.0, 60.0, 70.0)
_TAUGHT: dict[str, Path] = {}


def taught_examples() -> list[tuple[str, str]]:
    from globelens.models import tasklang

    w, h = TAUGHT_SIZE
    box = tasklang.encode_box(TAUGHT_BOX, w, h)
    seg = "".join(tasklang.seg_token(i * 7 % 128) for i in range(16))
    return [
        ("detect stove", f"{box} stove"),
        ("segment stove", f"{box}{seg} stove"),
        ("caption en", "a red stove"),
    ]


def taught_picture() -> bytes:
    return picture(*TAUGHT_SIZE, seed=7)


def taught_generator_dir(out: Path) -> Path:
    """A tiny PaliGemma (random init) trained for a few steps until it says exactly the
    ``taught_examples`` about ``taught_picture``: real generated boxes and masks to serve.

    Its mask codec decodes every code to "inside", so a mask fills its box (the drawing and
    the RLE round trip are what the server tests check, not the codec)."""
    import torch
    from vlm_factory import tiny_paligemma_dir

    from globelens.data.images import decode_image
    from globelens.models.maskcodec import MaskCodec
    from globelens.models.paligemma import load_generator
    from globelens.models.vlm import save_generator

    if "dir" not in _TAUGHT:
        torch.manual_seed(0)
        codec = MaskCodec()
        with torch.no_grad():
            codec.decoder[-1].weight.zero_()
            codec.decoder[-1].bias.fill_(1.0)
        base = tiny_paligemma_dir(Path(tempfile.mkdtemp(prefix="globelens-serve-pg-")))
        gen = load_generator(base)
        image = decode_image(taught_picture())
        examples = taught_examples()
        inputs = gen.processor(
            images=[image] * len(examples),
            text=["<image>" + p for p, _ in examples],
            suffix=[s for _, s in examples],
            return_tensors="pt",
            padding="longest",
        )
        opt = torch.optim.Adam(gen.model.parameters(), lr=3e-3)
        want = [s for _, s in examples]
        said: list[str] = []
        for _ in range(60):
            gen.model.train()
            loss = gen.model(**inputs).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            if loss.item() < 0.3:  # close: stop as soon as greedy decoding says it exactly
                gen.model.eval()
                said = [
                    g.text for g in gen.generate([image] * len(examples), [p for p, _ in examples])
                ]
                if said == want:
                    break
        assert said == want, said
        gen.model.eval()
        built = Path(tempfile.mkdtemp(prefix="globelens-serve-taught-"))
        atexit.register(shutil.rmtree, built, True)
        save_generator(gen.model, gen.processor, built, codec=codec)
        shutil.rmtree(base, ignore_errors=True)
        _TAUGHT["dir"] = built
    shutil.copytree(_TAUGHT["dir"], out, dirs_exist_ok=True)
    return out


def solid_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG of one colour (a decode bomb: 6000x6000 is ~0.5 MB on disk, 144 MB decoded),
    written row by row so building it costs no picture-sized memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    first = b"\x00" + bytes(rgb) * width  # filter type 0, then the row's pixels
    same = b"\x02" + bytes(3 * width)  # filter "up": every pixel as the row above
    comp = zlib.compressobj(1)
    idat = comp.compress(first) + b"".join(comp.compress(same) for _ in range(height - 1))
    idat += comp.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
