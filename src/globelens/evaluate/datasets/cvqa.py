"""CVQA as released on Hugging Face (``afaji/cvqa``): culturally specific multiple-choice
questions about pictures from 30 countries in 31 languages.

Files read: ``data/test-NNNNN-of-NNNNN.parquet`` (or the converter's ``default/test/NNNN.parquet``)
with the pictures inside and the columns ``ID``, ``Subset`` (a language-country pair written
as a Python tuple: ``"('Japanese', 'Japan')"``), ``Question`` (in the local language),
``Translated Question`` (English), ``Options`` and ``Translated Options`` (four answers each),
``Label`` (the right option, 0-3), ``Category``. The public test split ships ``Label = -1``
(answers are scored by the authors' leaderboard): such rows are counted (``hidden_label``)
and left out, so a copy with its answers is needed to score here.

``questions=``: ``local`` (the LOCAL version), ``en`` (the English one) or ``both`` (the
default: each picture asked both ways, reported apart); the result names it as its protocol.
Each record's ``meta`` has ``language`` (the local language's name), ``country`` and
``category``; its ``annotations["mcq"]`` the questions (:class:`MultipleChoice`).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from globelens.evaluate.datasets.base import (
    Benchmark,
    BenchmarkFormatError,
    MultipleChoice,
    Record,
    parse_list,
)
from globelens.evaluate.datasets.registry import Format, register_format

COLUMNS = ("ID", "Subset", "Question", "Translated Question", "Options", "Translated Options",
           "Label")  # fmt: skip
#: ``questions=`` -> the versions asked and the protocol name written into results
VERSIONS = {"local": (("local",), "local"), "en": (("en",), "english"),
            "both": (("local", "en"), "local+english")}  # fmt: skip
N_OPTIONS = 4
#: CVQA's (and the world's) language names -> the codes task prompts use (``answer sw ...``);
#: ISO 639-1 where there is one, else 639-3. A name not here is prompted as English.
LANGUAGE_CODES = {
    "Amharic": "am", "Arabic": "ar", "Bengali": "bn", "Breton": "br", "Bulgarian": "bg",
    "Chinese": "zh", "English": "en", "Filipino": "fil", "French": "fr", "German": "de",
    "Hausa": "ha", "Hindi": "hi", "Igbo": "ig", "Indonesian": "id", "Irish": "ga",
    "Italian": "it", "Japanese": "ja", "Javanese": "jv", "Kinyarwanda": "rw", "Korean": "ko",
    "Malay": "ms", "Marathi": "mr", "Minangkabau": "min", "Mongolian": "mn", "Norwegian": "no",
    "Oromo": "om", "Persian": "fa", "Portuguese": "pt", "Romanian": "ro", "Russian": "ru",
    "Sinhala": "si", "Spanish": "es", "Sundanese": "su", "Swahili": "sw", "Tamil": "ta",
    "Telugu": "te", "Thai": "th", "Turkish": "tr", "Urdu": "ur", "Vietnamese": "vi",
    "Yoruba": "yo",
}  # fmt: skip


def parquet_files(root: Path) -> list[Path]:
    """The Hub's ``data/*.parquet`` (or the converter's nested copies), in name order."""
    return sorted(root.glob("data/*.parquet")) or sorted(root.rglob("*.parquet"))


def has_columns(root: Path, needed: set[str]) -> bool:
    files = parquet_files(root)
    return bool(files) and needed <= set(pq.ParquetFile(files[0]).schema_arrow.names)


def detect(root: Path) -> bool:
    return has_columns(root, {"Translated Question", "Translated Options", "Subset"})


def subset(value: str) -> tuple[str, str]:
    """``"('Japanese', 'Japan')"`` -> ("Japanese", "Japan")."""
    try:
        parts = [str(p).strip() for p in parse_list(value)]
    except (ValueError, SyntaxError):
        parts = []
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"Subset {value!r} is not a (language, country) pair")
    return parts[0], parts[1]


def _row(row: dict, versions: tuple[str, ...]) -> tuple[Record | None, str]:
    """A record for one row, or None and the reason it cannot be scored."""
    try:
        language, country = subset(str(row["Subset"]))
    except ValueError as e:
        return None, f"bad_subset: {e}"
    label = row["Label"]
    if label is None or int(label) < 0:
        return None, "hidden_label: the public split withholds the answer"
    code = LANGUAGE_CODES.get(language, language)
    asked = {"local": (row["Question"], row["Options"], code),
             "en": (row["Translated Question"], row["Translated Options"], "en")}  # fmt: skip
    mcq = []
    for version in versions:
        question, options, lang = asked[version]
        options = [str(o).strip() for o in options or []]
        if len(options) != N_OPTIONS or not all(options):
            return None, f"bad_options: {version} has {len(options)} options, some empty"
        if not 0 <= int(label) < len(options):
            return None, f"bad_label: {label}"
        if not str(question or "").strip():
            return None, f"missing_question: {version}"
        mcq.append(MultipleChoice(" ".join(str(question).split()), tuple(options), int(label),
                                  version, lang, str(row["ID"])))  # fmt: skip
    meta = {"language": language, "country": country, "category": str(row.get("Category") or "")}
    return Record(id=str(row["ID"]), meta=meta, annotations={"mcq": mcq}), ""


def load(root: Path, questions: str = "both") -> Benchmark:
    """``questions``: local, en or both (default)."""
    if questions not in VERSIONS:
        raise ValueError(f"cvqa questions {questions!r}: use one of {', '.join(VERSIONS)}")
    versions, protocol = VERSIONS[questions]
    files = parquet_files(root)
    if not files:
        raise BenchmarkFormatError(f"cvqa benchmark at {root}: no data/*.parquet files")
    bench = Benchmark(
        name=root.name, format="cvqa", root=str(root), records=[], tasks=("multiple_choice",),
        parquet=[str(p) for p in files], protocol=protocol,
    )  # fmt: skip
    seen: set[str] = set()
    for f, path in enumerate(files):
        names = pq.ParquetFile(path).schema_arrow.names
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise BenchmarkFormatError(f"{path.name} has no column(s) {missing} (cvqa)")
        cols = [c for c in names if c != "image"]
        for n, row in enumerate(pq.read_table(path, columns=cols).to_pylist()):
            rec, why = _row(row, versions)
            rid = str(row["ID"])
            if rec is None:
                reason, _, detail = why.partition(": ")
                bench.report.add(str(path), rid, reason, f"row {n}: {detail}")
                continue
            if rid in seen:
                bench.report.add(str(path), rid, "duplicate_id", f"row {n}")
                continue
            seen.add(rid)
            rec.meta["_parquet"] = (f, n)
            bench.records.append(rec)
    return bench


register_format(Format("cvqa", load, detect, "CVQA: Hugging Face parquet (afaji/cvqa)", -1))
