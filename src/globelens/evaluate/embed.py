"""Image and text embeddings for a benchmark, with decoding overlapped with the model.

Worker threads read and decode images and run the model's batched ``preprocess`` (PIL and
torch release the GIL) while the main thread runs ``encode_images`` on the previous batch, so
on a model-bound run the wall time approaches the pure forward time.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice

import numpy as np
import torch

from globelens.data import ImageDecodeError, decode_image
from globelens.evaluate.benchmarks.base import Benchmark
from globelens.evaluate.cache import CachedImages, EmbeddingCache, cache_key
from globelens.models.base import DualEncoder

log = logging.getLogger(__name__)

# Part of the image cache key: change when decoding changes what pixels the model sees.
DECODE_VERSION = "pil-draft-exif-rgb-v1"


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
            data = src if isinstance(src, bytes) else open(src, "rb").read()  # noqa: SIM115
            images.append(decode_image(data, target_size=model.image_size if draft else None))
            idx.append(i)
        except ImageDecodeError as e:
            problems.append({"index": i, "reason": e.reason, "detail": e.detail})
        except OSError as e:
            problems.append({"index": i, "reason": "unreadable_image", "detail": str(e)})
    pixels = model.preprocess(images) if images else None
    return idx, pixels, problems


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
    marked invalid, each with a reason."""
    n = len(bench.records)
    workers = workers or max(1, min(4, (os.cpu_count() or 2)))
    emb: np.ndarray | None = None
    valid = np.zeros(n, dtype=bool)
    problems: list[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=f"images {bench.name}", unit="img", leave=False)
    sources = bench.iter_image_sources()
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool, torch.inference_mode():
        pending: deque[Future] = deque()
        batches = _batches(sources, batch_size)
        # Keep a few batches in flight ahead of the model: enough to hide decoding, bounded
        # so memory stays flat on large sets.
        depth = workers + 1
        for batch in islice(batches, depth):
            pending.append(pool.submit(_prepare, model, batch, draft))
        while pending:
            idx, pixels, probs = pending.popleft().result()
            nxt = next(batches, None)
            if nxt is not None:
                pending.append(pool.submit(_prepare, model, nxt, draft))
            problems.extend(probs)
            if pixels is not None:
                out = model.encode_images(pixels).float().cpu().numpy()
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
) -> np.ndarray:
    """(len(texts), D) text embeddings, encoded in batches (cached by exact texts)."""
    key = cache_key(kind="texts", model=model.fingerprint, texts=list(texts))
    if cache is not None and (hit := cache.get_texts(key)) is not None:
        return hit
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            out.append(model.encode_texts(chunk).float().cpu().numpy())
    emb = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    if cache is not None:
        cache.put_texts(key, emb)
    return emb
