"""VQAv2: ``v2_OpenEnded_mscoco_<subtype>_questions.json`` + ``v2_mscoco_<subtype>_annotations.json``
+ ``<subtype>/COCO_<subtype>_<image_id:012d>.jpg`` (the official release layout).

Each record (one image) has ``annotations["qa"]``: its questions with the ten answers, the
``multiple_choice_answer``, ``answer_type`` and ``question_type``. A question's language is
its ``lang`` field when present (the world's sets ask in two languages), else English. An
optional ``image_info_<subtype>.json`` (COCO image info) gives per-image group metadata.
"""

from __future__ import annotations

from pathlib import Path

from globelens.data.annotations import AnnotationError, QuestionAnswer, parse_item
from globelens.evaluate.datasets.base import Benchmark, BenchmarkFormatError, Record
from globelens.evaluate.datasets.cocojson import (
    GROUP_KEYS,
    check_image,
    first_dir,
    group_meta,
    pick_one,
    read_json,
    require_fields,
)
from globelens.evaluate.datasets.registry import Format, register_format

#: The split VQAv2 accuracy is reported on locally (test-dev needs the evaluation server).
DEFAULT_SUBTYPE = "val2014"
QUESTION_FIELDS = ("image_id", "question", "question_id")
ANNOTATION_FIELDS = (
    "question_id", "image_id", "answers", "multiple_choice_answer", "answer_type",
    "question_type",
)  # fmt: skip


def _questions_files(root: Path) -> list[Path]:
    return sorted(root.glob("*OpenEnded_mscoco_*_questions.json"))


def _subtype(questions: Path) -> str:
    return questions.name.split("_mscoco_", 1)[1].removesuffix("_questions.json")


def detect(root: Path) -> bool:
    return bool(_questions_files(root))


def _files(root: Path, subtype: str | None) -> tuple[Path, Path, str]:
    found = _questions_files(root)
    if subtype is not None:
        found = [p for p in found if f"_mscoco_{subtype}_" in p.name]
    if not found:
        want = f"v2_OpenEnded_mscoco_{subtype or '<subtype>'}_questions.json"
        raise BenchmarkFormatError(f"vqav2 benchmark at {root}: missing file {want}")
    questions = pick_one(found, _subtype, DEFAULT_SUBTYPE, f"vqav2 benchmark at {root}", "subtype")
    sub = _subtype(questions)
    prefix = "v2_" if questions.name.startswith("v2_") else ""
    annotations = root / f"{prefix}mscoco_{sub}_annotations.json"
    if not annotations.is_file():
        raise BenchmarkFormatError(
            f"vqav2 benchmark at {root}: missing file {annotations.name} (the answers; "
            "test splits have none and cannot be scored locally)"
        )
    return questions, annotations, sub


def load(
    root: Path,
    subtype: str | None = None,
    languages: list[str] | None = None,
    verify_images: bool = True,
) -> Benchmark:
    """``subtype``: e.g. ``val2014`` (the default when several are present); ``languages``: keep
    only questions in these languages; ``verify_images``: decode each image once."""
    qpath, apath, sub = _files(root, subtype)
    qdata = read_json(qpath, ("questions",))
    adata = read_json(apath, ("annotations",))
    answers_by_q: dict[int, dict] = {}
    for ann in adata["annotations"]:
        require_fields(ann, ANNOTATION_FIELDS, apath, "annotations")
        answers_by_q[int(ann["question_id"])] = ann
    info_path = root / f"image_info_{sub}.json"
    info: dict[int, dict] = {}
    index_files = [str(qpath), str(apath)]
    if info_path.is_file():
        for im in read_json(info_path, ("images",))["images"]:
            require_fields(im, ("id",), info_path, "images")
            info[int(im["id"])] = im
        index_files.append(str(info_path))
    bench = Benchmark(
        name=root.name, format="vqav2", root=str(root), records=[], tasks=("vqa",),
        index_files=index_files,
    )  # fmt: skip
    by_image: dict[int, list[QuestionAnswer]] = {}
    for q in qdata["questions"]:
        require_fields(q, QUESTION_FIELDS, qpath, "questions")
        qid = int(q["question_id"])
        ann = answers_by_q.get(qid)
        if ann is None:
            bench.report.add(str(apath), str(qid), "missing_answers", "no annotation entry")
            continue
        lang = str(q.get("lang", ann.get("lang", "en")))
        if languages is not None and lang not in languages:
            continue
        for a in ann["answers"]:
            require_fields(a, ("answer",), apath, "answers")
        answers = [str(a["answer"]) for a in ann["answers"]]
        if len(answers) != 10:  # VQAv2 has ten per question; the metric still works
            bench.report.add(str(apath), str(qid), "not_ten_answers", f"{len(answers)} answers")
        fields = {
            "question_id": qid, "question": str(q["question"]), "lang": lang,
            "answers": answers, "multiple_choice_answer": str(ann["multiple_choice_answer"]),
            "answer_type": str(ann["answer_type"]), "question_type": str(ann["question_type"]),
        }  # fmt: skip
        try:
            item = parse_item(QuestionAnswer, fields, str(qpath), f"questions[{qid}]")
        except AnnotationError as e:
            bench.report.add(str(qpath), str(qid), "bad_annotation", str(e))
            continue
        by_image.setdefault(int(q["image_id"]), []).append(item)
    image_dir = first_dir(root, [sub, "images"])
    for iid, qa in by_image.items():
        entry = info.get(iid, {})
        name = entry.get("file_name") or f"COCO_{sub}_{iid:012d}.jpg"
        img = image_dir / name
        if not check_image(bench.report, root, str(iid), img, verify_images):
            continue
        meta = {k: entry[k] for k in ("width", "height") if k in entry} | group_meta(entry)
        bench.records.append(Record(id=str(iid), path=str(img), meta=meta, annotations={"qa": qa}))
    bench.group_keys = tuple(k for k in GROUP_KEYS if any(k in r.meta for r in bench.records))
    return bench


register_format(Format("vqav2", load, detect, "VQAv2 questions + annotations JSON + images", 5))
