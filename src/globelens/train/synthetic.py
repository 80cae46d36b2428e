"""Small synthetic image-text shards with a learnable signal, for tests and benchmarks.

Each class is a colour and a stripe orientation; captions name the class in one of several
languages. A CLIP_benchmark-style folder of held-out images allows a zero-shot check.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from globelens.data import Sample, ShardWriter, encode_image

CLASSES = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
COLOURS = [
    (220, 30, 30), (30, 180, 30), (30, 60, 220), (230, 220, 40),
    (140, 40, 160), (240, 140, 20), (235, 235, 235), (20, 20, 20),
]  # fmt: skip
NAMES = {
    "en": "a photo of a {} thing",
    "fr": "une photo d'une chose {}",
    "zh": "一张{}东西的照片",
    "ar": "صورة لشيء {}",
    "hi": "एक {} चीज़ की तस्वीर",
    "th": "ภาพของสิ่งที่เป็นสี{}",
}


def synthetic_image(label: int, rng: random.Random, size: int = 96) -> Image.Image:
    base = np.array(COLOURS[label], dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    period = 8 + 2 * (label % 3)
    stripes = ((xx if label % 2 else yy) // period) % 2
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 12, (size, size, 3))
    arr = base[None, None] * (0.75 + 0.25 * stripes[..., None]) + noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def make_synthetic_shards(
    out_dir: str | os.PathLike, n: int = 256, per_shard: int = 64, seed: int = 0, corrupt: int = 0
) -> list[str]:
    """Write ``n`` samples (plus ``corrupt`` undecodable ones) as shards in ``out_dir``."""
    rng = random.Random(seed)
    langs = list(NAMES)
    samples = []
    for i in range(n):
        label = rng.randrange(len(CLASSES))
        lang = langs[i % len(langs)]
        caption = NAMES[lang].format(CLASSES[label])
        meta = {"language": lang, "label": label, "caption_en": NAMES["en"].format(CLASSES[label])}
        image = encode_image(synthetic_image(label, rng))
        samples.append(Sample(key=f"s{i:06d}", image_bytes=image, caption=caption, meta=meta))
    for j in range(corrupt):
        samples.insert(
            rng.randrange(len(samples)),
            Sample(
                key=f"bad{j:04d}",
                image_bytes=b"\xff\xd8 not a jpeg",
                caption="broken",
                meta={"language": "en"},
            ),
        )
    with ShardWriter(out_dir, maxcount=per_shard) as writer:
        writer.write_all(samples)
    return writer.written


def make_synthetic_benchmark(out_dir: str | os.PathLike, n: int = 64, seed: int = 123) -> Path:
    """A CLIP_benchmark WebDataset folder (classnames, templates, test/0.tar)."""
    root = Path(out_dir)
    (root / "test").mkdir(parents=True, exist_ok=True)
    (root / "classnames.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "zeroshot_classification_templates.txt").write_text(
        NAMES["en"].replace("{}", "{c}") + "\n"
    )
    (root / "dataset_type.txt").write_text("zeroshot_classification\n")
    (root / "test" / "nshards.txt").write_text("1\n")
    rng = random.Random(seed)
    with tarfile.open(root / "test" / "0.tar", "w") as tar:
        for i in range(n):
            label = i % len(CLASSES)
            for ext, data in (
                ("jpg", encode_image(synthetic_image(label, rng))),
                ("cls", str(label).encode()),
            ):
                info = tarfile.TarInfo(f"{i:06d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return root
