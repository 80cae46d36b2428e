"""Builders for real test data: images in every mode, and tars with hand-made faults."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from PIL import Image

from globelens.data import Sample, ShardWriter, encode_image


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real JPEG with a little structure (a gradient), so decoding does real work."""
    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    im.paste(color, (0, 0, width // 2, height // 2))
    return encode_image(im, "jpg")


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def corrupt_jpeg() -> bytes:
    """A JPEG whose entropy-coded data stops halfway: the header is fine, decoding fails."""
    data = jpeg(96, 96)
    return data[: len(data) // 2]


def sample(i: int, caption: str | None = None, **meta: object) -> Sample:
    return Sample(
        key=f"{i:09d}",
        image_bytes=jpeg(40 + i, 30 + i),
        caption=f"a photo number {i}" if caption is None else caption,
        meta={"uid": f"{i:032x}", "width": 40 + i, "height": 30 + i, **meta},
    )


def write_samples(out_dir: Path, n: int, maxcount: int = 1000, **kw: object) -> list[str]:
    with ShardWriter(out_dir, maxcount=maxcount, **kw) as writer:
        writer.write_all(sample(i) for i in range(n))
    return writer.written


def raw_tar(path: Path, members: list[tuple[str, bytes]]) -> bytes:
    """Write a tar with exactly these members, in order; returns the tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def group(key: str, image: bytes | None = None, caption: bytes | None = b"a caption", meta=None):
    """The members of one sample: key.jpg, key.txt, key.json (each optional)."""
    members = []
    if image is not None:
        members.append((f"{key}.jpg", image))
    if caption is not None:
        members.append((f"{key}.txt", caption))
    if meta is not None:
        members.append(
            (f"{key}.json", meta if isinstance(meta, bytes) else json.dumps(meta).encode())
        )
    return members


def cut_inside_last_member(path: Path, keep: int = 10) -> None:
    """Truncate a tar ``keep`` bytes into the data of its last member."""
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    assert last.size > keep
    data = path.read_bytes()
    path.write_bytes(data[: last.offset_data + keep])
