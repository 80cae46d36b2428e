"""Load test of ``globelens serve`` on loopback: dynamic batching against one request at a time,
and a soak of normal traffic beside hostile traffic.

    .venv/bin/python benchmarks/bench_serve.py [--model DIR] [--requests 2000] [--rounds 2]
                                               [--concurrency 32] [--rss-requests 10000]
    .venv/bin/python benchmarks/bench_serve.py --soak [--soak-seconds 60] [--concurrency 16]

Starts the real CLI (``python -m globelens serve MODEL --port 0``) twice per round, with
``--max-batch 32`` and ``--max-batch 1``, and drives each with ``--concurrency`` clients that
keep one zero-shot classification request each in flight (servers with one torch thread) (a 64x64 PNG, five labels) until
``--requests`` have been answered: requests/s and p50/p99 latency, as ``vllm bench serve``
reports them at fixed concurrency. Rounds alternate the two settings so a noisy machine hurts
both alike. Then one batched server answers ``--rss-requests`` more while its resident memory
is sampled every 1,000 requests. Bounded: every phase stops after its request count (or its
time limit), and every server is stopped. Without ``--model`` a tiny random SigLIP is built.

``--soak``: one server (default limits, ``--body-timeout 2``) answers ``--concurrency`` normal
clients for ``--soak-seconds`` alone; then as long beside attacks it refuses (64 stalled bodies,
each sending headers and one byte and reconnecting after its 408; a solid 6000x6000 PNG; JSON
nested 1,000 deep; a lone surrogate); then as long beside the heaviest requests within the
limits (a picture at the pixel limit; embeddings of 40 of them). Reported per phase:
requests/s, p50/p99 and status codes of each kind of client; and the server's RSS after warm-up,
at its peak and after the bursts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

LABELS = ["a red bus", "a bowl of rice", "a dog sleeping", "a kitchen stove", "a bed"]


def tiny_model(root: Path) -> Path:
    from globelens.models import build_model, train_tokenizer

    texts = [*LABELS, "a photo of a street", "a house with a roof"] * 4
    train_tokenizer(texts, vocab_size=300, out_dir=root / "tok", languages=["en"] * len(texts))
    return build_model("tiny", root / "tok", root / "model", seed=0)


def request_body(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, format="PNG")
    image = base64.b64encode(buf.getvalue()).decode()
    return json.dumps({"image": image, "labels": LABELS}).encode()


class Server:
    """``globelens serve`` in a subprocess on a free port."""

    def __init__(
        self, model: Path, max_batch: int, concurrency: int, extra: Sequence[str] = ()
    ) -> None:
        cmd = [sys.executable, "-m", "globelens", "serve", str(model), "--port", "0"]
        cmd += ["--max-batch", str(max_batch), "--log-level", "warning"]
        # one torch thread: on a shared machine spinning OpenMP threads cost more than they
        # bring; a long timeout, so the one-at-a-time queue is measured rather than cut at 504
        cmd += ["--max-concurrency", str(concurrency * 4), "--threads", "1"]
        cmd += [*(extra or ["--timeout", "900"])]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.url = ""
        for line in self.proc.stdout:
            if "listening on" in line:
                self.url = line.strip().rsplit(" ", 1)[-1]
                break
        if not self.url:
            raise RuntimeError("the server did not start")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/ready", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


async def load(
    url: str,
    body: bytes,
    n: int,
    concurrency: int,
    time_limit: float,
    on_progress=None,
) -> dict[str, float]:
    """``concurrency`` clients, each with one request in flight, until ``n`` are answered.

    aiohttp (a dependency of Ray Serve) rather than httpx: the load generator shares the
    machine with the server, and httpx costs several times more CPU per request."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    issued = 0
    headers = {"content-type": "application/json"}
    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=900)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal issued, errors
            while issued < n and time.perf_counter() - t0 < time_limit:
                issued += 1
                start = time.perf_counter()
                async with client.post("/v1/classify", data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - start)
                if on_progress is not None:
                    on_progress(len(latencies))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
    }


# -- the soak -------------------------------------------------------------------------------

#: stalled connections the soak holds open at once
STALLED = 64
JSON_TYPE = {"content-type": "application/json"}


def solid_png(width: int, height: int) -> bytes:
    """A real PNG of one colour: tiny on the wire, ``width * height * 4`` bytes decoded."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def hostile_bodies(side: int) -> dict[str, dict[str, tuple[str, bytes]]]:
    """Hostile requests, name -> (route, JSON body), in two groups: ``refused`` ones (a decode
    bomb over the pixel limit, JSON nested 1,000 deep, a lone surrogate) and ``heavy`` ones
    that are within the limits and cost the most (pictures at the pixel limit)."""
    bomb = base64.b64encode(solid_png(6000, 6000)).decode()
    at_limit = base64.b64encode(solid_png(side, side)).decode()
    small = base64.b64encode(solid_png(64, 64)).decode()
    return {
        "refused": {
            "bomb_6000px": ("/v1/classify", json.dumps({"image": bomb, "labels": LABELS})),
            "deep_json": ("/v1/classify", "[" * 1000 + "]" * 1000),
            "lone_surrogate": ("/v1/classify", f'{{"image": "{small}", "labels": ["\\ud800"]}}'),
        },
        "heavy": {
            "at_pixel_limit": ("/v1/classify", json.dumps({"image": at_limit, "labels": LABELS})),
            "embed_40_at_limit": (
                "/v1/embeddings",
                json.dumps({"input": [at_limit] * 40, "modality": "image"}),
            ),
        },
    }


class Tally:
    """Status codes and latencies of one kind of client."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.latencies: list[float] = []

    def add(self, code: str, seconds: float) -> None:
        self.codes[code] = self.codes.get(code, 0) + 1
        self.latencies.append(seconds)

    def summary(self, elapsed: float) -> dict[str, Any]:
        lat = np.array(self.latencies or [0.0]) * 1000
        return {
            "requests": len(self.latencies),
            "rps": round(len(self.latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "codes": dict(sorted(self.codes.items())),
        }


async def _poster(session: Any, route: str, body: bytes, tally: Tally, until: float) -> None:
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            async with session.post(route, data=body, headers=JSON_TYPE) as r:
                await r.read()
                code = str(r.status)
        except Exception as e:  # a dropped connection is a result too
            code = type(e).__name__
        tally.add(code, time.perf_counter() - t0)


async def _staller(host: str, port: int, tally: Tally, until: float) -> None:
    head = (
        f"POST /v1/classify HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n{"
    ).encode()
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(head)
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 120)
            code = line.split()[1].decode() if line else "closed"
            writer.close()
        except Exception as e:
            code = type(e).__name__
        tally.add(code, time.perf_counter() - t0)


async def _sample_rss(server: Server, samples: list[float], until: float) -> None:
    while time.monotonic() < until:
        samples.append(server.rss_mb())
        await asyncio.sleep(0.25)


async def soak_phase(
    server: Server,
    seconds: float,
    concurrency: int,
    hostile: dict[str, tuple[str, str]],
    stalled: int = 0,
) -> dict[str, Any]:
    """Normal clients for ``seconds``, with ``stalled`` stalled bodies and one client for each
    hostile request beside them."""
    import aiohttp

    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    until = time.monotonic() + seconds
    normal, stalls, rss = Tally(), Tally(), [server.rss_mb()]
    tallies = {name: Tally() for name in hostile}
    connector = aiohttp.TCPConnector(limit=concurrency + len(hostile))
    timeout = aiohttp.ClientTimeout(total=120)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(server.url, connector=connector, timeout=timeout) as s:
        body = request_body()
        tasks = [_poster(s, "/v1/classify", body, normal, until) for _ in range(concurrency)]
        tasks.append(_sample_rss(server, rss, until))
        tasks += [_staller(host, int(port), stalls, until) for _ in range(stalled)]
        tasks += [_poster(s, r, b.encode(), tallies[n], until) for n, (r, b) in hostile.items()]
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    out: dict[str, Any] = {"normal": normal.summary(elapsed), "rss_peak_mb": round(max(rss), 1)}
    if stalled:
        out["stalled_bodies"] = stalls.summary(elapsed)
    return out | {name: t.summary(elapsed) for name, t in tallies.items()}


def soak(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The normal clients alone, beside refused attacks, beside heavy pictures; RSS warm,
    peak, and after."""
    from globelens.serve.config import Limits

    side = int(Limits().pixel_limit(48) ** 0.5)  # the tiny model looks at 48 px
    hostile = hostile_bodies(side)
    server = Server(model, 32, args.concurrency, extra=["--body-timeout", "2", "--timeout", "30"])
    phases: dict[str, Any] = {}
    try:
        asyncio.run(load(server.url, request_body(), 500, args.concurrency, args.time_limit))
        first_warm = server.rss_mb()
        # warm every code path once (the PNG decoder, resizing large pictures): a one-time
        # ~60 MB that stays flat over any number of bursts after it
        for route, body in (*hostile["refused"].values(), *hostile["heavy"].values()):
            httpx.post(server.url + route, content=body, timeout=120, headers=JSON_TYPE)
        run = args.soak_seconds, args.concurrency
        phases["normal_alone"] = asyncio.run(soak_phase(server, *run, {}))
        warm = server.rss_mb()  # after as long a run of normal traffic as the hostile ones
        phases["with_refused_attacks"] = asyncio.run(
            soak_phase(server, *run, hostile["refused"], STALLED)
        )
        phases["with_heavy_pictures"] = asyncio.run(soak_phase(server, *run, hostile["heavy"]))
        time.sleep(3)  # the burst is over: what is kept
        after = server.rss_mb()
        cpu = server.cpu_seconds()
    finally:
        server.stop()
    peak = max(p["rss_peak_mb"] for p in phases.values())
    return {
        "seconds_per_phase": args.soak_seconds,
        "concurrency": args.concurrency,
        "stalled_connections": STALLED,
        **phases,
        "rss_mb": {
            "after_normal_warmup": round(first_warm, 1),
            "warm": round(warm, 1),
            "peak": peak,
            "after": round(after, 1),
        },
        "rss_after_vs_warm": round(after / warm, 3),
        "server_cpu_s": round(cpu, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="dual encoder dir (default: a tiny SigLIP)")
    ap.add_argument("--requests", type=int, default=2000, help="per setting and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rss-requests", type=int, default=10_000)
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per phase")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--soak", action="store_true", help="run the soak instead")
    ap.add_argument("--soak-seconds", type=float, default=60.0, help="per soak phase")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-serve-")
    model = args.model or tiny_model(Path(tmp.name))
    if args.soak:
        summary = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}
        summary |= soak(model, args)
        summary["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
        summary["cpus"] = os.cpu_count()
        print(json.dumps(summary, indent=1))
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))
        tmp.cleanup()
        return 0
    body = request_body()
    results: dict[str, list[dict[str, float]]] = {"batched": [], "one_at_a_time": []}
    for r in range(args.rounds):
        for name, max_batch in (("batched", 32), ("one_at_a_time", 1)):
            server = Server(model, max_batch, args.concurrency)
            try:
                # warm the connection pool and the server's caches, then measure
                asyncio.run(load(server.url, body, 64, args.concurrency, args.time_limit))
                cpu0, client0 = server.cpu_seconds(), time.process_time()
                res = asyncio.run(
                    load(server.url, body, args.requests, args.concurrency, args.time_limit)
                )
                # CPU per answered request: where the time goes on a shared machine
                n = max(res["requests"], 1)
                res["server_cpu_ms"] = round((server.cpu_seconds() - cpu0) / n * 1000, 2)
                res["client_cpu_ms"] = round((time.process_time() - client0) / n * 1000, 2)
            finally:
                server.stop()
            results[name].append(res)
            print(f"round {r} {name:14s} {json.dumps(res)}", flush=True)

    def best(name: str) -> dict[str, float]:
        return max(results[name], key=lambda x: x["rps"])

    b, o = best("batched"), best("one_at_a_time")
    speedups = [
        round(x["rps"] / y["rps"], 2)
        for x, y in zip(results["batched"], results["one_at_a_time"], strict=True)
    ]
    print(f"speedup per round (batched / one at a time): {speedups}")

    server = Server(model, 32, args.concurrency)
    samples: list[tuple[int, float]] = []
    try:
        asyncio.run(load(server.url, body, 500, args.concurrency, args.time_limit))
        samples.append((0, server.rss_mb()))

        def progress(done: int) -> None:
            if done % 1000 == 0:
                samples.append((done, server.rss_mb()))

        rss_run = asyncio.run(
            load(server.url, body, args.rss_requests, args.concurrency, args.time_limit, progress)
        )
    finally:
        server.stop()
    rss = [m for _, m in samples]
    summary = {
        "concurrency": args.concurrency,
        "requests_per_setting": args.requests,
        "batched_best": b,
        "one_at_a_time_best": o,
        "speedup_per_round": speedups,
        "rss_run": rss_run,
        "rss_mb_every_1000": [(n, round(m, 1)) for n, m in samples],
        "rss_growth_mb": round(rss[-1] - rss[0], 1),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
