"""Dynamic batching and model discovery, without HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from serve_factory import model_folder

from globelens.serve.batching import Batcher, QueueFullError
from globelens.serve.models import discover


def _double(items):
    if any(x == "boom" for x in items):
        raise ValueError("bad item in the batch")
    return [x * 2 for x in items]


async def _submit_all(batcher: Batcher, items) -> list:
    return await asyncio.gather(*(batcher.submit(x) for x in items), return_exceptions=True)


def test_concurrent_requests_share_batches() -> None:
    sizes = []
    b = Batcher("t", _double, max_batch=8, max_delay_s=0.05, on_batch=lambda n, s: sizes.append(n))
    b.start()
    try:
        out = asyncio.run(_submit_all(b, list(range(20))))
    finally:
        b.stop()
    assert out == [x * 2 for x in range(20)]
    assert max(sizes) == 8 and sum(sizes) == 20 and len(sizes) <= 5


def test_one_bad_item_fails_alone_and_the_worker_goes_on() -> None:
    b = Batcher("t", _double, max_batch=16, max_delay_s=0.05).start()
    try:
        out = asyncio.run(_submit_all(b, [1, "boom", 3, 4]))
        assert out[0] == 2 and out[2] == 6 and out[3] == 8
        assert isinstance(out[1], ValueError)
        assert b.stats.failed_items == 1
        assert b.alive()
        assert asyncio.run(_submit_all(b, [5])) == [10]  # still serving
    finally:
        b.stop()
    assert not b.alive()


def test_a_batch_function_that_returns_an_error_per_item() -> None:
    b = Batcher("t", lambda xs: [KeyError(x) if x < 0 else x for x in xs], max_delay_s=0.02)
    b.start()
    try:
        out = asyncio.run(_submit_all(b, [1, -1, 2]))
    finally:
        b.stop()
    assert out[0] == 1 and isinstance(out[1], KeyError) and out[2] == 2


def test_full_queue_is_refused_and_expired_requests_cost_nothing() -> None:
    gate = threading.Event()
    calls: list[list[int]] = []

    def slow(items):
        calls.append(list(items))
        gate.wait(5)
        return list(items)

    b = Batcher("t", slow, max_batch=1, max_delay_s=0.0, max_queue=2).start()

    async def scenario():
        first = asyncio.create_task(b.submit(0))  # taken by the worker, which then blocks
        while not calls:
            await asyncio.sleep(0.005)
        waiting = [asyncio.create_task(b.submit(i)) for i in (1, 2)]  # fills the queue
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFullError):
            await b.submit(3)
        with pytest.raises(asyncio.TimeoutError):  # gives up while queued
            await asyncio.wait_for(waiting[0], 0.05)
        gate.set()
        return await first, await waiting[1]

    try:
        assert asyncio.run(scenario()) == (0, 2)
    finally:
        gate.set()
        b.stop()
    assert [1] not in calls and b.stats.dropped_expired == 1


def test_worker_stays_alive_through_errors_outside_items() -> None:
    def broken(items):
        raise RuntimeError("always")

    b = Batcher("t", broken, max_delay_s=0.01).start()
    try:
        out = asyncio.run(_submit_all(b, [1, 2]))
        assert all(isinstance(o, RuntimeError) for o in out)
        time.sleep(0.15)
        assert b.alive()
    finally:
        b.stop()


def test_discover_finds_every_model_dir(
    tmp_path: Path, tiny_model_dir: Path, tiny_clip_dir: Path
) -> None:
    root = model_folder(
        tmp_path / "demo", {"siglip_run": tiny_model_dir, "clip_run": tiny_clip_dir}
    )
    specs = discover([str(root)])
    assert [(s.name, s.kind) for s in specs] == [
        ("runs/clip_run", "dual_encoder"),
        ("runs/siglip_run", "dual_encoder"),
    ]  # the runs' init/ starts, the checkpoint and the tokenizer folder are not served
    named = discover([f"mine={tiny_model_dir}", str(tiny_model_dir)])
    assert named[0].name == "mine" and named[1].name != "mine"
    with pytest.raises(FileNotFoundError, match="no model directory"):
        discover([str(root / "tokenizer")])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover([str(tmp_path / "nowhere")])
