"""Google Landmarks Dataset v2 as released (``cvdfoundation/google-landmark``).

Files read: ``test.csv`` (``id``), ``recognition_solution_v2.1.csv`` (``id``, ``landmarks``:
space-separated landmark ids, empty for non-landmark pictures, ``Usage``: Public, Private or
Ignored), ``retrieval_solution_v2.1.csv`` (``id``, ``images``: the index pictures showing
the same landmark), ``index_image_to_landmark.csv`` (``id``, ``landmark_id``),
``{train,index}_label_to_category.csv`` (``landmark_id``, ``category``: a Wikimedia
Commons category URL), and pictures at ``test/<a>/<b>/<c>/<id>.jpg`` (the first three
characters of the id).

Protocols (``protocol=``):

- ``recognition`` (No Filter Table 1, SigLIP 2): the test pictures with a landmark in the
  recognition solution, rows of the chosen ``usage`` (default Public + Private; Ignored rows
  are not scored by the challenge either); classes are the landmarks those rows name, in
  English (the category title: ``Category:Milad_Tower`` -> ``Milad Tower``) from
  ``train_label_to_category.csv``; several landmarks on one row count as "match any".
  Non-landmark pictures (empty ``landmarks``) are the challenge's distractors: zero-shot
  top-1 over landmark names cannot score them, so they are counted (``non_landmark``) and
  left out.
- ``retrieval`` (MetaCLIP's variant): a test picture's labels are the landmarks of the index
  pictures the retrieval solution lists for it (``index_image_to_landmark.csv``), named from
  ``index_label_to_category.csv``.

The label space comes from the solution files, never from which pictures are present.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    Record,
    missing_image,
    read_csv,
    require_file,
)
from globelens.evaluate.datasets.registry import Format, register_format

RECOGNITION = "recognition_solution_v2.1.csv"
RETRIEVAL = "retrieval_solution_v2.1.csv"
PROTOCOLS = ("recognition", "retrieval")
DEFAULT_USAGE = ("Public", "Private")


def detect(root: Path) -> bool:
    return (root / RECOGNITION).is_file() or (root / RETRIEVAL).is_file()


def category_name(category: str) -> str:
    """``http://commons.wikimedia.org/wiki/Category:Milad_Tower`` -> ``Milad Tower``."""
    return unquote(category.rsplit("Category:", 1)[-1]).replace("_", " ").strip()


def _names(root: Path, first: str) -> tuple[dict[str, str], list[str]]:
    """{landmark_id: English name} from the label-to-category files, ``first`` preferred."""
    names: dict[str, str] = {}
    files = []
    for stem in (first, "train" if first == "index" else "index"):
        p = root / f"{stem}_label_to_category.csv"
        if p.is_file():
            files.append(str(p))
            for row in read_csv(p, ("landmark_id", "category")):
                names.setdefault(row["landmark_id"].strip(), category_name(row["category"]))
    if not files:
        raise BenchmarkFormatError(
            f"gldv2 benchmark at {root}: missing file {first}_label_to_category.csv"
        )
    return names, files


def image_path(root: Path, folder: str, image_id: str) -> Path:
    base = root / folder / image_id[0] / image_id[1] / image_id[2]
    for ext in ("jpg", "jpeg", "png", "webp"):
        if (base / f"{image_id}.{ext}").is_file():
            return base / f"{image_id}.{ext}"
    return base / f"{image_id}.jpg"


def _labels_recognition(row: dict[str, str], _: dict[str, str]) -> list[str]:
    return row["landmarks"].split()


def _labels_retrieval(row: dict[str, str], index_to_lm: dict[str, str]) -> list[str]:
    images = [i for i in row["images"].split() if i != "None"]
    return sorted({index_to_lm[i] for i in images if i in index_to_lm}, key=lambda x: (len(x), x))


def load(root: Path, protocol: str = "recognition", usage: list[str] | None = None) -> Benchmark:
    """``protocol``: recognition (default) or retrieval; ``usage``: solution rows scored
    (default Public,Private; add Ignored to score those too)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"gldv2 protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    wanted = {u.lower() for u in usage or DEFAULT_USAGE}
    solution = require_file(root, RECOGNITION if protocol == "recognition" else RETRIEVAL, "gldv2")
    column = "landmarks" if protocol == "recognition" else "images"
    names, name_files = _names(root, "train" if protocol == "recognition" else "index")
    index_to_lm: dict[str, str] = {}
    index_files = [str(solution), *name_files]
    if protocol == "retrieval":
        mapping = require_file(root, "index_image_to_landmark.csv", "gldv2")
        index_to_lm = {
            r["id"]: r["landmark_id"].strip() for r in read_csv(mapping, ("id", "landmark_id"))
        }
        index_files.append(str(mapping))
    labels_of = _labels_recognition if protocol == "recognition" else _labels_retrieval
    bench = Benchmark(
        name=root.name, format="gldv2", root=str(root), records=[],
        tasks=("zeroshot_classification",), index_files=index_files, protocol=protocol,
    )  # fmt: skip
    scored: list[tuple[Record, list[str]]] = []
    for n, row in enumerate(read_csv(solution, ("id", column, "Usage")), start=2):
        rid = row["id"].strip()
        if row["Usage"].strip().lower() not in wanted:
            continue
        if len(rid) < 3:
            bench.report.add(
                str(solution), rid, "bad_id", f"line {n}: id shorter than 3 characters"
            )
            continue
        landmarks = labels_of(row, index_to_lm)
        unknown = [lm for lm in landmarks if lm not in names]
        if unknown:
            bench.report.add(str(solution), rid, "unknown_landmark", f"line {n}: {unknown}")
            landmarks = [lm for lm in landmarks if lm in names]
            if not landmarks:
                continue
        if not landmarks:
            bench.report.add(str(solution), rid, "non_landmark", f"line {n}: no landmark")
            continue
        scored.append((Record(id=rid, path=str(image_path(root, "test", rid))), landmarks))
    # The label space is every landmark the scored rows name, present pictures or not.
    used = sorted({lm for _, lms in scored for lm in lms}, key=lambda x: (len(x), x))
    label = {lm: i for i, lm in enumerate(used)}
    bench.classnames = [names[lm] for lm in used]
    for rec, landmarks in scored:
        if not Path(rec.path).is_file():
            missing_image(bench.report, root, rec.id, Path(rec.path))
        else:
            rec.labels = tuple(label[lm] for lm in landmarks)
            rec.meta = {"landmark": names[landmarks[0]]}
            bench.records.append(rec)
    return bench


register_format(
    Format("gldv2", load, detect, "GLDv2 as released: *_solution_v2.1.csv + test/a/b/c/", 2)
)
