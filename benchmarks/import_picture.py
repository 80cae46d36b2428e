"""The import picture of a source tree: function-local ``globelens`` imports and import circles.

    python benchmarks/import_picture.py [SRC] [--strict] [--list]

SRC (default ``src``) holds the ``globelens`` package. A function-local import is an
``import globelens...`` or ``from globelens... import`` statement inside a function body (an ast
walk). A circle is a strongly connected set of modules in the graph of module-level imports; an
import of ``a.b.c`` also runs the packages ``a`` and ``a.b`` (their ``__init__``), so it counts
as an arrow to each of them, except to the importing module's own packages (unless the
statement names one: ``from globelens.world import render`` inside ``world/plans.py``). ``--strict`` adds
the arrows of function-local imports and of ``if TYPE_CHECKING:`` blocks, as a reader of the
code sees them. ``--list`` prints the function-local imports per module.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter, defaultdict
from pathlib import Path


def modules(src: Path) -> dict[str, Path]:
    out = {}
    for f in sorted((src / "globelens").rglob("*.py")):
        parts = list(f.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def targets(node: ast.Import | ast.ImportFrom, name: str, is_pkg: bool) -> list[str]:
    """The ``globelens`` modules (or names in them) an import statement reaches."""
    if isinstance(node, ast.Import):
        found = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = name.split(".") if is_pkg else name.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join([*pkg, base] if base else pkg)
        found = [base] + [f"{base}.{a.name}" for a in node.names]
    return [t for t in found if t.startswith("globelens")]


def _nested(tree: ast.Module, kinds: tuple[type, ...]) -> set[int]:
    """ids of import statements under a node of one of ``kinds``."""
    ids = set()
    for n in ast.walk(tree):
        if isinstance(n, kinds) and not (
            isinstance(n, ast.If) and "TYPE_CHECKING" not in ast.unparse(n.test)
        ):
            ids |= {id(s) for s in ast.walk(n) if isinstance(s, ast.Import | ast.ImportFrom)}
    return ids


def picture(src: Path, strict: bool) -> tuple[Counter[str], dict[str, set[str]]]:
    mods = modules(src)
    local: Counter[str] = Counter()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, f in mods.items():
        tree = ast.parse(f.read_text())
        in_function = _nested(tree, (ast.FunctionDef, ast.AsyncFunctionDef))
        type_only = _nested(tree, (ast.If,))
        for n in ast.walk(tree):
            if not isinstance(n, ast.Import | ast.ImportFrom):
                continue
            reached = targets(n, name, f.name == "__init__.py")
            if not reached:
                continue
            if id(n) in in_function:
                local[name] += 1
            if not strict and (id(n) in in_function or id(n) in type_only):
                continue
            for t in (t for t in reached if t in mods and t != name):
                edges[name].add(t)  # even a package of its own: its __init__ may import it
                parts = t.split(".")
                for i in range(1, len(parts)):
                    p = ".".join(parts[:i])
                    if p in mods and p != name and not name.startswith(p + "."):
                        edges[name].add(p)
    return local, edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected sets of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="?", default="src")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    local, edges = picture(Path(args.src), args.strict)
    print(f"function-local globelens imports: {sum(local.values())}")
    if args.list:
        for name, n in local.most_common():
            print(f"  {n:3d} {name}")
    found = circles(edges)
    print(f"circles ({'strict' if args.strict else 'module level'}): {len(found)}")
    for c in found:
        print("  " + " ".join(m.removeprefix("globelens.") for m in c))


if __name__ == "__main__":
    main()
