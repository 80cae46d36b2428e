"""Small multilingual shard sets for curation tests: real JPEGs, real tars, known faults."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from globelens.data import Sample, ShardWriter, encode_image

# (language, script, region, country, income, caption)
PEOPLE = [
    (
        "en",
        "Latn",
        "Anglosphere",
        "United States",
        3500,
        "a photo of a gas stove in a bright modern kitchen",
    ),
    (
        "en",
        "Latn",
        "Anglosphere",
        "Canada",
        2800,
        "a comfortable bed with white sheets in the bedroom",
    ),
    (
        "es",
        "Latn",
        "Americas",
        "Mexico",
        450,
        "una estufa de leña en la cocina de la casa familiar",
    ),
    ("fr", "Latn", "Africa", "Senegal", 150, "une cuisinière à bois dans la cour de la maison"),
    ("sw", "Latn", "Africa", "Kenya", 120, "jiko la mkaa nje ya nyumba yetu ya familia"),
    ("ar", "Arab", "WestAsia", "Egypt", 600, "موقد غاز صغير في مطبخ البيت القديم"),
    ("hi", "Deva", "SouthEastAsia", "India", 180, "घर की रसोई में मिट्टी का चूल्हा और बर्तन"),
    ("zh", "Hans", "EastAsia", "China", 1200, "家里厨房的燃气灶和一口大锅"),
    ("ja", "Jpan", "EastAsia", "Japan", 3000, "台所にあるガスコンロと小さな鍋の写真"),
    ("de", "Latn", "Europe", "Germany", 3200, "ein moderner Herd in einer hellen Küche"),
]
ENGLISH = {
    "es": "a wood stove in the kitchen of the family house",
    "fr": "a wood cooker in the courtyard of the house",
    "sw": "a charcoal stove outside our family house",
    "ar": "a small gas stove in the kitchen of the old house",
    "hi": "a clay stove and pots in the home kitchen",
    "zh": "the gas stove and a big pot in the home kitchen",
    "ja": "a photo of a gas stove and a small pot in the kitchen",
    "de": "a modern stove in a bright kitchen",
}


def pattern_image(seed: int, size: tuple[int, int] = (256, 224)) -> Image.Image:
    """A smooth random image: distinct seeds give perceptually different images."""
    rng = np.random.default_rng(seed)
    small = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def make_sample(
    i: int, person: int | None = None, image: Image.Image | None = None, **extra
) -> Sample:
    lang, script, region, country, income, caption = PEOPLE[
        i % len(PEOPLE) if person is None else person
    ]
    im = image if image is not None else pattern_image(i)
    meta = {
        "uid": hashlib.md5(f"uid-{i}".encode()).hexdigest(),
        "language": lang,
        "script": script,
        "region": region,
        "country": country,
        "income": income,
        "caption_en": ENGLISH.get(lang, caption),
        "width": im.size[0],
        "height": im.size[1],
        **extra,
    }
    return Sample(key=f"s{i:06d}", image_bytes=encode_image(im, "jpg"), caption=caption, meta=meta)


def write_shards(out: Path, n_shards: int = 3, per_shard: int = 10, start: int = 0) -> list[str]:
    """Clean multilingual shards; sample i lives in shard i // per_shard."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(n_shards):
        with ShardWriter(out, maxcount=per_shard, start_shard=s) as w:
            for i in range(start + s * per_shard, start + (s + 1) * per_shard):
                w.write(make_sample(i))
        paths += w.written
    return paths


def write_bad_shards(out: Path) -> dict[str, int]:
    """Shards with every kind of fault; returns how many samples of each kind they hold."""
    out.mkdir(parents=True, exist_ok=True)
    # Shard 0: clean samples, one corrupt image, one garbage image, one empty caption.
    with ShardWriter(out, maxcount=1000, start_shard=0) as w:
        for i in range(8):
            w.write(make_sample(i))
        bad = make_sample(100)
        data = bad.image_bytes or b""
        bad.image_bytes = data[: len(data) // 2]  # header fine, pixels truncated
        w.write(bad)
        garbage = make_sample(101)
        garbage.image_bytes = b"this is not an image at all"
        w.write(garbage)
        empty = make_sample(102)
        empty.caption = "   "
        w.write(empty)
    # Shard 1: duplicates of shard 0: exact bytes, and a resized + recompressed copy.
    with ShardWriter(out, maxcount=1000, start_shard=1) as w:
        exact = make_sample(200, person=0)
        exact.image_bytes = make_sample(0).image_bytes
        w.write(exact)
        near_im = pattern_image(1).resize((230, 201), Image.Resampling.BILINEAR)
        w.write(
            make_sample(
                201, person=1, image=Image.open(io.BytesIO(encode_image(near_im, "jpg", 60)))
            )
        )
        for i in range(202, 206):
            w.write(make_sample(i))
    # Shard 2: a tar cut in the middle of a member (a truncated download).
    with ShardWriter(out, maxcount=1000, start_shard=2) as w:
        for i in range(300, 306):
            w.write(make_sample(i))
    tar2 = out / "00002.tar"
    raw = tar2.read_bytes()
    tar2.write_bytes(raw[: int(len(raw) * 0.6)])
    return {"clean_shard0": 8, "corrupt_images": 2, "empty_captions": 1, "shard1": 6}
