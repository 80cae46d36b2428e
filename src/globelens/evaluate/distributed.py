"""Evaluation over several processes: ``torchrun --nproc-per-node N --no-python globelens eval``.

Rank 0 leads: it runs the suite as one process would, and announces each piece of heavy work
(image embeddings, text embeddings, generation) by name with its arguments. Every other rank
loads the same models and benchmarks and follows: it does its share of each announced piece
and hands it back. Shares are whole batches, split into contiguous blocks by rank, so every
batch holds the same items whatever the rank count, and the model sees exactly what one
process would have shown it. Metrics, intervals, groups, the cache and the results are then
computed and written once, by rank 0.

Everything the ranks exchange is a Python object on the CPU, so the gloo backend carries it,
on CPU and GPU nodes alike: NCCL would copy each object to a GPU and back, and a peer that
dies leaves an NCCL collective waiting for its watchdog, where gloo reports the closed
connection at once. Ranks report their failures through torchrun's rendezvous store, so the
error names the rank that stopped.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("globelens.evaluate")

#: how long a rank waits for the others inside one exchange (the slowest share, or rank 0's
#: metrics while the others wait for the next piece of work), in minutes
TIMEOUT_ENV = "GLOBELENS_DIST_TIMEOUT_MIN"
DEFAULT_TIMEOUT_MIN = 240
#: how long a rank that saw an exchange fail waits for the others to answer a roll call
ROLL_CALL_S = 3.0


class RankFailure(RuntimeError):
    """Another rank stopped or failed; the message names it."""


@dataclass
class OpError:
    """A share that raised, sent back in place of its result so that no rank is left waiting."""

    rank: int
    message: str


@dataclass
class Dist:
    """This process's place in the run (one process: rank 0 of 1, and every call is local)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    store: Any = field(default=None, repr=False)
    #: set once an exchange failed: later exchanges would only fail again
    broken: bool = False
    #: pieces of work done so far, the same count on every rank (names progress counters)
    seq: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> range:
        """This rank's contiguous block of ``n`` units (batches), the same for every run."""
        return range(n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size)

    def device(self, device: str) -> str:
        """A bare ``cuda`` becomes this rank's GPU (``cuda:LOCAL_RANK``)."""
        return f"cuda:{self.local_rank}" if self.active and device == "cuda" else device

    # -- exchanges (no-ops for one process)
    def broadcast(self, obj: Any = None) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        import torch.distributed as td

        box = [obj]
        self._exchange(lambda: td.broadcast_object_list(box, src=0))
        return box[0]

    def gather(self, part: Any) -> list[Any] | None:
        """Every rank's ``part`` in rank order on rank 0 (None on the others)."""
        if not self.active:
            return [part]
        import torch.distributed as td

        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        self._exchange(lambda: td.gather_object(part, out, dst=0))
        return out

    def _exchange(self, fn: Callable[[], None]) -> None:
        if self.broken:
            raise RankFailure(f"rank {self.rank}: the run already lost a rank")
        try:
            fn()
        except RankFailure:
            raise
        except Exception as e:  # gloo raises RuntimeError subclasses on a closed peer
            self.broken = True
            raise RankFailure(self._roll_call(e)) from e

    def _roll_call(self, error: Exception) -> str:
        """Which ranks stopped: each survivor answers in the store; the silent ones died, the
        ones that reported an error say what it was."""
        what = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        try:
            self.store.set(f"alive/{self.rank}", "1")
            deadline = time.monotonic() + ROLL_CALL_S
            while time.monotonic() < deadline:
                answered = [self._answered(r) for r in range(self.world_size)]
                if all(answered):
                    break
                time.sleep(0.1)
            failed = {r: self._failure(r) for r in range(self.world_size) if r != self.rank}
        except Exception:  # without torchrun's agent, rank 0 hosts the store: gone with it
            return f"rank 0 of {self.world_size} stopped (its rendezvous store is gone; {what})"
        gone = [
            f"rank {r} of {self.world_size} failed: {msg}"
            if msg
            else f"rank {r} of {self.world_size} stopped without a word (killed? out of memory?)"
            for r, msg in failed.items()
            if msg or not self.store.check([f"alive/{r}"])
        ]
        names = "; ".join(gone) or f"a rank stopped ({what})"
        return f"{names}; a rerun resumes from the cache"

    def _answered(self, r: int) -> bool:
        return self.store.check([f"alive/{r}"]) or self.store.check([f"failed/{r}"])

    def _failure(self, r: int) -> str:
        key = f"failed/{r}"
        return self.store.get(key).decode() if self.store.check([key]) else ""

    def report_failure(self, error: BaseException) -> None:
        """Leave this rank's error where the others look when their exchange fails."""
        if self.active and self.store is not None:
            with contextlib.suppress(Exception):
                self.store.set(f"failed/{self.rank}", f"{type(error).__name__}: {error}"[:500])

    def close(self) -> None:
        if self.active:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()


SINGLE = Dist()
_current: Dist = SINGLE


def current() -> Dist:
    """The run this process takes part in (one process unless :func:`using` says otherwise)."""
    return _current


@contextlib.contextmanager
def using(dist: Dist) -> Iterator[Dist]:
    global _current
    old, _current = _current, dist
    try:
        yield dist
    finally:
        _current = old


def init_from_env() -> Dist:
    """The rank and world size ``torchrun`` (or any launcher setting ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``) gave this process; one process when they are absent."""
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Dist()
    import torch.distributed as td

    timeout = _dt.timedelta(minutes=float(env.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_MIN)))
    # torchrun's rendezvous: under its agent every rank is a client of the agent's store,
    # otherwise rank 0 hosts it at MASTER_ADDR:MASTER_PORT.
    store, rank, world = next(td.rendezvous("env://", timeout=timeout))
    # A prefix of its own: the roll call's keys cannot collide with the launcher's.
    store = td.PrefixStore("globelens-eval/", store)
    td.init_process_group("gloo", store=store, rank=rank, world_size=world, timeout=timeout)
    return Dist(rank, world, int(env.get("LOCAL_RANK", rank)), store)


# -- named pieces of work ----------------------------------------------------------------------

#: op name -> fn(model, bench, dist, **payload) -> this rank's share of the result
OPS: dict[str, Callable[..., Any]] = {}
STOP = "stop"
ABORT = "abort"


def register_op(name: str, fn: Callable[..., Any]) -> None:
    OPS[name] = fn


def _attempt(
    name: str, model: Any, bench: Any, dist: Dist, payload: dict[str, Any]
) -> tuple[float, Any]:
    """(seconds, this rank's share or the error it raised)."""
    dist.seq += 1
    t0 = time.perf_counter()
    try:
        part = OPS[name](model, bench, dist, **payload)
    except Exception as e:  # handed back, so rank 0 names it and nobody waits forever
        log.debug("share failed", exc_info=True)
        part = OpError(dist.rank, f"{type(e).__name__}: {e}")
    return time.perf_counter() - t0, part


def run_op(name: str, model: Any, bench: Any, **payload: Any) -> list[Any]:
    """Every rank's share of op ``name``, in rank order (rank 0 calls this; the others are
    in :func:`follow`). One process: its own share, which is the whole."""
    dist = current()
    if not dist.active:
        dist.seq += 1
        return [OPS[name](model, bench, dist, **payload)]
    t0 = time.perf_counter()
    dist.broadcast((name, payload))
    timed = dist.gather(_attempt(name, model, bench, dist, payload)) or []
    for _, p in timed:
        if isinstance(p, OpError):
            raise RankFailure(f"rank {p.rank} of {dist.world_size} failed in {name}: {p.message}")
    # How long each rank took shows an uneven split (a slow GPU, a node under load).
    event = {"event": "shares", "op": name, "benchmark": getattr(bench, "name", None)}
    event |= {"ranks": dist.world_size, "seconds": round(time.perf_counter() - t0, 3)}
    log.info(json.dumps(event | {"rank_seconds": [round(s, 3) for s, _ in timed]}))
    return [p for _, p in timed]


def follow(dist: Dist, model: Any, bench: Any) -> None:
    """A follower's side of one (model, benchmark): do each announced share until rank 0 is
    done with it."""
    while True:
        msg = dist.broadcast(None)
        if msg == STOP:
            return
        if isinstance(msg, tuple) and msg[0] == ABORT:
            raise RankFailure(f"rank 0 stopped the run: {msg[1]}")
        name, payload = msg
        dist.gather(_attempt(name, model, bench, dist, payload))


@contextlib.contextmanager
def lead(dist: Dist) -> Iterator[None]:
    """Rank 0's side of one (model, benchmark): release the followers when done, or stop
    them with the reason when rank 0 fails."""
    try:
        yield
    except Exception as e:
        if dist.active and not dist.broken:
            with contextlib.suppress(RankFailure):
                dist.broadcast((ABORT, f"{type(e).__name__}: {e}"))
        raise
    if dist.active:
        dist.broadcast(STOP)


# -- one progress bar for all ranks ------------------------------------------------------------


class Progress:
    """Rank 0 shows one bar for the whole piece of work, fed by every rank through the
    store: the rates it shows (items/s, and answers/s for generation) are the totals."""

    def __init__(self, dist: Dist, total: int, desc: str, unit: str, show: bool) -> None:
        self.dist, self.key, self.bar = dist, f"progress/{dist.seq}", None
        self.t0 = time.perf_counter()
        self.done = [0, 0]  # items, answers
        if show and dist.is_main:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def update(self, n: int, answers: int = 0) -> None:
        self.done = [self.done[0] + n, self.done[1] + answers]
        totals = self.done
        if self.dist.active and self.dist.store is not None:
            with contextlib.suppress(Exception):  # a bar is never worth failing a run
                totals = [
                    int(self.dist.store.add(f"{self.key}/{i}", v))
                    for i, v in enumerate((n, answers))
                ]
        if self.bar is not None:
            self.bar.update(totals[0] - self.bar.n)
            el = max(time.perf_counter() - self.t0, 1e-9)
            rates = [f"{totals[0] / el:.1f} {self.bar.unit}/s"]
            rates += [f"{totals[1] / el:.1f} answers/s"] if totals[1] else []
            ranks = f" on {self.dist.world_size} ranks" if self.dist.active else ""
            self.bar.set_postfix_str(", ".join(rates) + ranks)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
