"""Batched, cached generation over a benchmark: (record, prompt) requests -> generated text.

Images are read and decoded in worker threads while the model generates for the previous
chunk; every request of a chunk goes to one ``Generator.generate`` call (the model batches it
with the KV cache). Answers are cached in one JSON file per (model fingerprint, benchmark
identity, decode settings), keyed inside by record id and exact prompt: a re-run that changes
only the metric, or adds a prompt, generates nothing or only what is new. A chunk the model
fails on is counted with its reason and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from globelens.data import ImageDecodeError, decode_image
from globelens.data.atomic import atomic_write_text
from globelens.evaluate.cache import cache_key
from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.distributed import Dist, Progress, register_op, run_op
from globelens.evaluate.embed import available_cpus, parallel_ordered
from globelens.models.base import Generator

log = logging.getLogger("globelens.evaluate")

# Part of the cache key: change when decoding changes what pixels the model sees.
GEN_DECODE_VERSION = "pil-full-exif-rgb-v1"
#: longest generated text kept (a model that never stops cannot fill the disk)
MAX_TEXT_CHARS = 4096
#: fingerprints that do not identify weights (``HFGenerator.from_loaded``'s default)
UNCACHEABLE = frozenset({"", "live"})
NONFINITE_SCORE = -1e30


def default_generation_cache_dir() -> Path:
    """``$GLOBELENS_CACHE/generations``, else ``~/.cache/globelens/generations``."""
    base = os.environ.get("GLOBELENS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "globelens"
    )
    return Path(base) / "generations"


@dataclass(frozen=True)
class DecodeSettings:
    """How text is generated; part of the cache key."""

    max_new_tokens: int = 32
    num_beams: int = 1

    @classmethod
    def from_options(cls, options: Mapping[str, Any], max_new_tokens: int) -> DecodeSettings:
        """A task's settings: ``options`` (``--max-new-tokens``, ``--num-beams``) over the
        task's own default length (answers are shorter than detections)."""
        return cls(
            int(options.get("max_new_tokens", max_new_tokens)), int(options.get("num_beams", 1))
        )

    def to_json(self) -> dict[str, int]:
        return {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}


@dataclass(frozen=True)
class Request:
    """Generate an answer to ``prompt`` about record ``index``'s image."""

    index: int
    prompt: str


@dataclass
class Answer:
    """What the model said (``text`` None when the image or the model call failed)."""

    text: str | None
    logprob: float = 0.0
    n_tokens: int = 0
    #: (width, height) of the decoded image, what boxes are parsed against
    size: tuple[int, int] | None = None
    error: str = ""


@dataclass
class GenerationRun:
    """Answers aligned with the requests, plus how they were obtained."""

    answers: list[Answer]
    generated: int = 0
    cached: int = 0
    seconds: float = 0.0
    images: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "cached": self.cached,
            "generation_s": round(self.seconds, 3),
            "images_per_s": round(self.images / self.seconds, 2) if self.seconds > 0 else None,
        }


def _entry_key(record_id: str, prompt: str) -> str:
    return hashlib.sha256(f"{record_id}\0{prompt}".encode()).hexdigest()[:24]


class GenerationCache:
    """Generated answers as JSON files under ``root`` (never pickle)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_generation_cache_dir()

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def parts(self, key: str) -> list[Path]:
        """Checkpoints of runs still generating (or stopped): ``KEY.part-RANK.json``."""
        return sorted(self.root.glob(f"{key}.part-*.json"))

    def load(self, key: str) -> dict[str, Any]:
        """Every answer stored under ``key``: the finished file and any checkpoints."""
        entries: dict[str, Any] = {}
        for path in [self.path(key), *self.parts(key)]:
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(obj, dict) and isinstance(obj.get("entries"), dict):
                entries.update(obj["entries"])
        return entries

    def save_part(self, key: str, rank: int, entries: dict[str, Any]) -> None:
        """A checkpoint of one process's new answers, so that a stopped run resumes."""
        self.save(f"{key}.part-{rank}", entries, {"checkpoint": True})

    def drop_parts(self, key: str) -> None:
        """Remove the checkpoints once :meth:`save` holds their answers."""
        for path in self.parts(key):
            path.unlink(missing_ok=True)

    def save(self, key: str, entries: dict[str, Any], info: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)  # made on first use, not by every run
        # unique temporary names: several runs may share one cache folder
        atomic_write_text(
            self.path(key),
            json.dumps({"info": info, "entries": entries}, ensure_ascii=False),
            unique=True,
        )


def _decode(item: tuple[int, str | bytes]) -> tuple[int, Any, str]:
    i, src = item
    try:
        data = src if isinstance(src, bytes) else Path(src).read_bytes()
        return i, decode_image(data), ""
    except ImageDecodeError as e:
        return i, None, e.reason
    except OSError:
        return i, None, "unreadable_image"


def _images(bench: Benchmark, wanted: set[int], workers: int) -> Iterator[tuple[int, Any, str]]:
    """(record index, PIL image or None, problem reason) for the wanted records, in order."""
    sources = ((i, s) for i, s in bench.iter_image_sources() if i in wanted)
    yield from parallel_ordered(_decode, sources, workers, 4 * workers)


@dataclass
class GenerationShare:
    """One rank's answers, by request position."""

    answers: dict[int, Answer]
    generated: int = 0
    images: int = 0


def _plan(todo: dict[int, list[int]], n: int) -> list[list[int]]:
    """Record indices in chunks of at least ``n`` requests, whole images at a time, cut as
    :func:`_take_requests` cuts them: a share of whole chunks holds the same chunks."""
    chunks: list[list[int]] = [[]]
    count = 0
    for i in sorted(todo):
        chunks[-1].append(i)
        count += len(todo[i])
        if count >= n:
            chunks.append([])
            count = 0
    return [c for c in chunks if c]


def _entry(ans: Answer) -> dict[str, Any]:
    return {"text": ans.text, "logprob": ans.logprob, "n_tokens": ans.n_tokens,
            "size": list(ans.size or ())}  # fmt: skip


def run_generation(
    model: Generator,
    bench: Benchmark,
    requests: Sequence[Request],
    settings: DecodeSettings = DecodeSettings(),
    cache: GenerationCache | None = None,
    *,
    batch_size: int = 16,
    workers: int | None = None,
    progress: bool = False,
    desc: str = "generate",
) -> GenerationRun:
    """Answers to every request (cached ones first), generated in chunks of ``batch_size``;
    under ``torchrun`` every rank generates its share of the chunks."""
    if model.fingerprint in UNCACHEABLE:
        cache = None  # an in-memory model that keeps training: its answers go stale
    key = cache_key(
        kind="generations",
        model=model.fingerprint,
        data=bench.identity(),
        decode=GEN_DECODE_VERSION,
        settings=asdict(settings),
    )
    entries = cache.load(key) if cache is not None else {}
    ids = [bench.records[r.index].id for r in requests]
    answers: list[Answer | None] = [None] * len(requests)
    todo: dict[int, list[int]] = {}  # record index -> request positions still to generate
    for pos, (r, rid) in enumerate(zip(requests, ids, strict=True)):
        hit = entries.get(_entry_key(rid, r.prompt))
        if hit is not None:
            answers[pos] = Answer(hit["text"], hit["logprob"], hit["n_tokens"], tuple(hit["size"]))
        else:
            todo.setdefault(r.index, []).append(pos)
    run = GenerationRun([], cached=len(requests) - sum(len(v) for v in todo.values()))
    if todo:
        t0 = time.perf_counter()
        shares = run_op(
            "generate",
            model,
            bench,
            requests=list(requests),
            todo=todo,
            settings=settings,
            batch_size=batch_size,
            workers=workers,
            progress=progress,
            desc=desc,
            checkpoint=(cache, key) if cache is not None else None,
        )
        for share in shares:
            for pos, ans in share.answers.items():
                answers[pos] = ans
                if ans.text is not None:
                    entries[_entry_key(ids[pos], requests[pos].prompt)] = _entry(ans)
            run.generated += share.generated
            run.images += share.images
        run.seconds = time.perf_counter() - t0
        if cache is not None:
            cache.save(key, entries, {"benchmark": bench.name, "model": model.fingerprint})
            cache.drop_parts(key)
    for pos, a in enumerate(answers):
        if a is None:  # the image never came out of the benchmark's sources
            answers[pos] = Answer(None, error="missing_image")
    run.answers = [a for a in answers if a is not None]
    for pos, a in enumerate(run.answers):
        if a.text is None:
            run.problems.append({"id": ids[pos], "prompt": requests[pos].prompt, "reason": a.error})
    return run


def _generate_share(
    model: Generator,
    bench: Benchmark,
    dist: Dist,
    *,
    requests: Sequence[Request],
    todo: dict[int, list[int]],
    settings: DecodeSettings,
    batch_size: int,
    workers: int | None,
    progress: bool,
    desc: str,
    checkpoint: tuple[GenerationCache, str] | None,
) -> GenerationShare:
    """This rank's block of the chunks of ``todo``, generated; new answers are checkpointed
    every 30 s and when the share is done (another rank may still fail)."""
    chunks = _plan(todo, batch_size)
    mine = {i: todo[i] for k in dist.share(len(chunks)) for i in chunks[k]}
    share = GenerationShare({})
    new: dict[str, Any] = {}
    bar = Progress(dist, len(todo), f"{desc} {bench.name}", "img", progress)
    last_save = time.monotonic()
    images = _images(bench, set(mine), workers or max(1, min(4, available_cpus())))
    while chunk := _take_requests(images, mine, batch_size):
        good = [(pos, im) for pos, im, _ in chunk if im is not None]
        for pos, _im, reason in chunk:
            if reason:
                share.answers[pos] = Answer(None, error=reason)
        if good:
            texts = _generate(model, good, requests, settings, batch_size)
            for (pos, im), gen in zip(good, texts, strict=True):
                if gen is None:
                    share.answers[pos] = Answer(None, size=im.size, error="generation_error")
                    continue
                ans = share.answers[pos] = Answer(*gen, size=im.size)
                new[_entry_key(bench.records[requests[pos].index].id, requests[pos].prompt)] = (
                    _entry(ans)
                )
            share.generated += len(good)
        n_img = len({requests[pos].index for pos, _, _ in chunk})
        share.images += n_img
        bar.update(n_img, len(good))
        if checkpoint is not None and time.monotonic() - last_save > 30:
            checkpoint[0].save_part(checkpoint[1], dist.rank, new)
            last_save = time.monotonic()
    bar.close()
    if checkpoint is not None and dist.active and new:
        checkpoint[0].save_part(checkpoint[1], dist.rank, new)
    return share


register_op("generate", _generate_share)


def _take_requests(
    images: Iterator[tuple[int, Any, str]], todo: dict[int, list[int]], n: int
) -> list[tuple[int, Any, str]]:
    """At least ``n`` (request position, image, problem) triples, whole images at a time."""
    out: list[tuple[int, Any, str]] = []
    for i, im, reason in images:
        out.extend((pos, im, reason) for pos in todo[i])
        if len(out) >= n:
            break
    return out


def _checked(gen: Any) -> tuple[str, float, int]:
    """(text, finite log-probability, token count) of one Generation; raises on a malformed
    one (the whole call is then counted as failed)."""
    text = gen.text
    if not isinstance(text, str):
        raise TypeError(f"Generation.text is {type(text).__name__}, not str")
    lp = float(gen.logprob)
    # a NaN or infinite score ranks last (boxes are ranked by it), never first
    return text[:MAX_TEXT_CHARS], lp if math.isfinite(lp) else NONFINITE_SCORE, len(gen.token_ids)


def _generate(
    model: Generator,
    good: list[tuple[int, Any]],
    requests: Sequence[Request],
    settings: DecodeSettings,
    batch_size: int,
) -> list[Any]:
    """One ``generate`` call; a failing model call is counted per request, never raised."""
    images = [im for _, im in good]
    prompts = [requests[pos].prompt for pos, _ in good]
    try:
        out = model.generate(
            images,
            prompts,
            max_new_tokens=settings.max_new_tokens,
            num_beams=settings.num_beams,
            batch_size=batch_size,
        )
        if len(out) != len(prompts):
            raise RuntimeError(f"generate returned {len(out)} answers for {len(prompts)} prompts")
        return [_checked(g) for g in out]
    except Exception as e:  # a long run never dies on one bad batch; it is counted instead
        log.warning(json.dumps({"event": "generation_error", "error": f"{type(e).__name__}: {e}"}))
        return [None] * len(prompts)


__all__ = [
    "Answer",
    "DecodeSettings",
    "GenerationCache",
    "GenerationRun",
    "Request",
    "run_generation",
]
