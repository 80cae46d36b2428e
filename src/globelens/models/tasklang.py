"""The task language: PaliGemma prompts, and the text that answers them, both ways.

The grammar the CLI, the evaluator, the trainer's targets and the server share: prompt builders
(``caption en``, ``answer en what is this?``, ``detect a ; b`` ...) and their readers, encoders
that turn typed targets into suffix text, and parsers that turn generated text back into typed
results. Encoders and parsers are inverses. The verbs are ``caption``, ``answer``,
``question``, ``detect`` and ``segment``; a task of the registry (``globelens.tasks``) with a verb of its own adds its
reader here when registered (:func:`register_prompt`), with what its answers hold (text,
boxes or masks).

Boxes are four ``<locDDDD>`` tokens (1024 bins) in the order y_min, x_min, y_max, x_max of the
image normalised to [0, 1], then the label; objects are separated by `` ; ``. Masks add 16
``<segDDD>`` tokens (a 128-entry codebook, see ``globelens.models.maskcodec``) after the box.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

LOC_BINS = 1024
SEG_CODES = 128
SEG_TOKENS_PER_MASK = 16
OBJECT_SEP = " ; "
#: masks are pasted at the picture's resolution: no larger than the safe decoder's limit
#: (``globelens.data.images.DEFAULT_MAX_PIXELS``; not imported, to keep this module light)
MAX_MASK_PIXELS = 64_000_000

#: a box in pixels of the original image: (x_min, y_min, x_max, y_max)
Box = tuple[float, float, float, float]


class MaskCodec(Protocol):
    """What the language needs of a mask codec (``globelens.models.maskcodec.MaskCodec``):
    masks to ``<segDDD>`` codes and back. A protocol, so the codec may import the language."""

    def masks_to_codes(
        self, masks: Sequence[np.ndarray], boxes: Sequence[Box]
    ) -> list[list[int]]: ...

    def codes_to_mask(
        self, codes: Sequence[int], box: Box, height: int, width: int
    ) -> np.ndarray: ...


def loc_token(i: int) -> str:
    return f"<loc{i:04d}>"


def seg_token(i: int) -> str:
    return f"<seg{i:03d}>"


# -- prompt builders ----------------------------------------------------------------------------


def caption(lang: str = "en") -> str:
    return f"caption {lang}"


def answer(question: str, lang: str = "en") -> str:
    return f"answer {lang} {question}"


def question(answer_text: str, lang: str = "en") -> str:
    return f"question {lang} {answer_text}"


def detect(labels: list[str] | tuple[str, ...]) -> str:
    return "detect " + OBJECT_SEP.join(labels)


def segment(labels: list[str] | tuple[str, ...]) -> str:
    return "segment " + OBJECT_SEP.join(labels)


# -- typed results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    label: str
    box: Box
    #: where the score comes from is stated by whoever sets it (the sequence log-probability
    #: by default, see ``parse``)
    score: float = 0.0


@dataclass(frozen=True)
class Segmentation:
    label: str
    box: Box
    #: (height, width) bool mask at the original image's resolution
    mask: np.ndarray = field(repr=False)
    score: float = 0.0


@dataclass(frozen=True)
class Invalid:
    """A part of the generated text that does not parse; counted, scored 0, never raised."""

    #: short machine-readable code: "truncated_loc", "bad_box", "bad_seg", "unknown_label", ...
    reason: str
    text: str


@dataclass
class Parsed:
    """Everything one generated text says, typed."""

    task: str
    text: str
    #: the caption, answer or question text (None for tasks whose answers are boxes or masks)
    answer: str | None = None
    objects: list[Detection | Segmentation] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)

    def invalid_counts(self) -> dict[str, int]:
        """How many invalid items of each reason this text produced."""
        return dict(Counter(item.reason for item in self.invalid))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: boxes as [x0, y0, x1, y1] pixels, masks as COCO compressed RLE."""
        objects = []
        for obj in self.objects:
            item: dict[str, Any] = {
                "label": obj.label,
                "box": [float(v) for v in obj.box],
                "score": float(obj.score),
            }
            if isinstance(obj, Segmentation):
                item["mask"] = mask_to_rle(obj.mask)
            objects.append(item)
        return {
            "task": self.task,
            "text": self.text,
            "answer": self.answer,
            "objects": objects,
            "invalid": [{"reason": i.reason, "text": i.text} for i in self.invalid],
            "invalid_counts": self.invalid_counts(),
        }


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """A (H, W) bool mask as COCO compressed RLE ``{"size": [h, w], "counts": str}``."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """The inverse of ``mask_to_rle`` (also reads COCO's uncompressed list-of-counts RLE)."""
    from pycocotools import mask as mask_utils

    if isinstance(rle.get("counts"), list):
        rle = mask_utils.frPyObjects(rle, *rle["size"])
    elif isinstance(rle.get("counts"), str):
        rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    return mask_utils.decode(rle).astype(bool)


def count_invalid(parsed: Sequence[Parsed]) -> dict[str, int]:
    """Invalid items by reason over many parsed texts (what an evaluator reports)."""
    total: Counter[str] = Counter()
    for p in parsed:
        total.update(item.reason for item in p.invalid)
    return dict(total)


# -- prompts, parsed ----------------------------------------------------------------------------

#: a language code as PaliGemma prompts carry it: ``en``, ``zh``, ``pt-BR``, ``sw``, ``fil``
_LANG_RE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class Prompt:
    """What a prompt asks. ``task`` is a registered verb or ``"free"`` for anything else."""

    task: str
    #: the language code of caption/answer/question prompts (None for the others)
    lang: str | None
    #: the question (answer), the answer (question), the label list text (detect/segment), or
    #: the whole prompt (free)
    text: str
    labels: tuple[str, ...] = ()


def _split_lang(rest: str) -> tuple[str, str] | None:
    head, _, tail = rest.partition(" ")
    if _LANG_RE.match(head):
        return head, tail.strip()
    return None


def read_caption(rest: str, raw: str) -> Prompt:
    """``caption`` / ``caption LANG``."""
    if not rest:
        return Prompt("caption", "en", "")
    if _LANG_RE.match(rest):
        return Prompt("caption", rest, "")
    return Prompt("free", None, raw)


def read_with_lang(task: str) -> PromptReader:
    """``TASK [LANG] TEXT``: the language code is part of the PaliGemma prefix; without one,
    English is meant."""

    def read(rest: str, raw: str) -> Prompt:
        split = _split_lang(rest)
        lang, body = split if split and split[1] else ("en", rest)
        return Prompt(task, lang, body) if body else Prompt("free", None, raw)

    return read


def read_labels(task: str) -> PromptReader:
    """``TASK a ; b ; c``: the labels an answer may name."""

    def read(rest: str, raw: str) -> Prompt:
        labels = tuple(_norm_label(label) for label in rest.split(";") if label.strip())
        return Prompt(task, None, rest, labels) if labels else Prompt("free", None, raw)

    return read


#: (text after the verb, whole prompt) -> what the prompt asks
PromptReader = Callable[[str, str], Prompt]
#: what an answer to a verb's prompt holds: text, labelled boxes, or boxes with masks
ANSWER_KINDS = ("text", "boxes", "masks")


@dataclass(frozen=True)
class _Verb:
    read: PromptReader
    answer: str


_VERBS: dict[str, _Verb] = {}


def register_prompt(verb: str, read: PromptReader, answer: str = "text") -> bool:
    """Make ``verb`` a prompt the language reads (``globelens.tasks`` does it for each task);
    True when it was new, False when the same reader was already there."""
    if answer not in ANSWER_KINDS:
        raise ValueError(f"answer kind {answer!r}: choose one of {', '.join(ANSWER_KINDS)}")
    known = _VERBS.get(verb)
    if known is not None:
        if known == _Verb(read, answer):
            return False
        raise ValueError(f"prompt verb {verb!r} is already registered with another reader")
    _VERBS[verb] = _Verb(read, answer)
    return True


def unregister_prompt(verb: str) -> None:
    del _VERBS[verb]


def verbs() -> tuple[str, ...]:
    """The registered prompt verbs."""
    return tuple(_VERBS)


def answer_kind(task: str) -> str:
    """What an answer to a prompt of ``task`` holds (``"text"`` for free prompts)."""
    verb = _VERBS.get(task)
    return verb.answer if verb is not None else "text"


read_answer = read_with_lang("answer")
read_question = read_with_lang("question")
read_detect = read_labels("detect")
read_segment = read_labels("segment")

# The language's own verbs (the tasks of globelens.tasks speak them; a task defined elsewhere
# adds its verb when it is registered).
register_prompt("caption", read_caption)
register_prompt("answer", read_answer)
register_prompt("question", read_question)
register_prompt("detect", read_detect, "boxes")
register_prompt("segment", read_segment, "masks")


def parse_prompt(prompt: str) -> Prompt:
    """What a prompt asks (``"detect a ; b"`` -> task detect, labels (a, b)); never raises."""
    raw = prompt.strip()
    head, _, rest = raw.partition(" ")
    verb = _VERBS.get(head.lower())
    if verb is None:
        return Prompt("free", None, raw)
    return verb.read(rest.strip(), raw)


def _norm_label(label: str) -> str:
    return " ".join(label.split())


# -- boxes --------------------------------------------------------------------------------------
# One convention both ways (big_vision's): encode round(v * 1023), decode bin / 1023. Then
# decode(encode(box)) is within half a bin of the box and encode(decode(bins)) == bins exactly.


def box_to_bins(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A pixel box (x0, y0, x1, y1) as loc bins in PaliGemma's order (y0, x0, y1, x1)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if width <= 0 or height <= 0 or not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError(f"cannot encode box {box} of a {width}x{height} image")

    def q(v: float, size: int) -> int:
        return round(min(max(v / size, 0.0), 1.0) * (LOC_BINS - 1))

    return q(y0, height), q(x0, width), q(y1, height), q(x1, width)


def bins_to_box(bins: Sequence[int], width: int, height: int) -> Box:
    """Loc bins (y0, x0, y1, x1) as a pixel box (x0, y0, x1, y1) of a width x height image."""
    y0, x0, y1, x1 = (b / (LOC_BINS - 1) for b in bins)
    return (x0 * width, y0 * height, x1 * width, y1 * height)


def encode_box(box_xyxy_pixels: Box, width: int, height: int) -> str:
    """Four loc tokens for a pixel box: ``<loc y0><loc x0><loc y1><loc x1>``."""
    return "".join(loc_token(b) for b in box_to_bins(box_xyxy_pixels, width, height))


def quantize_box(box: Box, width: int, height: int) -> Box:
    """The box the loc tokens of ``box`` decode to (what a model trained on it can say)."""
    return bins_to_box(box_to_bins(box, width, height), width, height)


def encode_detections(objects: Sequence[Detection], width: int, height: int) -> str:
    """Suffix text for detection targets: ``<loc..>x4 label ; <loc..>x4 label``."""
    return OBJECT_SEP.join(
        f"{encode_box(o.box, width, height)} {_norm_label(o.label)}" for o in objects
    )


def encode_segmentations(
    objects: Sequence[Segmentation], width: int, height: int, codec: MaskCodec
) -> str:
    """Suffix text for segmentation targets: ``<loc..>x4<seg..>x16 label ; ...``.

    Each mask is cropped to its *quantized* box (the one the loc tokens decode to), so the
    parser pastes the decoded mask back exactly where it was cut out.
    """
    if not objects:
        return ""
    boxes = [quantize_box(o.box, width, height) for o in objects]
    codes = codec.masks_to_codes([o.mask for o in objects], boxes)
    return OBJECT_SEP.join(
        encode_box(o.box, width, height)
        + "".join(seg_token(c) for c in obj_codes)
        + f" {_norm_label(o.label)}"
        for o, obj_codes in zip(objects, codes, strict=True)
    )


# -- parsing generated text ---------------------------------------------------------------------
# A small scanner, not one big regex: every piece of text lands in an object or an Invalid
# item with a reason, so nothing the model says disappears (big_vision counts `invalid`).

_SCAN_RE = re.compile(
    r"<loc(?P<loc>\d*)>|<seg(?P<seg>\d*)>|(?P<sep>;)|(?P<special></?s>|<eos>|<pad>|<bos>)"
    r"|(?P<text>[^<;]+|<)"
)


@dataclass
class _Chunk:
    locs: list[str] = field(default_factory=list)
    segs: list[str] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.locs or self.segs or "".join(self.label).strip())


def _chunks(text: str) -> list[_Chunk]:
    """Objects as the text separates them: by ``;``, or by a new loc group after a label."""
    chunks: list[_Chunk] = [_Chunk()]
    for m in _SCAN_RE.finditer(text):
        cur = chunks[-1]
        if m.group("sep") is not None:
            chunks.append(_Chunk())
            continue
        if m.group("special") is not None:
            continue
        if m.group("loc") is not None:
            if cur.segs or "".join(cur.label).strip():
                cur = _Chunk()
                chunks.append(cur)
            cur.locs.append(m.group("loc"))
        elif m.group("seg") is not None:
            cur.segs.append(m.group("seg"))
        else:
            cur.label.append(m.group("text"))
        cur.raw.append(m.group(0))
    return [c for c in chunks if not c.empty()]


def _ids(values: list[str], digits: int, limit: int) -> list[int] | None:
    if any(len(v) != digits for v in values):
        return None
    ids = [int(v) for v in values]
    return ids if all(0 <= i < limit for i in ids) else None


@dataclass(frozen=True)
class _Context:
    #: whether each object carries a mask (``<seg>`` tokens after its box)
    masks: bool
    width: int
    height: int
    codec: Any
    score: float
    labels: dict[str, str]
    #: the one object the prompt names, if it names one: an answer without a label can only
    #: be about it (what RefCOCO-tuned checkpoints say: ``<loc..>x4<seg..>x16``, no label)
    sole: str | None = None


#: what one object of the text parses to: the object (None when unusable) and, when something
#: of it could not be used, why (a box whose mask cannot be decoded is kept, with the reason)
_Parsed = tuple[Detection | Segmentation | None, Invalid | None]


def _parse_object(chunk: _Chunk, ctx: _Context) -> _Parsed:
    raw = "".join(chunk.raw).strip()
    found = _parse_box(chunk, ctx, raw)
    if isinstance(found, Invalid):
        return None, found
    det = found
    if not ctx.masks:
        return det, None
    if not chunk.segs:
        return None, Invalid("missing_seg", raw)
    codes = _ids(chunk.segs, 3, SEG_CODES)
    if codes is None:
        return None, Invalid("bad_seg", raw)
    if len(codes) != SEG_TOKENS_PER_MASK:
        reason = "truncated_seg" if len(codes) < SEG_TOKENS_PER_MASK else "extra_seg"
        return None, Invalid(reason, raw)
    if ctx.codec is None:
        return det, Invalid("no_codec", raw)
    if ctx.width * ctx.height > MAX_MASK_PIXELS:
        return det, Invalid("too_large", raw)
    mask = ctx.codec.codes_to_mask(codes, det.box, ctx.height, ctx.width)
    return Segmentation(det.label, det.box, mask, ctx.score), None


def _parse_box(chunk: _Chunk, ctx: _Context, raw: str) -> Detection | Invalid:
    """The labelled box of one object, or why there is none."""
    if not chunk.locs:
        return Invalid("no_box", raw)
    bins = _ids(chunk.locs, 4, LOC_BINS)
    if bins is None:
        return Invalid("bad_loc", raw)
    if len(bins) < 4:
        return Invalid("truncated_loc", raw)
    if len(bins) > 4:
        return Invalid("extra_loc", raw)
    y0, x0, y1, x1 = bins
    if y1 < y0 or x1 < x0:
        return Invalid("bad_box", raw)
    label = _norm_label("".join(chunk.label)) or (ctx.sole or "")
    if not label:
        return Invalid("missing_label", raw)
    if ctx.labels:
        canonical = ctx.labels.get(label.lower())
        if canonical is None:
            return Invalid("unknown_label", raw)
        label = canonical
    return Detection(label, bins_to_box(bins, ctx.width, ctx.height), ctx.score)


def _clean_answer(text: str) -> str:
    """The text without end-of-sequence and padding tokens."""
    return "".join(
        m.group(0) for m in _SCAN_RE.finditer(text) if m.group("special") is None
    ).strip()


def parse(
    prompt: str | Prompt,
    text: str,
    width: int,
    height: int,
    *,
    codec: MaskCodec | None = None,
    score: float = 0.0,
    labels: Sequence[str] | None = None,
) -> Parsed:
    """Type what a model said in answer to ``prompt`` about a width x height image.

    Never raises on the text: anything that does not parse becomes an ``Invalid`` item with a
    reason (``no_box``, ``bad_loc``, ``truncated_loc``, ``extra_loc``, ``bad_box``,
    ``missing_label``, ``unknown_label``, ``missing_seg``, ``bad_seg``, ``truncated_seg``,
    ``extra_seg``, ``no_codec``, ``too_large`` (a mask of more than ``MAX_MASK_PIXELS``),
    ``empty_answer``). A box whose mask cannot be decoded (``no_codec``, ``too_large``) is
    kept as a ``Detection`` beside that reason. Labels are checked against ``labels``, or
    the prompt's own labels when ``labels`` is None; an object without a label is the
    prompt's, when the prompt names one (a referring answer), else ``missing_label``. ``score`` is given to every object; a
    generative detector has no per-box confidence, so callers pass the sequence log-probability.
    """
    p = prompt if isinstance(prompt, Prompt) else parse_prompt(prompt)
    text = text if isinstance(text, str) else ("" if text is None else str(text))
    kind = answer_kind(p.task)
    if kind == "text":
        answer = _clean_answer(text)
        invalid = [] if answer else [Invalid("empty_answer", text)]
        return Parsed(p.task, text, answer=answer, invalid=invalid)
    allowed = p.labels if labels is None else tuple(_norm_label(x) for x in labels)
    ctx = _Context(
        kind == "masks",
        max(int(width), 1),
        max(int(height), 1),
        codec,
        float(score) if math.isfinite(score) else 0.0,
        {x.lower(): x for x in allowed},
        p.labels[0] if len(p.labels) == 1 else None,
    )
    parsed = Parsed(p.task, text)
    for chunk in _chunks(text):
        obj, problem = _parse_object(chunk, ctx)
        if obj is not None:
            parsed.objects.append(obj)
        if problem is not None:
            parsed.invalid.append(problem)
    return parsed
