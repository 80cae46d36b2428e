"""The real trainer under torchrun (2 processes, gloo) gives the weights of one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from globelens.data import read_shards
from globelens.models import train_tokenizer
from globelens.train.synthetic import make_synthetic_shards

SCRIPT = (
    "import json, sys\n"
    "from globelens.train.config import config_from_dict\n"
    "from globelens.train.loop import train\n"
    "train(config_from_dict(json.loads(sys.argv[1])))\n"
)


def _config(out: Path, shards: Path, tokenizer: Path) -> dict:
    return {
        "out": str(out),
        "steps": 3,
        "batch_size": 16,  # global: 8 per rank under torchrun
        "seed": 3,
        "threads": 1,
        "progress": False,
        "data": {"sources": [{"name": "a", "pattern": str(shards)}], "workers": 0},
        "model": {"tokenizer": str(tokenizer)},
        "optim": {"lr": 1e-3},
        "checkpoint": {"every": 0, "keep": 1},
    }


@pytest.mark.slow
def test_torchrun_two_ranks_match_one_process(tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    make_synthetic_shards(shards, n=96, per_shard=32, corrupt=0)
    train_tokenizer([s.caption for s in read_shards(shards)], 256, tmp_path / "tok")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

    single = _config(tmp_path / "single", shards, tmp_path / "tok")
    subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(single)], env=env, check=True, capture_output=True
    )
    ddp = _config(tmp_path / "ddp", shards, tmp_path / "tok")
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
    ]
    run = subprocess.run(
        [*launch, "--no-python", sys.executable, "-c", SCRIPT, json.dumps(ddp)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    a = load_file(tmp_path / "single/model/model.safetensors")
    b = load_file(tmp_path / "ddp/model/model.safetensors")
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-4, f"DDP weights differ from single-process by {worst}"
    metrics = [
        json.loads(line) for line in (tmp_path / "ddp/metrics.jsonl").read_text().splitlines()
    ]
    assert metrics[-1]["step"] == 3
