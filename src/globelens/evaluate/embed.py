"""Image and text embeddings for a benchmark, with decoding overlapped with the model.

On CPU, each worker thread takes a whole batch through read -> decode -> preprocess -> forward
with torch's intra-op pool cut to one thread: batch-level parallelism keeps every core busy
without the OpenMP barriers that stall a multi-threaded forward of a small model, most of all
on a machine shared with other jobs (PIL and torch release the GIL). On an accelerator, the
workers decode and preprocess while the main thread runs ``encode_images`` on the previous
batch. Either way the wall time approaches the pure forward time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby, islice
from typing import Any

import numpy as np
import torch

from globelens.data import ImageDecodeError, decode_image
from globelens.evaluate.cache import CachedImages, EmbeddingCache, cache_key
from globelens.evaluate.datasets.base import Benchmark
from globelens.evaluate.distributed import Dist, Progress, register_op, run_op
from globelens.models.base import DualEncoder
from globelens.models.preprocess import Pixels

log = logging.getLogger(__name__)

# Part of the image cache key: change when decoding changes what pixels the model sees.
DECODE_VERSION = "pil-draft-exif-rgb-v1"


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def on_cpu(model: DualEncoder) -> bool:
    """Whether the model computes on the CPU (models without a ``device`` count as CPU)."""
    return torch.device(getattr(model, "device", "cpu")).type == "cpu"


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Set torch's intra-op thread count for a block and restore it afterwards."""
    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != old:
            torch.set_num_threads(old)


def parallel_ordered(
    fn: Callable[[Any], Any], items: Iterator[Any], workers: int, depth: int
) -> Iterator[Any]:
    """``map(fn, items)`` on ``workers`` threads, results in input order, at most ``depth``
    items in flight (memory stays flat on large sets)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="eval") as pool:
        pending: deque[Future] = deque(pool.submit(fn, it) for it in islice(items, depth))
        while pending:
            result = pending.popleft().result()
            nxt = next(items, None)
            if nxt is not None:
                pending.append(pool.submit(fn, nxt))
            yield result


def _image_batches(bench: Benchmark, size: int, batches: range) -> Iterator[list]:
    """Batches ``batches`` of (record index, source): batch k holds records [k * size,
    (k + 1) * size) that have a source, whichever process reads it."""
    lo, hi = batches.start * size, batches.stop * size
    sources = ((i, s) for i, s in bench.iter_image_sources() if lo <= i < hi)
    for _, group in groupby(sources, key=lambda item: item[0] // size):
        yield list(group)


def _prepare(
    model: DualEncoder, batch: list[tuple[int, str | bytes]], draft: bool
) -> tuple[list[int], Pixels | None, list[dict]]:
    """Read + decode + preprocess one batch (runs in a worker thread)."""
    idx: list[int] = []
    images = []
    problems: list[dict] = []
    for i, src in batch:
        try:
            if isinstance(src, bytes):
                data = src
            else:
                with open(src, "rb") as fh:
                    data = fh.read()
            images.append(decode_image(data, target_size=model.image_size if draft else None))
            idx.append(i)
        except ImageDecodeError as e:
            problems.append({"index": i, "reason": e.reason, "detail": e.detail})
        except OSError as e:
            problems.append({"index": i, "reason": "unreadable_image", "detail": str(e)})
    pixels = model.preprocess(images) if images else None
    return idx, pixels, problems


def _encode(model: DualEncoder, pixels: Pixels | None) -> np.ndarray | None:
    if pixels is None:
        return None
    with torch.inference_mode():
        return model.encode_images(pixels).float().cpu().numpy()


@dataclass
class ImageShare:
    """One rank's image embeddings: rows for the records in ``indices`` (those decoded)."""

    indices: list[int]
    embeddings: np.ndarray | None
    problems: list[dict]


def _encode_share(
    model: DualEncoder,
    bench: Benchmark,
    dist: Dist,
    *,
    batch_size: int = 64,
    workers: int | None = None,
    draft: bool = True,
    progress: bool = False,
) -> ImageShare:
    """This rank's block of the benchmark's image batches, encoded."""
    cpu = on_cpu(model)
    workers = workers or (available_cpus() if cpu else max(1, min(4, available_cpus())))
    n = len(bench.records)
    bar = Progress(dist, n, f"images {bench.name}", "img", progress)
    batches = _image_batches(bench, batch_size, dist.share(-(-n // batch_size)))
    if cpu:
        # One intra-op thread per worker (see the module docstring); a single worker keeps
        # the caller's thread count and overlaps nothing.
        def work(batch: list) -> tuple[list[int], np.ndarray | None, list[dict]]:
            idx, pixels, probs = _prepare(model, batch, draft)
            return idx, _encode(model, pixels), probs

        threads = torch_threads(1) if workers > 1 else contextlib.nullcontext()
        results = parallel_ordered(work, batches, workers, 2 * workers)
    else:
        threads = contextlib.nullcontext()
        prepared = parallel_ordered(
            lambda b: _prepare(model, b, draft), batches, workers, workers + 1
        )
        results = ((i, _encode(model, px), pr) for i, px, pr in prepared)
    indices: list[int] = []
    rows: list[np.ndarray] = []
    problems: list[dict] = []
    with threads:
        for idx, out, probs in results:
            problems.extend(probs)
            if out is not None:
                indices.extend(idx)
                rows.append(out)
            bar.update(len(idx) + len(probs))
    bar.close()
    return ImageShare(indices, np.concatenate(rows) if rows else None, problems)


register_op("images", _encode_share)


def encode_benchmark_images(
    model: DualEncoder,
    bench: Benchmark,
    *,
    batch_size: int = 64,
    workers: int | None = None,
    draft: bool = True,
    progress: bool = False,
) -> CachedImages:
    """(N, D) image embeddings of every record, in record order; failures are zero rows
    marked invalid, each with a reason. Under ``torchrun`` every rank encodes its share.

    ``workers``: threads (default: one per available CPU; on CPU each runs whole batches).
    """
    shares = run_op(
        "images",
        model,
        bench,
        batch_size=batch_size,
        workers=workers,
        draft=draft,
        progress=progress,
    )
    n = len(bench.records)
    problems = [p for s in shares for p in s.problems]
    dims = [s.embeddings.shape[1] for s in shares if s.embeddings is not None]
    if not dims:
        raise ValueError(
            f"benchmark {bench.name!r}: no image could be decoded ({len(problems)} problems)"
        )
    emb = np.zeros((n, dims[0]), dtype=np.float32)
    valid = np.zeros(n, dtype=bool)
    for s in shares:
        if s.embeddings is not None:
            emb[s.indices] = s.embeddings
            valid[s.indices] = True
    for p in problems:
        p["id"] = bench.records[p["index"]].id
    return CachedImages(emb, valid, problems)


def image_embeddings(
    model: DualEncoder,
    bench: Benchmark,
    cache: EmbeddingCache | None,
    **kwargs,
) -> tuple[CachedImages, bool]:
    """Image embeddings from the cache or computed (and stored); (result, was_cached)."""
    draft = kwargs.get("draft", True)
    key = cache_key(
        kind="images",
        model=model.fingerprint,
        data=bench.identity(),
        transform={"decode": DECODE_VERSION, "draft": draft, "image_size": model.image_size},
    )
    if cache is not None and (hit := cache.get_images(key)) is not None:
        return hit, True
    t0 = time.perf_counter()
    item = encode_benchmark_images(model, bench, **kwargs)
    if cache is not None:
        cache.put_images(
            key,
            item,
            {
                "benchmark": bench.name,
                "model": model.fingerprint,
                "seconds": time.perf_counter() - t0,
            },
        )
    return item, False


def _encode_text_share(
    model: DualEncoder, bench: Any, dist: Dist, *, texts: list[str], size: int, workers: int
) -> np.ndarray | None:
    """This rank's block of the chunks of ``size`` texts, encoded (None: no chunk)."""
    n_chunks = -(-len(texts) // size)
    chunks = [texts[k * size : (k + 1) * size] for k in dist.share(n_chunks)]
    if not chunks:
        return None
    workers = workers if on_cpu(model) else 1

    def work(chunk: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model.encode_texts(chunk).float().cpu().numpy()

    threads = torch_threads(1) if workers > 1 else contextlib.nullcontext()
    with threads:
        out = list(parallel_ordered(work, iter(chunks), min(workers, len(chunks)), len(chunks)))
    return np.concatenate(out)


register_op("texts", _encode_text_share)


def text_embeddings(
    model: DualEncoder,
    texts: Sequence[str],
    cache: EmbeddingCache | None = None,
    batch_size: int = 256,
    workers: int | None = None,
) -> np.ndarray:
    """(len(texts), D) text embeddings, encoded in batches (cached by exact texts).

    On CPU the batches run on ``workers`` threads (default: one per CPU) with one intra-op
    thread each, as images do: a few prompts then cost milliseconds, not OpenMP stalls.
    """
    key = cache_key(kind="texts", model=model.fingerprint, texts=list(texts))
    if cache is not None and (hit := cache.get_texts(key)) is not None:
        return hit
    texts = list(texts)
    workers = (workers or available_cpus()) if on_cpu(model) else 1
    # Split evenly so every worker gets a share of a set smaller than workers * batch_size;
    # the split is made here, once, so that every rank encodes the same chunks.
    size = max(1, min(batch_size, -(-len(texts) // workers)))
    shares = run_op("texts", model, None, texts=texts, size=size, workers=workers)
    out = [s for s in shares if s is not None]
    emb = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    if cache is not None:
        cache.put_texts(key, emb)
    return emb
