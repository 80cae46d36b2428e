"""MkDocs hook: the search index also as a script, so pages opened from file:// load without
errors.

Material's theme, on a page opened from the file system, loads ``search/search_index.js``
instead of fetching the JSON index (browsers refuse fetches from file://). Its offline plugin
writes that file but also adds a script from a CDN; this hook writes only the file. From
file:// the theme then hides the search box (its worker cannot start there); served over HTTP
(``make docs-serve``) search works as usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def on_post_build(config: Any) -> None:
    """Write ``search/search_index.js`` beside the JSON index."""
    index = Path(config["site_dir"]) / "search" / "search_index.json"
    if index.is_file():
        script = "var __index = " + index.read_text(encoding="utf-8")
        index.with_suffix(".js").write_text(script, encoding="utf-8")
