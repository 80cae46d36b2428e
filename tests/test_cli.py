"""The command line: --version, and --help on every registered command (found by walking the tree)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from globelens import __version__
from globelens.cli.main import COMMAND_MODULES, app


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and group path in the app, e.g. ('shards',), ('shards', 'stats')."""
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = [()]

    def walk(cmd: object, prefix: tuple[str, ...]) -> None:
        # Duck-typed: recent typer vendors its own click, so isinstance(click.Group) fails.
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(root, ())
    return paths


COMMAND_PATHS = _command_paths()


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"globelens {__version__}"


def test_every_command_module_registers_something():
    assert len(COMMAND_PATHS) > len(COMMAND_MODULES)
    assert ("shards", "stats") in COMMAND_PATHS


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "globelens")
def test_help(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    # every command says what it does
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    assert (cmd.help or cmd.short_help or "").strip(), f"{' '.join(path)} has no help text"


def test_installed_entry_point():
    exe = Path(sys.executable).with_name("globelens")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "shards" in proc.stdout


def test_help_is_fast_without_heavy_imports():
    """--help must not import torch, transformers or ray (they take seconds)."""
    code = (
        "import sys; from globelens.cli.main import app; "
        "heavy = [m for m in ('torch', 'transformers', 'ray') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"imported at CLI load: {proc.stdout.strip()}"
