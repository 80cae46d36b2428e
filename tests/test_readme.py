"""The Python examples of the README and of the documentation pages run as written, and
print what the text shows.

Every ```python block of README.md and of docs/**/*.md runs. The blocks of one group run in
order in one namespace: a documentation page is one group (a reader follows it top to
bottom), the README one group per ``## `` section. Each group runs in a fresh working
directory that :data:`SETUPS` prepares with the files its examples read (a small world at
``out/world``, model directories at ``runs/*/model``), as a reader who followed the guide up
to there would have them. A block directly followed by an ```output block must print that
output (doctest's rules: ``...`` matches anything, runs of whitespace compare equal). A block
that cannot run here says so on the line before it, ``<!-- not run: REASON -->``; the reason
is required.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
NOT_RUN = re.compile(r"^<!-- not run: (.+\S) -->$")


@dataclass
class Block:
    code: str
    #: what it must print (None: not checked)
    output: str | None = None
    #: why it does not run here (None: it runs)
    not_run: str | None = None


def readme_blocks(text: str, level: str = "## ") -> dict[str, list[Block]]:
    """{section title: [python block, ...]} with each block's expected output; a section
    starts at each heading line that begins with ``level``."""
    blocks: dict[str, list[Block]] = {}
    section = ""
    previous = ""  # last non-blank line outside code blocks
    last: Block | None = None  # the python block an ```output block would belong to
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith(level):
            section, last = line[len(level) :].strip(), None
        fence = re.match(r"^(`{3,})\s*(\w*)", line)
        if fence:
            body = []
            for inner in lines:
                if inner.startswith(fence.group(1)):
                    break
                body.append(inner)
            kind = fence.group(2)
            if kind == "python":
                reason = NOT_RUN.match(previous.strip())
                last = Block("\n".join(body) + "\n", not_run=reason.group(1) if reason else None)
                blocks.setdefault(section, []).append(last)
            elif kind == "output" and last is not None and previous == "":
                last.output = "\n".join(body) + "\n"
                last = None
            else:
                last = None
            previous = ""
            continue
        if line.strip():
            previous, last = line, None
    return blocks


def all_blocks() -> dict[str, list[Block]]:
    """Every group of blocks, named ``README.md: <section>`` or ``docs/<page>.md``."""
    groups = {
        f"README.md: {section}": blocks
        for section, blocks in readme_blocks(README.read_text(encoding="utf-8")).items()
    }
    for page in sorted(DOCS.rglob("*.md")):
        # A page is one group: its one "# " title heads it, its "## " sections share it.
        for blocks in readme_blocks(page.read_text(encoding="utf-8"), level="# ").values():
            groups.setdefault(str(page.relative_to(ROOT)), []).extend(blocks)
    return groups


BLOCKS = all_blocks()


# -- what each section's examples read -----------------------------------------------------


def _link(tmp_path: Path, name: str, target: Path) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).symlink_to(target)


def _world(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    _link(tmp_path, "out/world", request.getfixturevalue("tiny_world"))


def _models(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue("tiny_model_dir")  # a fresh tiny SigLIP (untrained)
    for run in ("globe", "en"):
        _link(tmp_path, f"runs/{run}/model", model)


def _world_and_models(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    _world(tmp_path, request)
    _models(tmp_path, request)


#: group name prefix -> what to put in its working directory first
SETUPS: dict[str, Callable[[Path, pytest.FixtureRequest], None]] = {
    "README.md: Quick tour": _models,
    "docs/getting-started.md": _models,
    "docs/curation.md": _world,
    "docs/training.md": _world,
    "docs/evaluation.md": _world_and_models,
    "docs/serving-limits.md": _models,
    "docs/worldwide-curation.md": _world,
}


def _setup(section: str) -> Callable[[Path, pytest.FixtureRequest], None] | None:
    return next((f for prefix, f in SETUPS.items() if section.startswith(prefix)), None)


def test_blocks_outputs_and_reasons_are_found() -> None:
    text = (
        "## Shards: x\n```python\na = 1\nprint(a)\n```\n\n```output\n1\n```\n"
        "## Other\n<!-- not run: needs a GPU -->\n\n```python\nb\n```\n"
        "```bash\nls\n```\n```python\nc = 2\n```\ntext\n```output\nnot this block's\n```\n"
    )
    got = readme_blocks(text)
    assert got["Shards: x"] == [Block("a = 1\nprint(a)\n", "1\n")]
    assert got["Other"] == [Block("b\n", not_run="needs a GPU"), Block("c = 2\n")]
    assert list(readme_blocks("# Page\n```python\nd\n```\n## Part\n```python\ne\n```\n",
                              level="# ")) == ["Page"]  # fmt: skip
    assert sum(len(b) for b in BLOCKS.values()) >= 15
    assert all(b.not_run is None for bs in BLOCKS.values() for b in bs if "pipeline(" in b.code)


#: a loopback URL with a fixed port: a server started in a shell, which the test run lacks
FIXED_LOCAL_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]):\d+")


def test_run_blocks_talk_only_to_servers_they_start() -> None:
    # Such a block fails with "connection refused" after the client's retries, which reads like
    # a flaky server; it says `not run` instead, and runnable ones use BackgroundServer's url.
    fixed = [
        (section, url.group())
        for section, blocks in BLOCKS.items()
        for block in blocks
        if block.not_run is None and (url := FIXED_LOCAL_URL.search(block.code))
    ]
    assert fixed == [], f"runnable blocks address a fixed local port: {fixed}"


def _matches(want: str, got: str) -> bool:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    return doctest.OutputChecker().check_output(want, got, flags)


@pytest.mark.parametrize("section", sorted(BLOCKS))
def test_readme_examples_run(
    section: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    setup = _setup(section)
    if setup is not None:
        setup(tmp_path, request)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # examples may use mkdtemp()
    monkeypatch.setenv("GLOBELENS_CACHE", str(tmp_path / ".cache"))
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for i, block in enumerate(BLOCKS[section]):
        if block.not_run is not None:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.code, f"{section} [#{i + 1}]", "exec"), namespace)
        if block.output is not None:
            assert _matches(block.output, out.getvalue()), (
                f"{section} [#{i + 1}] printed:\n{out.getvalue()}\nthe text shows:\n{block.output}"
            )
