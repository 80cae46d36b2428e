"""``globelens eval`` over two processes (gloo on CPU): the result JSONs equal one process's,
with the cache warm from either rank count; a rank that dies ends the run naming it, and a
rerun resumes from what was generated."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner
from vlm_factory import tiny_paligemma_dir

import globelens
from globelens.cli.main import app

runner = CliRunner()
SRC = str(Path(globelens.__file__).parents[1])
COMMON = ["--bootstrap", "20", "--max-new-tokens", "3", "--limit", "4", "--workers", "1"]
#: zero-shot and retrieval for the dual encoder; VQA and captions (XM3600) for the generator
TASKS = ["--tasks", "zeroshot,retrieval,vqa,captioning"]


@pytest.fixture(scope="module")
def setup(tiny_world: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The models, and one process's results with a cold cache (the reference)."""
    root = tmp_path_factory.mktemp("dist")
    pg = tiny_paligemma_dir(root / "pg")
    models = ["-m", str(tiny_model_dir), "-m", str(pg), "--data-root", str(tiny_world)]
    models += ["-b", "world/western,world/vqa,world/xm3600", *TASKS, *COMMON]
    one = _cli([*models, "--out", str(root / "one"), "--cache-dir", str(root / "cache1")])
    return root, models, one


def _cli(args: list[str]) -> dict[str, dict]:
    r = runner.invoke(app, ["eval", *args])
    assert r.exit_code == 0, r.output
    return _results(Path(args[args.index("--out") + 1]))


def _results(out: Path) -> dict[str, dict]:
    """Every result JSON of a run, timing fields aside."""
    res = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    return {k: {f: v for f, v in r.items() if f != "timing"} for k, r in res.items()}


def _timings(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text())["timing"] for p in out.glob("*.json")}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", **extra}


def test_two_ranks_under_torchrun_equal_one_process(setup) -> None:
    root, models, one = setup
    out = root / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "globelens", "eval", *models, "--out", str(out), "--cache-dir", str(root / "c2")]
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.count("wrote 4 result files") == 1  # rank 0 alone reports and writes
    assert _results(out) == one  # contrastive and generative: every number and prediction
    generated = {n: t.get("generated") for n, t in _timings(out).items()}
    assert generated == {n: t.get("generated") for n, t in _timings(root / "one").items()}
    # A one-process run finds everything the two ranks computed, and gets the same results.
    warm = _cli([*models, "--out", str(root / "warm"), "--cache-dir", str(root / "c2")])
    assert warm == one
    for t in _timings(root / "warm").values():
        assert t.get("generated", 0) == 0 and t.get("image_embeddings_cached", True)
    assert not list((root / "c2" / "generations").glob("*.part-*"))  # checkpoints merged


def _launch(args_per_rank: list[list[str]]) -> list[subprocess.Popen]:
    """One ``globelens eval`` process per rank, with the variables torchrun would set."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    world = str(len(args_per_rank))
    return [
        subprocess.Popen(
            [sys.executable, "-m", "globelens", "eval", *args],
            env=_env(
                RANK=str(r),
                LOCAL_RANK=str(r),
                WORLD_SIZE=world,
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r, args in enumerate(args_per_rank)
    ]


def test_a_rank_that_dies_is_named_and_a_rerun_resumes(setup) -> None:
    root, models, one = setup
    cache = root / "c3"
    gen_models = models[models.index(str(root / "pg")) - 1 :]  # the generator alone
    args = [*gen_models, "--out", str(root / "dead"), "--cache-dir", str(cache)]
    procs = _launch([args, args])
    # Rank 1 is killed once the first benchmark's answers are in, with the next one to go.
    seen = ""
    for line in procs[0].stderr:  # type: ignore[union-attr]
        seen += line
        if '"event": "shares", "op": "generate"' in line:
            break
    procs[1].send_signal(signal.SIGKILL)
    _, err = procs[0].communicate(timeout=120)
    err = seen + err
    procs[1].wait()
    assert procs[0].returncode == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: rank 0: rank 1 of 2 stopped"), err[-2000:]
    assert "rerun resumes" in last and "Traceback" not in err
    assert not (root / "dead" / "results.csv").exists()  # nothing half-written

    # One process resumes from the two ranks' checkpoints and ends where a clean run ends.
    again = _cli([*gen_models, "--out", str(root / "resumed"), "--cache-dir", str(cache)])
    assert again == {k: v for k, v in one.items() if k.startswith("pg__")}
    cached = sum(t["cached"] for t in _timings(root / "resumed").values())
    assert cached > 0  # at least rank 0's first share was kept


@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_shares_are_disjoint_blocks_of_whole_chunks(world: int) -> None:
    from globelens.evaluate.distributed import Dist
    from globelens.evaluate.generate import _plan, _take_requests

    for n in (0, 1, 7, 64):
        blocks = [list(Dist(r, world).share(n)) for r in range(world)]
        assert [i for b in blocks for i in b] == list(range(n))  # disjoint, in order, all
    # (record, requests): the chunks one process cuts are the chunks the ranks' blocks hold
    todo = {i: list(range(10 * i, 10 * i + 1 + i % 4)) for i in range(0, 40, 3)}
    chunks = _plan(todo, 5)
    one = _take_requests(iter((i, None, "") for i in sorted(todo)), todo, 5)
    assert [pos for pos, _, _ in one] == [p for i in chunks[0] for p in todo[i]]
    for r in range(world):
        mine = {i: todo[i] for k in Dist(r, world).share(len(chunks)) for i in chunks[k]}
        images = iter((i, None, "") for i in sorted(mine))
        cut = []
        while chunk := _take_requests(images, mine, 5):
            cut.append(sorted({pos // 10 for pos, _, _ in chunk}))
        assert cut == [c for k in Dist(r, world).share(len(chunks)) for c in [chunks[k]]]


def test_a_rank_that_fails_is_named_with_its_error(setup, tmp_path: Path) -> None:
    """Rank 1's device does not exist (a node with a broken GPU): rank 0 says so."""
    root, models, _ = setup
    gen_models = models[models.index(str(root / "pg")) - 1 :]
    args = [*gen_models, "--out", str(tmp_path / "out"), "--no-cache"]
    procs = _launch([args, [*args, "--device", "cuda:99"]])
    _, err = procs[0].communicate(timeout=120)
    procs[1].communicate(timeout=60)
    assert procs[0].returncode == 2 and procs[1].returncode != 0
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: rank 0: rank 1 of 2 failed: "), err[-2000:]
    assert "CUDA" in last or "cuda" in last  # what went wrong there, in rank 0's words
    assert not (tmp_path / "out").exists()
