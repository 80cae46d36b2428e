"""XM3600-style captions per language, for captioning: ``captions.jsonl`` + ``images/``.

The same files as the ``xm3600`` retrieval format (``{"image/key", "image/locale",
"<lang>": {"caption": [...]}}`` per line); here each record keeps every language's
references and the captioning task scores each language on its own. Extra string or number
fields of a line (the world writes country, region, income ...) become group metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    require_file,
)
from globelens.evaluate.datasets.cocojson import GROUP_KEYS, check_image, group_meta
from globelens.evaluate.datasets.registry import Format, register_format
from globelens.evaluate.datasets.xm3600 import _image_path


def detect(root: Path) -> bool:
    return (root / "captions.jsonl").is_file()


def load(root: Path, languages: list[str] | None = None, verify_images: bool = True) -> Benchmark:
    """``languages``: keep only these; ``verify_images``: decode each image once."""
    path = require_file(root, "captions.jsonl", "xm3600_captions")
    bench = Benchmark(
        name=root.name, format="xm3600_captions", root=str(root), records=[],
        tasks=("captioning",), index_files=[str(path)],
    )  # fmt: skip
    with open(path, encoding="utf-8-sig") as fh:  # a BOM must not break line 1
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                bench.report.add(str(path), None, "malformed_json", f"line {n}: {e}")
                continue
            if not isinstance(obj, dict) or "image/key" not in obj:
                raise BenchmarkFormatError(f"{path.name} line {n}: no 'image/key' field")
            key = str(obj["image/key"])
            captions = {
                lang: [c.strip() for c in v.get("caption", []) if isinstance(c, str) and c.strip()]
                for lang, v in obj.items()
                if isinstance(v, dict) and (languages is None or lang in languages)
            }
            captions = {lang: caps for lang, caps in captions.items() if caps}
            if not captions:
                bench.report.add(str(path), key, "missing_caption", f"line {n}: no captions")
                continue
            img = _image_path(root, key)
            if not check_image(bench.report, root, key, img, verify_images):
                continue
            meta = {"locale": str(obj.get("image/locale", "")), **group_meta(obj)}
            bench.records.append(Record(id=key, path=str(img), captions=captions, meta=meta))
    bench.group_keys = tuple(k for k in GROUP_KEYS if any(k in r.meta for r in bench.records))
    return bench


# Below the retrieval format for bare folders: captions.jsonl folders stay xm3600 by default.
register_format(
    Format("xm3600_captions", load, detect, "XM3600-style captions.jsonl for captioning", -1)
)
