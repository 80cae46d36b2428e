"""Babel-ImageNet as released (``gregor-ge/Babel-ImageNet``): ImageNet-1k zero-shot with class
names in ~300 languages, linked through BabelNet without machine translation.

Files read: ``babel_imagenet-298.json`` (or ``babel_imagenet.json``): ``{"FR": [[class
indices], [names]], ...}``, each language naming only the ImageNet classes it has a word for
(a *partial label set*); optionally ``<prompts>.json`` (``{"FR": ["une photo de {}.", ...]}``,
the release's translated prompts). The pictures are the ImageNet-1k validation set in any
layout the ``imagenet`` format reads (the Kaggle flat folder or class folders), in the same
folder or at ``images=`` (a folder, relative to this one unless absolute); class indices are
positions in its sorted-wnid class order.

Protocol (the release's ``eval_babel_imagenet.py``): a language is scored on the pictures of
the classes it names, classified over those classes only, top-1; the headline is the mean
over languages, beside the worst language. ``EN`` (when asked for in ``languages=``) is the
full 1,000 classes with CLIP's English names. ``prompts=``: ``label`` (the bare name, the
release's default), ``openai_en`` (CLIP's 80 English templates for every language), or the
stem of a prompts file in the folder; the result names it as its protocol.
"""

from __future__ import annotations

import json
from pathlib import Path

from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError
from globelens.evaluate.datasets.registry import FORMATS, Format, register_format
from globelens.evaluate.templates import OPENAI_IMAGENET_TEMPLATES

LABEL_FILES = ("babel_imagenet-298.json", "babel_imagenet.json")


def detect(root: Path) -> bool:
    return any((root / f).is_file() for f in LABEL_FILES)


def _label_file(root: Path) -> Path:
    for f in LABEL_FILES:
        if (root / f).is_file():
            return root / f
    raise BenchmarkFormatError(
        f"babel_imagenet benchmark at {root}: missing file {LABEL_FILES[0]!r}"
    )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as e:
        raise BenchmarkFormatError(f"{path.name}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise BenchmarkFormatError(f"{path.name}: expected an object keyed by language")
    return data


def _label_set(lang: str, entry: object, n_classes: int, where: str) -> dict[int, str]:
    """``[[indices], [names]]`` -> {class index: name}, checked."""
    if not (isinstance(entry, list) and len(entry) == 2 and len(entry[0]) == len(entry[1])):
        raise BenchmarkFormatError(
            f"{where}: language {lang!r} must hold [[class indices], [names]] of equal length"
        )
    out: dict[int, str] = {}
    for idx, name in zip(entry[0], entry[1], strict=True):
        if not isinstance(idx, int) or not 0 <= idx < n_classes:
            raise BenchmarkFormatError(f"{where}: language {lang!r} names class {idx!r}")
        out[idx] = str(name).strip()
    return out


def _images(root: Path, images: str | None) -> Benchmark:
    """The pictures: the first other format that recognises the folder (ImageNet's, or a
    class-indexed WebDataset set such as the world's western set)."""
    folder = root if images is None else root / images  # an absolute ``images`` stays itself
    formats = sorted(FORMATS.values(), key=lambda f: -f.priority)
    fmt = next(
        (f for f in formats if f.name != "babel_imagenet" and folder.is_dir() and f.detect(folder)),
        None,
    )
    if fmt is None:
        raise BenchmarkFormatError(
            f"babel_imagenet benchmark at {root}: no ImageNet pictures at {folder} "
            "(pass images=FOLDER: the validation set in an imagenet or wds layout)"
        )
    bench = fmt.load(folder)
    if not bench.classnames:
        raise BenchmarkFormatError(f"babel_imagenet: the pictures at {folder} have no classes")
    return bench


def _templates(root: Path, prompts: str, langs: list[str]) -> dict[str, list[str]]:
    if prompts == "label":
        return {lang: ["{}"] for lang in langs}
    if prompts == "openai_en":
        return {lang: list(OPENAI_IMAGENET_TEMPLATES) for lang in langs}
    path = root / f"{prompts}.json"
    if not path.is_file():
        raise ValueError(
            f"babel_imagenet prompts {prompts!r}: use label, openai_en or the stem of a "
            f"prompts file in {root} (no {path.name})"
        )
    data = {k.upper(): v for k, v in _read_json(path).items()}
    missing = [lang for lang in langs if lang != "EN" and lang not in data]
    if missing:
        raise BenchmarkFormatError(f"{path.name} has no prompts for {', '.join(missing)}")
    return {lang: list(data.get(lang) or OPENAI_IMAGENET_TEMPLATES) for lang in langs}


def load(
    root: Path,
    languages: list[str] | None = None,
    prompts: str = "label",
    images: str | None = None,
) -> Benchmark:
    """``languages``: codes to score (default: every language of the label file; ``EN`` adds
    the full English set); ``prompts``: label, openai_en or a prompts file's stem;
    ``images``: the ImageNet validation folder (default: this folder)."""
    label_file = _label_file(root)
    table = {str(k).upper(): v for k, v in _read_json(label_file).items()}
    wanted = [x.upper() for x in languages] if languages else list(table)
    unknown = [x for x in wanted if x not in table and x != "EN"]
    if unknown:
        raise ValueError(
            f"babel_imagenet: no language {', '.join(unknown)} in {label_file.name} "
            f"({len(table)} languages, e.g. {', '.join(list(table)[:8])})"
        )
    bench = _images(root, images)
    n = len(bench.classnames or [])
    sets = {
        lang: dict(enumerate(bench.classnames or [])) if lang == "EN" and lang not in table
        else _label_set(lang, table[lang], n, label_file.name)
        for lang in wanted
    }  # fmt: skip
    templates = _templates(root, prompts, wanted)
    bench.name, bench.format, bench.root = root.name, "babel_imagenet", str(root)
    bench.tasks = ("multilingual_zeroshot",)
    bench.label_sets = {lang.lower(): s for lang, s in sets.items()}
    bench.templates_by_lang = {lang.lower(): t for lang, t in templates.items()}
    bench.index_files = [str(label_file), *bench.index_files]
    bench.protocol = prompts
    return bench


register_format(
    Format("babel_imagenet", load, detect, "Babel-ImageNet: babel_imagenet-298.json + ImageNet", 3)
)
