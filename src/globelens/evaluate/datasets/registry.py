"""Benchmark formats and named benchmarks, by name (no if-chains over formats)."""

from __future__ import annotations

import inspect
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError
from globelens.evaluate.datasets.pictures import ORIGINAL, check_pictures
from globelens.options import check_keywords

Loader = Callable[..., Benchmark]


@dataclass(frozen=True)
class Format:
    """An on-disk benchmark format: how to recognise a folder and how to load it."""

    name: str
    load: Loader
    #: True when a folder looks like this format (used for bare paths)
    detect: Callable[[Path], bool]
    description: str
    #: detection order for bare folders: higher first (catch-all formats go last)
    priority: int = 0


@dataclass(frozen=True)
class Named:
    """A benchmark known by name: its format and its folder relative to the data root."""

    format: str
    relpath: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""


FORMATS: dict[str, Format] = {}
NAMED: dict[str, Named] = {}


def register_format(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


def register_benchmark(name: str, named: Named) -> None:
    NAMED[name] = named


def available() -> list[str]:
    """Every name ``load_benchmark`` accepts besides paths."""
    return sorted(NAMED)


def _unknown(spec: str) -> ValueError:
    return ValueError(
        f"unknown benchmark {spec!r}. Available benchmarks: {', '.join(available())}. "
        f"Or give a folder, optionally as FORMAT:PATH with FORMAT one of: {', '.join(sorted(FORMATS))}"
    )


#: the option every format takes: what replaces each picture (``pictures=blank``: the
#: prior-only baseline, ``globelens.evaluate.datasets.pictures``)
PICTURES_OPTION = "pictures"


def split_options(spec: str) -> tuple[str, dict[str, str]]:
    """``NAME?key=value&key=value`` -> (``NAME``, {key: value}); values stay strings here and
    are converted by :func:`loader_options` against the loader that takes them. A spec that is
    an existing path is never split (a folder may contain ``?``)."""
    base, sep, query = spec.partition("?")
    if not sep or os.path.exists(spec):
        return spec, {}
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs and query:
        raise ValueError(f"benchmark {spec!r}: options must read key=value&key=value")
    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options:
            raise ValueError(f"benchmark {spec!r}: option {key!r} given twice")
        options[key] = value
    return base, options


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(value: str, hint: Any, key: str) -> Any:
    """A command-line string as the type a loader parameter declares."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value.lower() in ("", "none") and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is bool:
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"option {key}={value!r}: expected true or false")
        return value.lower() in _TRUE
    if hint in (int, float):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"option {key}={value!r}: expected a {hint.__name__}") from None
    if typing.get_origin(hint) in (list, tuple):
        # ``+`` (a space once decoded) separates items inside a comma-separated --benchmarks
        # list; commas work where the spec stands alone.
        return [v for v in re.split(r"[,\s]+", value) if v]
    return value


def loader_options(fmt_name: str, options: dict[str, Any], display: str) -> dict[str, Any]:
    """``options`` checked against the format's loader (a typo fails naming the valid keys,
    like recipe keys) and converted from spec strings to the types its signature declares."""
    loader = FORMATS[fmt_name].load
    root = next(iter(inspect.signature(loader).parameters))  # the folder; the rest are options
    check_keywords(loader, options, f"benchmark {display!r} ({fmt_name} format)", skip=(root,))
    hints = typing.get_type_hints(loader)
    return {
        k: _convert(v, hints.get(k, str), k) if isinstance(v, str) else v
        for k, v in options.items()
    }


def resolve(spec: str, data_root: str | os.PathLike | None = None) -> tuple[str, Path, dict, str]:
    """(format, folder, options, display name) for a benchmark spec.

    ``spec`` is a registered name (``world/geode``, ``dollarstreet``: folder under
    ``data_root``), ``FORMAT:PATH``, or a folder whose format is detected from its files;
    any of them may end in ``?key=value&key=value``, the loader's options (the display name
    keeps them, so two settings of one set never share a result file).
    """
    base, spec_options = split_options(spec)
    fmt_name, path, options, display = _resolve_base(base, data_root)
    if spec_options:
        options.update(spec_options)
        display = f"{display}?{spec.partition('?')[2]}"
    return fmt_name, path, options, display


def _resolve_base(spec: str, data_root: str | os.PathLike | None) -> tuple[str, Path, dict, str]:
    if spec in NAMED:
        named = NAMED[spec]
        if data_root is None:
            raise ValueError(
                f"benchmark {spec!r} lives under a data root (expected <root>/{named.relpath}); "
                "pass --data-root (for world/* sets: the folder `globelens world build` wrote)"
            )
        root = Path(data_root)
        candidates = [root / named.relpath]
        # A world dir given as its benchmarks/ folder works as well.
        if named.relpath.startswith("benchmarks/"):
            candidates.append(root / named.relpath.removeprefix("benchmarks/"))
        for c in candidates:
            if c.is_dir():
                return named.format, c, dict(named.options), spec
        raise FileNotFoundError(
            f"benchmark {spec!r}: folder {candidates[0]} does not exist (data root {root})"
        )
    fmt_name, sep, rest = spec.partition(":")
    if sep and fmt_name in FORMATS and not os.path.exists(spec):
        path = Path(rest)
        if not path.is_dir():
            raise FileNotFoundError(f"benchmark {spec!r}: folder {path} does not exist")
        return fmt_name, path, {}, f"{fmt_name}:{path.name}"
    path = Path(spec)
    if path.is_dir():
        for fmt in sorted(FORMATS.values(), key=lambda f: -f.priority):
            if fmt.detect(path):
                return fmt.name, path, {}, path.name
        raise ValueError(
            f"cannot tell the format of benchmark folder {path}; prefix it with one of "
            f"{', '.join(sorted(FORMATS))} (e.g. geode:{path})"
        )
    raise _unknown(spec)


def load_benchmark(
    spec: str, data_root: str | os.PathLike | None = None, **options: Any
) -> Benchmark:
    """Load a benchmark by name, ``FORMAT:PATH`` or folder (see :func:`resolve`)."""
    fmt_name, path, opts, display = resolve(spec, data_root)
    opts.update(options)
    pictures = check_pictures(opts.pop(PICTURES_OPTION, ORIGINAL))
    bench = FORMATS[fmt_name].load(path, **loader_options(fmt_name, opts, display))
    bench.name = display
    if pictures != ORIGINAL:
        bench.pictures = pictures
        bench.protocol = "; ".join(p for p in (bench.protocol, f"pictures={pictures}") if p)
    if not bench.records:
        # Said here, with the reasons, rather than later as "no image could be decoded".
        problems = bench.report.problems
        why = ", ".join(f"{k}: {v}" for k, v in sorted(bench.report.counts().items()))
        first = f"; first: {problems[0].detail}" if problems else ""
        raise BenchmarkFormatError(
            f"benchmark {display!r} has no usable records ({why or 'the files list none'}{first})"
        )
    return bench


def check_spec(spec: str, data_root: str | os.PathLike | None = None) -> None:
    """Fail before any model loads when a spec names no set or an option its loader lacks."""
    fmt_name, _, opts, display = resolve(spec, data_root)
    check_pictures(opts.pop(PICTURES_OPTION, ORIGINAL))
    loader_options(fmt_name, opts, display)
