"""ImageNet-style folders: ``<split>/<class folder>/<image>`` plus class names and templates.

Class ``i`` is the i-th class folder in sorted order (torchvision's ImageFolder rule; hidden
folders such as ``.ipynb_checkpoints`` are not classes). Names come from ``classnames.txt``
(one per line, in that order; ``wnid name, synonyms`` lines are read as wnids) when present;
else folders named by ImageNet wnids
(``n01440764``) get CLIP's zero-shot names (shipped with globelens), other wnids the first
synonym of ``LOC_synset_mapping.txt`` when present; else the folder names. Optional: ``zeroshot_classification_templates.txt`` (or ``templates.txt``),
``classnames_<lang>.txt`` and ``zeroshot_classification_templates_<lang>.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path

from globelens.data.images import IMAGE_EXTENSIONS
from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    language_files,
    read_lines,
)
from globelens.evaluate.datasets.imagenet import imagenet_names
from globelens.evaluate.datasets.registry import Format, register_format
from globelens.evaluate.templates import OPENAI_IMAGENET_TEMPLATES

SPLITS = ("test", "val", "validation")
TEMPLATE_FILES = ("zeroshot_classification_templates.txt", "templates.txt")


def _split_dir(root: Path, split: str | None) -> Path:
    if split:
        d = root / split
        if not d.is_dir():
            raise BenchmarkFormatError(
                f"imagefolder benchmark at {root}: no split folder {split!r}"
            )
        return d
    return next((root / s for s in SPLITS if (root / s).is_dir()), root)


def _class_dirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


WNID_LINE = re.compile(r"^n\d{8}\s+\S")


def synset_mapping(root: Path) -> dict[str, str]:
    """{wnid: first synonym} from the Kaggle release's ``LOC_synset_mapping.txt`` (if any)."""
    path = root / "LOC_synset_mapping.txt"
    if not path.is_file():
        return {}
    pairs = (ln.split(None, 1) for ln in read_lines(path))
    return {p[0]: p[1].split(",")[0].strip() for p in pairs if len(p) == 2}


def class_name(folder: str, mapping: dict[str, str]) -> str:
    """A class folder's zero-shot name: CLIP's for ImageNet wnids, else the mapping's, else
    the folder name (underscores read as spaces)."""
    return imagenet_names().get(folder) or mapping.get(folder) or folder.replace("_", " ")


def detect(root: Path) -> bool:
    d = _split_dir(root, None)
    dirs = _class_dirs(d) if d.is_dir() else []
    return bool(dirs) and any(
        f.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS for f in dirs[0].iterdir()
    )


def load(root: Path, split: str | None = None) -> Benchmark:
    d = _split_dir(root, split)
    dirs = _class_dirs(d)
    if not dirs:
        raise BenchmarkFormatError(f"imagefolder benchmark at {d}: no class folders")
    index_files: list[str] = []
    names_file = root / "classnames.txt"
    if names_file.is_file():
        classnames = read_lines(names_file)
        index_files.append(str(names_file))
        if all(WNID_LINE.match(n) for n in classnames):
            # LOC_synset_mapping.txt-style lines ("n01440764 tench, Tinca tinca") are not
            # prompts: CLIP's name for the wnid, else its first synonym.
            pairs = dict(n.split(None, 1) for n in classnames)
            classnames = [class_name(w, {w: v.split(",")[0].strip()}) for w, v in pairs.items()]
        if len(classnames) != len(dirs):
            raise BenchmarkFormatError(
                f"{names_file} lists {len(classnames)} class names but {d} has "
                f"{len(dirs)} class folders"
            )
    else:
        mapping = synset_mapping(root)
        classnames = [class_name(p.name, mapping) for p in dirs]
    templates = list(OPENAI_IMAGENET_TEMPLATES)
    for name in TEMPLATE_FILES:
        if (root / name).is_file():
            templates = read_lines(root / name)
            index_files.append(str(root / name))
            break
    records = []
    for label, cdir in enumerate(dirs):
        for f in sorted(cdir.iterdir()):
            if (
                f.is_file()
                and not f.name.startswith(".")
                and f.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS
            ):
                records.append(Record(id=f"{cdir.name}/{f.name}", path=str(f), labels=(label,)))
    return Benchmark(
        name=root.name,
        format="imagefolder",
        root=str(root),
        records=records,
        tasks=("zeroshot_classification",),
        classnames=classnames,
        templates=templates,
        classnames_by_lang=language_files(root, "classnames"),
        templates_by_lang=language_files(root, "zeroshot_classification_templates"),
        index_files=index_files,
    )


register_format(
    Format(
        "imagefolder",
        load,
        detect,
        "ImageNet-style <split>/<class>/<image> folders",
        priority=-1,  # any folder of image folders matches: try every other format first
    )
)
