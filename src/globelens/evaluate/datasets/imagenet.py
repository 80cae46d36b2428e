"""The 1,000 ImageNet-1k classes as CLIP-style zero-shot evaluation names them.

``imagenet_classes.txt`` holds ``wnid<TAB>name`` lines in the standard order (wnids sorted, as
torchvision's ImageFolder and ``LOC_synset_mapping.txt`` number them); the names are the ones
OpenAI's CLIP notebook introduced and open_clip / CLIP_benchmark ship, cleaned of WordNet's
ambiguities ("crane bird", "kite (bird of prey)"). SigLIP, No Filter and DataComp score
ImageNet and Dollar Street over these names.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

CLASSES_FILE = Path(__file__).with_name("imagenet_classes.txt")


@cache
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """(wnid, zero-shot name) for the 1,000 classes, in class-index order."""
    rows = []
    for line in CLASSES_FILE.read_text(encoding="utf-8").splitlines():
        wnid, name = line.split("\t")
        rows.append((wnid, name))
    return tuple(rows)


def imagenet_names() -> dict[str, str]:
    """{wnid: zero-shot name} for the 1,000 classes."""
    return dict(imagenet_classes())
