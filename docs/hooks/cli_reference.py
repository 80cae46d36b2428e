"""MkDocs hook: the command-line reference page, generated at build time from the typer
application itself, so a command's page and its ``--help`` cannot drift apart.

For every command and group it writes the ``--help`` text exactly as ``globelens ... --help``
prints it at :data:`WIDTH` columns, and a table of its parameters (names, type, default) read
from the same click objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from globelens.cli.main import app, command_tree

#: where the page appears in the site (a nav entry in mkdocs.yml)
PAGE = "reference/cli.md"
#: the terminal width the help texts are rendered at
WIDTH = 80
#: the environment of a plain terminal: no colour codes, a fixed width
HELP_ENV = {"COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "dumb"}


@dataclass(frozen=True)
class Command:
    """One command or group: its words after ``globelens`` and its click object."""

    path: tuple[str, ...]
    command: Any

    @property
    def name(self) -> str:
        return " ".join(("globelens", *self.path))


def commands() -> Iterator[Command]:
    """Every visible command and group, depth first, in alphabetical order."""
    for path, cmd in command_tree():
        if not getattr(cmd, "hidden", False):
            yield Command(path, cmd)


def help_text(path: tuple[str, ...]) -> str:
    """What ``globelens PATH --help`` prints in a :data:`WIDTH`-column terminal."""
    result = CliRunner().invoke(app, [*path, "--help"], env=HELP_ENV, prog_name="globelens")
    if result.exit_code != 0:
        raise RuntimeError(f"globelens {' '.join(path)} --help failed: {result.output}")
    return "\n".join(line.rstrip() for line in result.output.splitlines()).strip("\n")


def _default(param: Any) -> str:
    default = param.default
    if param.required or default is None or callable(default) or default == ():
        return ""
    if isinstance(default, bool) and param.param_type_name == "option" and param.is_flag:
        return "on" if default else "off"
    return f"`{default}`"


def _cell(text: str) -> str:
    """Help text as one table cell: Markdown's own characters escaped, so it shows as typed."""
    text = " ".join(text.split())
    for char in "\\|[]*_<`":
        text = text.replace(char, "\\" + char)
    return text


def _type(param: Any, ctx: Any) -> str:
    # typer's own parameters name their type as its help does ("<int>"); plain click ones
    # by their ParamType.
    if hasattr(param, "display_type"):
        return str(param.display_type(ctx) or "").strip("<>")
    return param.type.name


def parameters_table(command: Any) -> str:
    """A Markdown table of the command's arguments and options (``--help`` itself left out)."""
    ctx = command.context_class(command, info_name=command.name)
    rows = []
    for p in command.params:
        if getattr(p, "hidden", False) or p.name == "help":
            continue
        names = ", ".join(f"`{n}`" for n in (*p.opts, *getattr(p, "secondary_opts", ())))
        if p.param_type_name == "argument":
            names = f"`{p.metavar or p.name.upper()}`"
        kind = _type(p, ctx)
        required = "yes" if p.required else ""
        rows.append(
            f"| {names} | {kind} | {required} | {_default(p)} | "
            f"{_cell(getattr(p, 'help', None) or '')} |"
        )
    if not rows:
        return ""
    head = "| parameter | type | required | default | what it does |\n|---|---|---|---|---|\n"
    return head + "\n".join(rows) + "\n"


def _summary(command: Any) -> str:
    text = (command.help or command.short_help or "").strip()
    return text.split("\n\n")[0].replace("\n", " ")


def markdown() -> str:
    """The whole reference page."""
    parts = [
        "# Command line\n",
        "Generated from the commands themselves when the site is built: each section shows "
        f"exactly what `globelens ... --help` prints in a {WIDTH}-column terminal, then its "
        "parameters as a table. Every command also answers `--help` at the prompt.\n",
    ]
    for cmd in commands():
        level = "#" * min(2 + max(0, len(cmd.path) - 1), 4)
        parts.append(f"{level} `{cmd.name}`\n")
        parts.append(f"{_summary(cmd.command)}\n")
        parts.append(f"```text\n{help_text(cmd.path)}\n```\n")
        table = parameters_table(cmd.command)
        if table:
            parts.append(table)
    return "\n".join(parts)


def on_files(files: Any, config: Any) -> Any:
    """Add the generated page to the site's files."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=markdown()))
    return files
