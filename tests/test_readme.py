"""The README's Python examples run as written.

Every ```python block in the sections named in ALWAYS_SECTIONS runs, and so does any ```python
block elsewhere whose preceding non-blank line is ``<!-- test -->``. The blocks of one section
run in order in one namespace, in a fresh working directory.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
ALWAYS_SECTIONS = ("Shards",)  # "## " headers starting with these
MARKER = "<!-- test -->"


def readme_blocks(text: str) -> dict[str, list[str]]:
    """{section title: [python code, ...]} for the blocks that should run."""
    blocks: dict[str, list[str]] = {}
    section = ""
    previous = ""  # last non-blank line outside code blocks
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("## "):
            section = line[3:].strip()
        fence = re.match(r"^(`{3,})\s*(\w*)", line)
        if fence:
            body = []
            for inner in lines:
                if inner.startswith(fence.group(1)):
                    break
                body.append(inner)
            wanted = section.startswith(ALWAYS_SECTIONS) or previous.strip() == MARKER
            if fence.group(2) == "python" and wanted:
                blocks.setdefault(section, []).append("\n".join(body) + "\n")
            previous = ""
            continue
        if line.strip():
            previous = line
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_marker_and_sections_are_found():
    text = "## Shards: x\n```python\na = 1\n```\n## Other\n```python\nb\n```\n<!-- test -->\n\n```python\nc = 2\n```\n"
    assert readme_blocks(text) == {"Shards: x": ["a = 1\n"], "Other": ["c = 2\n"]}
    assert any(title.startswith("Shards") for title in BLOCKS)


@pytest.mark.parametrize("section", sorted(BLOCKS))
def test_readme_examples_run(section, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # examples may use mkdtemp()
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for i, code in enumerate(BLOCKS[section]):
        exec(compile(code, f"README.md [{section} #{i + 1}]", "exec"), namespace)
    capsys.readouterr()
