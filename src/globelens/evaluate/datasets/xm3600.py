"""XM3600-style multilingual captions: ``captions.jsonl`` + ``images/<key>.jpg``.

One JSON object per line: ``{"image/key": K, "image/locale": L, "<lang>": {"caption": [...]},
...}`` (the Crossmodal-3600 release layout). Retrieval runs once per language.
"""

from __future__ import annotations

import json
from pathlib import Path

from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    missing_image,
    require_file,
)
from globelens.evaluate.datasets.registry import Format, register_format


def detect(root: Path) -> bool:
    return (root / "captions.jsonl").is_file()


def _image_path(root: Path, key: str) -> Path:
    for ext in ("jpg", "jpeg", "png", "webp"):
        p = root / "images" / f"{key}.{ext}"
        if p.is_file():
            return p
    return root / "images" / f"{key}.jpg"


def load(root: Path, languages: list[str] | None = None) -> Benchmark:
    path = require_file(root, "captions.jsonl", "xm3600")
    bench = Benchmark(
        name=root.name,
        format="xm3600",
        root=str(root),
        records=[],
        tasks=("zeroshot_retrieval",),
        # No Filter Table 2: few-shot geo-localisation with the picture's locale as label
        # (asked for with --tasks fewshot; retrieval stays the default task)
        fewshot_targets=("locale",),
        index_files=[str(path)],
    )
    with open(path, encoding="utf-8-sig") as fh:  # a BOM must not break line 1
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                bench.report.add(str(path), None, "malformed_json", f"line {n}: {e}")
                continue
            if "image/key" not in obj:
                raise BenchmarkFormatError(f"{path.name} line {n}: no 'image/key' field")
            key = str(obj["image/key"])
            captions = {
                lang: [c for c in v.get("caption", []) if isinstance(c, str) and c.strip()]
                for lang, v in obj.items()
                if isinstance(v, dict) and (languages is None or lang in languages)
            }
            captions = {lang: caps for lang, caps in captions.items() if caps}
            img = _image_path(root, key)
            if not img.is_file():
                missing_image(bench.report, root, key, img)
                continue
            meta = {"locale": obj.get("image/locale", "")}
            bench.records.append(Record(id=key, path=str(img), captions=captions, meta=meta))
    return bench


register_format(Format("xm3600", load, detect, "XM3600-style captions.jsonl + images/"))
