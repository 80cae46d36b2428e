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
from itertools import islice
from typing import Any

import numpy as np
import torch

from globelens.data import ImageDecodeError, decode_image
from globelens.evaluate.benchmarks.base import Benchmark
from globelens.evaluate.cache import CachedImages, EmbeddingCache, cache_key
from globelens.models.base import DualEncoder

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


def _batches(it: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(it, size)):
        yield batch


def _prepare(
    model: DualEncoder, batch: list[tuple[int, str | bytes]], draft: bool
) -> tuple[list[int], torch.Tensor | None, list[dict]]:
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


def _encode(model: DualEncoder, pixels: torch.Tensor | None) -> np.ndarray | None:
    if pixels is None:
        return None
    with torch.inference_mode():
        return model.encode_images(pixels).float().cpu().numpy()


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
    marked invalid, each with a reason.

    ``workers``: threads (default: one per available CPU; on CPU each runs whole batches).
    """
    n = len(bench.records)
    cpu = on_cpu(model)
    workers = workers or (available_cpus() if cpu else max(1, min(4, available_cpus())))
    emb: np.ndarray | None = None
    valid = np.zeros(n, dtype=bool)
    problems: list[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=f"images {bench.name}", unit="img", leave=False)
    batches = _batches(bench.iter_image_sources(), batch_size)
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
    with threads:
        for idx, out, probs in results:
            problems.extend(probs)
            if out is not None:
                if emb is None:
                    emb = np.zeros((n, out.shape[1]), dtype=np.float32)
                emb[idx] = out
                valid[idx] = True
            if bar is not None:
                bar.update(len(idx) + len(probs))
    if bar is not None:
        bar.close()
    if emb is None:
        raise ValueError(
            f"benchmark {bench.name!r}: no image could be decoded ({len(problems)} problems)"
        )
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
    cpu = on_cpu(model)
    workers = (workers or available_cpus()) if cpu else 1
    # Split evenly so every worker gets a share of a set smaller than workers * batch_size.
    size = max(1, min(batch_size, -(-len(texts) // workers)))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]

    def work(chunk: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model.encode_texts(chunk).float().cpu().numpy()

    threads = torch_threads(1) if cpu and workers > 1 else contextlib.nullcontext()
    with threads:
        out = list(parallel_ordered(work, iter(chunks), min(workers, len(chunks)), len(chunks)))
    emb = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    if cache is not None:
        cache.put_texts(key, emb)
    return emb
