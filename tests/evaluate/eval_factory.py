"""Small benchmark folders in the real release formats, with real JPEG/PNG files."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

COLORS = [(220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 220, 40), (150, 40, 160)]
CLASSNAMES = ["stove", "bed", "toilet", "toothbrush", "lamp"]
WNIDS = ["n04330267", "n02818832", "n04447861", "n04453156", "n03636649"]
COUNTRIES = [
    ("Nigeria", "ng", "af", "Africa", 90.0),
    ("Brazil", "br", "am", "Americas", 450.0),
    ("India", "in", "as", "SouthEastAsia", 1200.0),
    ("France", "fr", "eu", "Europe", 4000.0),
]


def image(label: int, seed: int, size: int = 48) -> Image.Image:
    """A class-coloured square with noise and a random bar (different every seed)."""
    rng = np.random.default_rng(seed)
    arr = np.full((size, size, 3), COLORS[label % len(COLORS)], dtype=np.int16)
    arr += rng.integers(-40, 40, arr.shape)
    y = int(rng.integers(0, size - 8))
    arr[y : y + 6, :, :] = rng.integers(0, 255, 3)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def save(im: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=90) if path.suffix == ".jpg" else im.save(path)


def write_dollarstreet(root: Path, n: int = 24, drop_column: str | None = None) -> Path:
    header = [
        "id",
        "country.id",
        "country.name",
        "region.id",
        "type",
        "imageRelPath",
        "place",
        "income",
        "topics",
        "imagenet_synonyms",
        "imagenet_sysnet_id",
    ]
    rows = []
    for i in range(n):
        label = i % 4
        name, cc, rid, _, base_income = COUNTRIES[i % len(COUNTRIES)]
        iid = f"5d4b{i:04x}cf0b3a0f3f3359{i:04d}"
        rel = f"assets/{iid}/{iid}.jpg"
        save(image(label, i), root / rel)
        synsets, synonyms = [WNIDS[label]], [CLASSNAMES[label]]
        if i % 6 == 5:  # multi-label rows: "match any"
            synsets.append(WNIDS[4])
            synonyms.append("lamp, light")
        rows.append(
            [
                iid,
                cc,
                name,
                rid,
                "image",
                rel,
                f"place{i}",
                str(base_income * (1 + (i % 3) / 10)),
                json.dumps([CLASSNAMES[label]]),
                json.dumps(synonyms),
                json.dumps(synsets),
            ]
        )
    if drop_column:
        k = header.index(drop_column)
        header = header[:k] + header[k + 1 :]
        rows = [r[:k] + r[k + 1 :] for r in rows]
    for fname, part in (
        ("images_v2.csv", rows),
        ("images_v2_imagenet_test.csv", rows),
        ("images_v2_imagenet_train.csv", rows[:4]),
    ):
        with open(root / fname, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(part)
    return root


def write_geode(root: Path, n: int = 40) -> Path:
    rows = []
    regions = ["Africa", "Americas", "EastAsia", "Europe"]
    for i in range(n):
        label = i % 3
        region = regions[(i // 3) % 4]
        country = f"{region}-c{i % 2}"
        rel = f"{CLASSNAMES[label]}/{region}/img_{i}.jpg"
        save(image(label, 1000 + i), root / "images" / rel)
        rows.append([rel, CLASSNAMES[label], region, country])
    with open(root / "index.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file_path", "object", "region", "ip_country"])
        w.writerows(rows)
    return root


def write_landmarks(root: Path, n: int = 12) -> Path:
    cats = [
        (
            "1001",
            "http://commons.wikimedia.org/wiki/Category:Milad_Tower",
            "Milad Tower",
            "Iran",
            "WestAsia",
        ),
        (
            "1002",
            "http://commons.wikimedia.org/wiki/Category:CN_Tower",
            "CN Tower",
            "Canada",
            "Anglosphere",
        ),
        (
            "1003",
            "http://commons.wikimedia.org/wiki/Category:Taj_Mahal",
            "",
            "India",
            "SouthEastAsia",
        ),
    ]
    rows = []
    for i in range(n):
        iid = f"{i:02x}{'abcdef0123456789'[i % 16]}e{i:013x}"
        label = i % 3
        save(image(label, 2000 + i), root / "images" / iid[0] / iid[1] / iid[2] / f"{iid}.jpg")
        rows.append([iid, cats[label][0]])
    with open(root / "index.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "landmark_id"])
        w.writerows(rows)
    with open(root / "label_to_category.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["landmark_id", "category", "name", "country", "region"])
        w.writerows(cats)
    return root


XM_CAPTIONS = {
    "en": ["a {c} in a house", "the {c} at home"],
    "fr": ["un {c} dans une maison"],
    "ar": ["صورة {c}"],
}


def write_xm3600(root: Path, n: int = 10) -> Path:
    lines = []
    for i in range(n):
        key = f"{i:016x}"
        label = i % 5
        save(image(label, 3000 + i), root / "images" / f"{key}.jpg")
        obj = {"image/key": key, "image/locale": "en"}
        for lang, caps in XM_CAPTIONS.items():
            obj[lang] = {"caption": [c.format(c=f"{CLASSNAMES[label]} {i}") for c in caps]}
        lines.append(json.dumps(obj, ensure_ascii=False))
    (root / "captions.jsonl").parent.mkdir(parents=True, exist_ok=True)
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write_coco(root: Path, n: int = 8) -> Path:
    images = []
    for i in range(n):
        fname = f"COCO_val2014_{i:012d}.jpg"
        save(image(i % 5, 4000 + i), root / "val2014" / fname)
        images.append(
            {
                "filepath": "val2014",
                "filename": fname,
                "cocoid": i,
                "split": "test" if i < 6 else "train",
                "sentences": [{"raw": f"a {CLASSNAMES[i % 5]} number {i}"}, {"raw": f"photo {i}"}],
            }
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_coco.json").write_text(json.dumps({"images": images, "dataset": "coco"}))
    return root


def write_wds(root: Path, n: int = 20, with_meta: bool = True, fmt: str = "jpg") -> Path:
    (root / "test").mkdir(parents=True, exist_ok=True)
    (root / "classnames.txt").write_text("\n".join(CLASSNAMES) + "\n")
    (root / "zeroshot_classification_templates.txt").write_text(
        "a photo of a {c}.\nitap of a {c}.\n"
    )
    (root / "dataset_type.txt").write_text("classification\n")
    (root / "test" / "nshards.txt").write_text("2\n")
    for shard in range(2):
        with tarfile.open(root / "test" / f"{shard}.tar", "w") as tar:
            for j in range(n // 2):
                i = shard * (n // 2) + j
                key = f"s{i:06d}"
                buf = io.BytesIO()
                image(i % 5, 5000 + i).save(buf, format="JPEG" if fmt == "jpg" else "PNG")
                members = {fmt: buf.getvalue(), "cls": str(i % 5).encode()}
                if with_meta:
                    name, cc, _, region, income = COUNTRIES[i % 4]
                    members["json"] = json.dumps(
                        {"country": name, "country_code": cc, "region": region, "income": income}
                    ).encode()
                for ext, data in members.items():
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return root


def write_imagefolder(root: Path, n_per_class: int = 4, ext: str = "png") -> Path:
    for c, _name in enumerate(CLASSNAMES):
        for i in range(n_per_class):
            save(image(c, 6000 + 10 * c + i), root / "test" / WNIDS[c] / f"{i}.{ext}")
    (root / "classnames.txt").write_text("\n".join(CLASSNAMES) + "\n")
    return root


def write_world(root: Path) -> Path:
    """The layout `globelens world build` writes, with the sets above."""
    b = root / "benchmarks"
    write_wds(b / "western")
    write_dollarstreet(b / "dollarstreet")
    write_geode(b / "geode")
    write_landmarks(b / "landmarks")
    write_xm3600(b / "xm3600")
    return root


class FakeEncoder:
    """A deterministic DualEncoder without a network: colour features, hashed texts.

    Counts calls so cache tests can assert what was recomputed.
    """

    image_size = 16
    fingerprint = "fake-encoder-v1"
    path = "fake"

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.proj = torch.from_numpy(np.random.default_rng(0).normal(size=(3 * 4, dim))).float()
        self.image_calls = 0
        self.text_calls = 0
        self.texts_encoded = 0

    def preprocess(self, images):
        arrs = [
            np.asarray(im.convert("RGB").resize((16, 16)), dtype=np.float32) / 255 for im in images
        ]
        return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2)

    def encode_images(self, pixels):
        self.image_calls += 1
        pooled = torch.nn.functional.avg_pool2d(pixels, 8).flatten(1)  # (N, 12)
        return torch.nn.functional.normalize(pooled @ self.proj, dim=-1)

    def encode_texts(self, texts):
        self.text_calls += 1
        self.texts_encoded += len(texts)
        out = []
        for t in texts:
            seed = int.from_bytes(t.encode("utf-8")[:8].ljust(8, b"\0"), "little") ^ len(t)
            out.append(np.random.default_rng(seed).normal(size=self.dim))
        return torch.nn.functional.normalize(torch.tensor(np.array(out)).float(), dim=-1)

    def logits(self, img, txt):
        return img @ txt.T
