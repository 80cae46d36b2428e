"""``globelens serve`` as a user runs it, and ``--engine ray`` with two replicas."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_factory import b64, picture


def _wait_ready(url: str, headers: dict, timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(url + "/ready", headers=headers, timeout=5)
            if r.status_code == 200:
                return r
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready")
        time.sleep(0.2)


@pytest.mark.slow
def test_cli_ray_engine_two_replicas_with_the_key_from_the_environment(
    tiny_model_dir: Path,
) -> None:
    """The command as a user runs it: ``--engine ray --replicas 2`` on a free port, the key
    from $GLOBELENS_API_KEY; both replicas answer; SIGTERM stops Serve and Ray."""
    env = {**os.environ, "GLOBELENS_API_KEY": "from-env"}
    cmd = [sys.executable, "-m", "globelens", "serve", f"tiny={tiny_model_dir}", "--port", "0"]
    cmd += ["--engine", "ray", "--replicas", "2", "--replica-cpus", "0.5"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        url, lines = None, []
        for line in proc.stdout:  # the chosen port is printed once Serve is up
            lines.append(line)
            if "listening on" in line:
                url = line.strip().rsplit(" ", 1)[-1]
                break
        assert url, "".join(lines[-30:])
        headers = {"Authorization": "Bearer from-env"}
        assert httpx.get(url + "/ready", timeout=10).status_code == 401
        pids = set()
        for _ in range(60):
            ready = _wait_ready(url, headers).json()
            assert ready["models"]["tiny"]["alive"]
            pids.add(ready["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2, "one replica answered every request"
        body = {"image": b64(picture()), "labels": ["a red bus", "a dog"]}
        scores = [
            httpx.post(url + "/v1/classify", json=body, headers=headers, timeout=30).json()
            for _ in range(4)
        ]
        assert all(s == scores[0] for s in scores) and len(scores[0]["scores"]) == 2
        r = httpx.post(
            url + "/v1/classify", json={**body, "image": "@@"}, headers=headers, timeout=30
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_base64"
        assert httpx.get(url + "/", timeout=10).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        finally:
            proc.kill() if proc.poll() is None else None
            proc.stdout.close()
    assert proc.returncode is not None
