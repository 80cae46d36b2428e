"""A scene's annotations, typed: what the generative tasks train on and are scored against.

One record for what a sample's ``.json`` (the world's scene shards, any img2dataset shard
with the same keys) and the generative benchmarks (COCO detection, VQAv2, RefCOCO) carry:

- ``captions``: ``{lang: [caption, ...]}``
- ``objects``: ``[{label, bbox [x, y, w, h] pixels, segmentation (COCO RLE), category_id}]``
- ``qa``: ``[{question, lang, answers [str], multiple_choice_answer, answer_type}]``
- ``refs``: ``[{sent, lang, bbox, segmentation}]``

Keys a writer adds beyond these (``area``, ``question_id``, ``ref_id`` ...) are kept. A value
of the wrong shape is an :class:`AnnotationError` naming the file and the key
(``objects[2].bbox``), where the scene is read: a training sample is counted and left out
under ``bad_annotation``, a benchmark entry is reported with its file, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: COCO's [x, y, w, h] in pixels
XYWH = tuple[float, float, float, float]


class AnnotationError(ValueError):
    """A scene's annotations that do not have the documented shape."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: annotation {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


class _Item(BaseModel):
    # frozen: read by many; extra keys kept (a writer's ids, areas, categories)
    model_config = ConfigDict(frozen=True, extra="allow")


class AnnotatedObject(_Item):
    """One object of the picture: its class, box and (optionally) mask."""

    label: str
    bbox: XYWH | None = None
    #: COCO RLE ``{"size": [h, w], "counts": str | [int]}``
    segmentation: dict[str, Any] | None = None
    category_id: int | None = None
    area: float | None = None
    iscrowd: int = 0


class QuestionAnswer(_Item):
    """One VQAv2-style question with its human answers."""

    question: str
    lang: str = "en"
    answers: tuple[str, ...] = ()
    #: the most common human answer (what training targets say)
    multiple_choice_answer: str = ""
    answer_type: str = ""
    #: VQAv2's question type ("what is this", "how many", ...), when the set has one
    question_type: str = ""


class ReferringExpression(_Item):
    """One sentence naming one object (RefCOCO), with the object's box and mask."""

    sent: str
    lang: str = "en"
    bbox: XYWH | None = None
    segmentation: dict[str, Any] | None = None


class Annotations(BaseModel):
    """Everything a scene says about its picture, besides its group metadata."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    captions: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    objects: tuple[AnnotatedObject, ...] = ()
    qa: tuple[QuestionAnswer, ...] = ()
    refs: tuple[ReferringExpression, ...] = ()

    @field_validator("captions", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # a single caption per language is as common as a list of them
        if isinstance(value, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "<annotations>") -> Annotations:
        """The annotations of a sample's ``.json`` (other keys ignored); a missing key is
        empty, a malformed one an :class:`AnnotationError` naming ``source`` and the key."""
        try:
            return cls.model_validate({k: v for k, v in data.items() if v is not None})
        except ValidationError as e:
            raise _error(e, source) from None


Item = TypeVar("Item", AnnotatedObject, QuestionAnswer, ReferringExpression)


def parse_item(model: type[Item], data: Mapping[str, Any], source: str, key: str) -> Item:
    """One object, question or referring expression (what a benchmark loader builds), typed;
    a malformed one is an :class:`AnnotationError` naming ``source`` and ``key``."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise _error(e, source, key) from None


def _error(e: ValidationError, source: str, prefix: str = "") -> AnnotationError:
    first = e.errors()[0]
    key = prefix
    for part in first["loc"]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return AnnotationError(source, key or "<root>", first["msg"])


#: the typed items of a benchmark record's ``annotations``, by key
ITEM_TYPES: dict[str, type[Any]] = {
    "objects": AnnotatedObject,
    "qa": QuestionAnswer,
    "refs": ReferringExpression,
}


def typed_items(key: str, items: Any, source: str) -> list[Any]:
    """The items under ``key`` (objects, qa or refs), typed: dicts are validated, typed items
    kept; a malformed one is an :class:`AnnotationError` naming ``source`` and ``key[i]``."""
    model = ITEM_TYPES[key]
    if not isinstance(items, list | tuple):
        raise AnnotationError(source, key, f"expected a list, got {type(items).__name__}")
    return [
        item if isinstance(item, model) else parse_item(model, item, source, f"{key}[{k}]")
        for k, item in enumerate(items)
    ]
