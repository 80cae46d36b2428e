"""Load test of ``globelens serve`` on loopback: dynamic batching against one request at a time.

    .venv/bin/python benchmarks/bench_serve.py [--model DIR] [--requests 2000] [--rounds 2]
                                               [--concurrency 32] [--rss-requests 10000]

Starts the real CLI (``python -m globelens serve MODEL --port 0``) twice per round, with
``--max-batch 32`` and ``--max-batch 1``, and drives each with ``--concurrency`` clients that
keep one zero-shot classification request each in flight (servers with one torch thread) (a 64x64 PNG, five labels) until
``--requests`` have been answered: requests/s and p50/p99 latency, as ``vllm bench serve``
reports them at fixed concurrency. Rounds alternate the two settings so a noisy machine hurts
both alike. Then one batched server answers ``--rss-requests`` more while its resident memory
is sampled every 1,000 requests. Bounded: every phase stops after its request count (or its
time limit), and every server is stopped. Without ``--model`` a tiny random SigLIP is built.
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
from pathlib import Path

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

    def __init__(self, model: Path, max_batch: int, concurrency: int) -> None:
        cmd = [sys.executable, "-m", "globelens", "serve", str(model), "--port", "0"]
        cmd += ["--max-batch", str(max_batch), "--log-level", "warning"]
        # one torch thread: on a shared machine spinning OpenMP threads cost more than they
        # bring; a long timeout, so the one-at-a-time queue is measured rather than cut at 504
        cmd += ["--max-concurrency", str(concurrency * 4), "--threads", "1", "--timeout", "900"]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="dual encoder dir (default: a tiny SigLIP)")
    ap.add_argument("--requests", type=int, default=2000, help="per setting and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rss-requests", type=int, default=10_000)
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per phase")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-serve-")
    model = args.model or tiny_model(Path(tmp.name))
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
