"""The acceptance test: a damaged shard is read to the end and every problem is reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from globelens.cli.main import app
from globelens.data import Sample, ShardWriter
from globelens.data.stats import IntSummary, shard_stats
from shard_factory import corrupt_jpeg, cut_inside_last_member, group, jpeg, raw_tar, write_samples

GOOD = [f"{i:09d}" for i in (0, 1, 2, 4, 5, 7, 8)]
EXPECTED_PROBLEMS = [
    ("000000003", "corrupt_image"),
    ("000000006", "invalid_utf8"),
    ("000000009", "truncated_tar"),
]


@pytest.fixture
def damaged_shard(tmp_path) -> Path:
    """Ten samples: #3 has a corrupt JPEG, #6 a Latin-1 caption, #9 is cut off mid-member."""
    members = []
    for i in range(10):
        key = f"{i:09d}"
        image = corrupt_jpeg() if i == 3 else jpeg(100 + i, 80)
        caption = "Ñandú en el parque".encode("latin-1") if i == 6 else f"caption {i}".encode()
        members += group(key, image, caption, {"uid": f"{i:032x}", "country": "Peru"})
    path = tmp_path / "00000.tar"
    raw_tar(path, members)
    cut_inside_last_member(path)  # inside 000000009.json
    return path


def _check(result: dict) -> None:
    assert result["samples"] == len(GOOD) == 7
    assert [(p["key"], p["reason"]) for p in result["problems"]] == EXPECTED_PROBLEMS
    assert result["problem_counts"] == {"corrupt_image": 1, "invalid_utf8": 1, "truncated_tar": 1}
    assert result["problem_total"] == 3 and result["problems_omitted"] == 0
    assert all(p["detail"] for p in result["problems"])
    assert result["metadata_fields"] == {"country": 7, "uid": 7}
    assert result["image_width"]["min"] == 100 and result["image_width"]["max"] == 108
    assert result["image_formats"] == {"jpg": 7}
    assert result["per_shard"][0]["samples"] == 7 and result["per_shard"][0]["problems"] == 3


def test_library_stats(damaged_shard):
    _check(shard_stats(damaged_shard))


def test_cli_stats_json(damaged_shard):
    result = CliRunner().invoke(app, ["shards", "stats", str(damaged_shard), "--json"])
    assert result.exit_code == 0, result.output
    _check(json.loads(result.stdout))


def test_cli_stats_human(damaged_shard):
    result = CliRunner().invoke(app, ["shards", "stats", str(damaged_shard)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "samples     7 readable" in out
    assert "problems: 3" in out
    for key, reason in EXPECTED_PROBLEMS:
        assert f"00000.tar {key}: {reason}:" in out
    assert "country  7" in out


def test_cli_stats_as_a_subprocess(damaged_shard):
    exe = Path(sys.executable).with_name("globelens")
    proc = subprocess.run(
        [str(exe), "shards", "stats", str(damaged_shard), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode == 0, proc.stderr
    _check(json.loads(proc.stdout))
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


def test_every_sample_of_a_shard_set_with_a_broken_middle_shard(tmp_path):
    write_samples(tmp_path, 9, maxcount=3)
    cut_inside_last_member(tmp_path / "00001.tar")
    (tmp_path / "00003.tar").write_text("this is not a tar archive\n" * 40)
    result = shard_stats(str(tmp_path))
    assert result["samples"] == 8 and result["shards"] == 4
    assert [(p["key"], p["reason"]) for p in result["problems"]] == [
        ("000000005", "truncated_tar"),
        (None, "unreadable_tar"),
    ]


def test_missing_shard_exits_2_naming_it(tmp_path):
    result = CliRunner().invoke(app, ["shards", "stats", str(tmp_path / "{00000..00001}.tar")])
    assert result.exit_code == 2
    assert "00000.tar" in result.output


def test_problem_list_is_capped_but_counts_are_complete(tmp_path):
    members = []
    for i in range(30):
        members += group(f"k{i}", jpeg(), caption=b"")
    raw_tar(tmp_path / "a.tar", members + group("ok", jpeg()))
    result = shard_stats(tmp_path / "a.tar", max_problems=5)
    assert result["problem_counts"] == {"empty_caption": 30} and result["problem_total"] == 30
    assert len(result["problems"]) == 5 and result["problems_omitted"] == 25
    assert result["samples"] == 1


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    write_samples(tmp_path, 3)
    shard_stats(tmp_path, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    # tqdm's delay keeps short reads quiet; a forced bar still closes cleanly
    shard_stats(tmp_path, progress=False)
    assert capsys.readouterr().err == ""


def test_int_summary_quantiles():
    s = IntSummary()
    for v in [5, 1, 3, 3, 9, 7, 2, 8, 4, 6]:
        s.add(v)
    assert s.to_dict() == {"min": 1, "p05": 1, "median": 4, "p95": 8, "max": 9, "mean": 4.8}
    assert IntSummary().to_dict() is None


def test_stats_memory_does_not_grow_with_samples(tmp_path):
    """Streaming: peak memory for 10x the samples is about the same."""
    import tracemalloc

    image = jpeg(64, 48)

    def peak(n, sub):
        # Same image size and caption length: only the number of samples differs.
        with ShardWriter(tmp_path / sub, maxcount=n) as writer:
            for i in range(n):
                writer.write(Sample(f"{i:09d}", image, f"caption {i % 10}", {"uid": f"{i:032x}"}))
        tracemalloc.start()
        shard_stats(tmp_path / sub, decode=False)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(10, "warm-up")  # lazy imports
    small, large = peak(100, "s"), peak(2000, "l")
    assert large < small * 1.5, (small, large)
