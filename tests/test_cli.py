"""The command line: --version, and --help on every registered command (found by walking the tree)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from globelens import __version__
from globelens.cli.main import COMMANDS, app, command_tree


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and group path in the app, e.g. ('shards',), ('shards', 'stats')."""
    return [path for path, _ in command_tree()]


COMMAND_PATHS = _command_paths()


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"globelens {__version__}"


def test_every_command_module_registers_something():
    assert len(COMMAND_PATHS) > len(COMMANDS)
    assert {p[0] for p in COMMAND_PATHS if p} == set(COMMANDS)
    assert ("shards", "stats") in COMMAND_PATHS


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "globelens")
def test_help(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    # every command says what it does
    cmd = dict(command_tree())[path]
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


def test_top_level_help_loads_no_command():
    """``globelens --help`` lists every command from COMMANDS without importing its module,
    and a mistyped command is answered with the nearest names, loaded or not."""
    code = (
        "import sys; from typer.testing import CliRunner; "
        "from globelens.cli.main import COMMANDS, app; "
        "r = CliRunner().invoke(app, ['--help'], env={'COLUMNS': '200'}); "
        "assert r.exit_code == 0, r.output; "
        "assert all(f'{n} ' in r.output and c.summary in r.output for n, c in COMMANDS.items()); "
        "typo = CliRunner().invoke(app, ['audi']); "
        "assert typo.exit_code == 2 and \"Did you mean 'audit'\" in typo.output, typo.output; "
        "print(','.join(m for m in sys.modules if m.startswith('globelens.cli.') "
        "and m != 'globelens.cli.main'))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"command modules imported: {proc.stdout.strip()}"


def test_command_modules_import_at_their_top():
    """Commands load lazily, so a command module has no reason to hide its imports of
    globelens inside functions."""
    import ast

    import globelens.cli

    found = []
    for path in sorted(Path(globelens.cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                    "globelens"
                ):
                    found.append(f"{path.name}:{inner.lineno}")
    assert not found, f"function-local imports: {found}"
