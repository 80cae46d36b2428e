"""The documentation site: it builds offline with warnings as errors, every page is in the
navigation and every navigation entry is a page, a broken link or a missing page fails the
build, the command-line reference shows exactly what each command's ``--help`` prints, and
the site opens (served, and from the file system) and searches in Chromium without console
errors."""

from __future__ import annotations

import functools
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from globelens.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: pages made at build time rather than read from docs/
GENERATED = {"reference/cli.md"}
#: CPU seconds the build may take: it runs in every test run (about 3.5 today)
BUILD_BUDGET_S = 30


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "hooks/cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``make docs``' command: ``mkdocs build --strict`` (offline; nothing is fetched)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    before = os.times()
    proc = build(ROOT / "mkdocs.yml", out)
    after = os.times()
    assert proc.returncode == 0, proc.stderr
    # CPU time, not wall time: a loaded machine stretches the one, not the other.
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    assert cpu < BUILD_BUDGET_S, f"the site took {cpu:.1f} CPU-s to build"
    return out


def _nav_pages(nav: Any) -> list[str]:
    """Every page file of a mkdocs ``nav`` (nested sections included)."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    return []


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = _nav_pages(config["nav"])
    assert len(nav) == len(set(nav)), "a page is in the nav twice"
    files = {
        str(p.relative_to(DOCS))
        for p in DOCS.rglob("*.md")
        if p.relative_to(DOCS).parts[0] != "hooks"
    }
    assert sorted(set(nav) - files - GENERATED) == [], "nav entries without a page"
    assert sorted(files - set(nav)) == [], "pages left out of the nav"
    # The theme loads no fonts from the network.
    assert config["theme"]["font"] is False


def test_the_site_builds_offline_with_every_page(site: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    for page in _nav_pages(config["nav"]):
        assert (site / page).with_suffix(".html").is_file(), page
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not remote.search(text), f"{page.name} loads something from the network"
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text
    api = (site / "reference/api.html").read_text(encoding="utf-8")
    for name in ("globelens.data.read_shards", "globelens.data.ShardWriter",
                 "globelens.evaluate.run_suite", "globelens.models.tasklang.parse_prompt",
                 "globelens.train.config.TrainConfig", "globelens.serve.create_app"):  # fmt: skip
        assert f'id="{name}"' in api, f"{name} is missing from the Python API page"


def test_a_broken_link_or_a_missing_page_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    (tmp_path / "src").symlink_to(ROOT / "src")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("  - Development: development.md\n",
                            "  - Development: development.md\n  - Gone: gone.md\n")  # fmt: skip
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    # The docstrings are not what is checked here: a one-line API page halves the build.
    (tmp_path / "docs/reference/api.md").write_text("# Python API\n", encoding="utf-8")
    data = tmp_path / "docs/data.md"
    data.write_text(data.read_text(encoding="utf-8") + "\nSee [nowhere](nowhere.md).\n")
    proc = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode != 0
    assert "'nowhere.md'" in proc.stderr and "gone.md" in proc.stderr, proc.stderr


def _code_blocks(page: str) -> list[str]:
    """The text of every ``<pre>`` block of a built page, as a reader sees it."""
    blocks = re.findall(r"<pre\b[^>]*>(.*?)</pre>", page, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", b)).strip("\n") for b in blocks]


def test_the_cli_reference_shows_each_commands_help(site: Path) -> None:
    hook = _hook()
    page = (site / "reference/cli.html").read_text(encoding="utf-8")
    blocks = _code_blocks(page)
    commands = list(hook.commands())
    assert len(commands) > 15 and ("shards", "stats") in {c.path for c in commands}
    for cmd in commands:
        # What a user's terminal shows, asked here and now, not the text the build stored.
        result = CliRunner().invoke(app, [*cmd.path, "--help"], env=hook.HELP_ENV,
                                    prog_name="globelens")  # fmt: skip
        assert result.exit_code == 0, result.output
        shown = "\n".join(line.rstrip() for line in result.output.splitlines()).strip("\n")
        assert shown in blocks, f"the page's `{cmd.name} --help` differs from the command's"
        anchor = "-".join(cmd.name.split())
        assert f'id="{anchor}"' in page, anchor
        for param in cmd.command.params:
            for opt in param.opts if param.param_type_name == "option" else ():
                assert f"<code>{html.escape(opt)}</code>" in page, (cmd.name, opt)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # no access log in test output
        pass


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site on a loopback HTTP server (as ``make docs-serve`` serves it)."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_the_site_opens_and_searches_in_chromium(
    site: Path, served: str, request: pytest.FixtureRequest
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    from conftest import console_errors

    chrome = request.getfixturevalue("chrome")  # skips, saying why, without Chromium
    for page in ("index.html", "reference/cli.html", "reference/api.html", "study.html"):
        chrome.get(served + page)
        assert chrome.find_element("tag name", "h1").text, page
        assert console_errors(chrome) == [], page
    # Straight from the file system too (without search: its worker needs a server).
    chrome.get((site / "data.html").as_uri())
    assert chrome.find_element("tag name", "h1").text == "Shards: the data layer"
    assert console_errors(chrome) == []
    chrome.get(served + "index.html")
    query = chrome.find_element("css selector", "input[data-md-component='search-query']")
    query.click()
    query.send_keys("ShardWriter")
    results = WebDriverWait(chrome, 20).until(
        lambda d: d.find_elements("css selector", ".md-search-result__item")
    )
    assert any("ShardWriter" in r.text for r in results), [r.text for r in results]
    assert console_errors(chrome) == []
