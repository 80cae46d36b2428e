"""The curation pipeline end to end: real shards in and out, accounting, determinism,
resuming after SIGKILL, local vs Ray, the audit and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from curate_factory import write_bad_shards, write_shards

from globelens.curate import audit_data, audit_figures, load_kept_uids, run_recipe
from globelens.data import ReadReport, read_shards

REPO = Path(__file__).resolve().parents[2]
GLOBELENS = str(Path(sys.executable).parent / "globelens")
DEDUP_EN = {
    "name": "dedup_en",
    "steps": [
        {"type": "langid"},
        {"type": "exact_dedup"},
        {"type": "near_dedup", "max_distance": 4},
        {"type": "language", "keep": ["en", "es"]},
        {"type": "replace_caption", "field": "caption_en", "only_if_lang_not_in": ["en"]},
    ],
}


def _outputs(out: Path) -> dict[str, bytes]:
    names = sorted(
        p.name
        for p in out.iterdir()
        if p.suffix in (".tar", ".parquet", ".npy") or p.name.endswith("_stats.json")
    )
    return {n: (out / n).read_bytes() for n in names}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clean")
    write_shards(d, n_shards=4, per_shard=10)
    return d


def test_pipeline_accounts_for_every_sample_and_is_worker_independent(clean, tmp_path):
    m1 = run_recipe(
        DEDUP_EN, str(clean / "*.tar"), tmp_path / "w1", workers=1, shard_size=3, progress=False
    )
    m2 = run_recipe(
        DEDUP_EN, str(clean / "*.tar"), tmp_path / "w2", workers=2, shard_size=3, progress=False
    )
    c = m1["counts"]
    assert c["in"] == 40 and c["kept"] == 12  # 4 English + 4 Spanish people per 10... 2+1 per 10
    assert c["kept"] + c["dropped_total"] + c["corrupt_total"] == c["in"]
    assert c["dropped"] == {"3:language": {"language_not_kept": 28}}
    assert _outputs(tmp_path / "w1") == _outputs(tmp_path / "w2")
    assert [m1["counts"], m1["steps"]] == [m2["counts"], m2["steps"]]
    samples = list(read_shards(str(tmp_path / "w1" / "*.tar")))
    assert len(samples) == 12 and len(m1["output"]["shards"]) == 4
    assert [s.key for s in samples[:4]] == ["000000000", "000000001", "000000002", "000010000"]
    es = [s for s in samples if s.meta["language"] == "es"]
    assert es and all(s.caption == s.meta["caption_en"] and s.meta["caption_replaced"] for s in es)
    uids = load_kept_uids(tmp_path / "w1" / "kept_uids.npy")
    assert uids.shape == (12, 2) and uids.dtype == np.uint64
    assert sorted(f"{a:016x}{b:016x}" for a, b in uids) == sorted(s.meta["uid"] for s in samples)
    assert (np.lexsort((uids[:, 1], uids[:, 0])) == np.arange(12)).all()
    log = [
        json.loads(line) for line in (tmp_path / "w1" / "curate_log.jsonl").read_text().splitlines()
    ]
    assert log[0]["event"] == "start" and log[-1]["event"] == "done"
    assert not (tmp_path / "w1" / "_work" / "stage").exists()  # staging removed at the end


def test_staging_holds_the_locally_kept_samples_and_can_be_kept(clean, tmp_path):
    m = run_recipe(
        DEDUP_EN,
        str(clean / "*.tar"),
        tmp_path / "o",
        workers=1,
        progress=False,
        keep_staging=True,
    )
    stage = sorted((tmp_path / "o" / "_work" / "stage").glob("*.arrow"))
    assert [p.name for p in stage] == [f"{i:05d}.arrow" for i in range(4)]
    import pyarrow as pa

    staged = pa.concat_tables(pa.ipc.open_file(pa.memory_map(str(p))).read_all() for p in stage)
    # English and Spanish survive the local steps; near-dup (global) removes none here
    assert staged.num_rows == m["counts"]["kept"] == 12
    originals = {s.key: s.image_bytes for s in read_shards(str(clean / "*.tar"))}
    assert all(
        originals[k] == b
        for k, b in zip(staged["key"].to_pylist(), staged["image"].to_pylist(), strict=True)
    )


def test_draft_decodes_at_the_largest_size_a_step_needs():
    from globelens.curate import build_step
    from globelens.curate.pipeline import draft_size
    from globelens.curate.recipe import DRAFT_SIZE

    assert draft_size([build_step("langid")]) == DRAFT_SIZE
    assert draft_size([build_step("langid"), build_step("near_dedup")]) == 32

    class FullPixels(type(build_step("near_dedup"))):
        pixel_size = None

    assert draft_size([build_step("near_dedup"), FullPixels()]) is None


def test_bad_input_curates_to_completion_with_every_sample_accounted_for(tmp_path):
    bad = tmp_path / "bad"
    write_bad_shards(bad)
    report = ReadReport()
    readable = sum(1 for _ in read_shards(str(bad / "*.tar"), report))
    m = run_recipe(
        "datacomp_basic",
        str(bad / "*.tar"),
        tmp_path / "out",
        workers=2,
        audit=True,
        progress=False,
    )
    c = m["counts"]
    assert c["in"] == readable + len(report.problems)
    assert c["kept"] + c["dropped_total"] + c["corrupt_total"] == c["in"]
    assert c["corrupt"]["corrupt_image"] == 2 and c["corrupt"]["empty_caption"] == 1
    assert c["corrupt"]["truncated_tar"] == 1
    dedup = c["dropped"]
    assert dedup["2:exact_dedup"] == {"exact_duplicate": 1}
    assert dedup["3:near_dedup"] == {"near_duplicate": 1}
    decisions = pd.read_parquet(tmp_path / "out" / "decisions.parquet")
    assert len(decisions) == c["in"] and (decisions["status"] == "kept").sum() == c["kept"]
    assert (tmp_path / "out" / "audit.html").exists()


def test_audit_shows_who_english_only_removes(clean, tmp_path):
    m = run_recipe(
        "english_only", str(clean), tmp_path / "en", workers=1, audit=True, progress=False
    )
    a = audit_data(tmp_path / "en")
    assert a["overall"]["region"]["Anglosphere"]["fraction"] == 1.0
    assert a["overall"]["region"]["Africa"]["fraction"] == 0.0
    assert a["overall"]["income_bucket"]["$0-200"]["fraction"] == 0.0
    assert a["headline"].startswith(
        "english_only keeps 100% of the Anglosphere's samples and 0% of "
    )
    assert "richest households ($1998+)" in a["headline"]
    step = a["steps"][1]
    assert step["reached"] == 40 and step["kept"] == m["counts"]["kept"] == 8
    assert (
        step["by"]["language"]["en"]["fraction"] == 1.0
        and step["by"]["script"]["Arab"]["fraction"] == 0.0
    )
    figs = audit_figures(a)
    assert {"overall_region", "overall_income_bucket", "steps_region"} <= set(figs)
    page = (tmp_path / "en" / "audit.html").read_text()
    assert a["headline"].replace("'", "&#39;") in page and page.count("data:image/png;base64,") >= 3
    assert "http://" not in page and "https://" not in page
    # the CLI rebuilds it from the outputs alone
    (tmp_path / "en" / "audit.html").unlink()
    res = subprocess.run(
        [GLOBELENS, "audit", str(tmp_path / "en")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "Anglosphere" in res.stdout and (tmp_path / "en" / "audit.html").exists()


# Runs the CLI in this process (workers=1 runs every task here) and SIGKILLs it right
# before the rename that would complete file number AFTER+1 whose name ends with SUFFIX: a
# deterministic crash at the most delicate moment, without a hook in the code under test.
KILLER = """
import os, signal, sys
suffix, after = sys.argv[1], int(sys.argv[2])
seen = [0]
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith(suffix):
        seen[0] += 1
        if seen[0] > after:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from globelens.cli.main import app
sys.argv = ["globelens", *sys.argv[3:]]
app()
"""


def _run_killed(suffix: str, after: int, args: list[str]) -> None:
    res = subprocess.run(
        [sys.executable, "-c", KILLER, suffix, str(after), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_same_output(clean, tmp_path):
    args = ["curate", "--recipe", json_recipe(tmp_path), "--in", str(clean / "*.tar")]
    args += ["--shard-size", "3", "-q"]
    ref = subprocess.run(
        [GLOBELENS, *args, "--out", str(tmp_path / "ref"), "--workers", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    killed = [*args, "--out", str(out), "--workers", "1"]
    work = out / "_work"
    # 1. killed in pass 1: input shard 0 decided, shard 1 staged but its decisions not renamed
    _run_killed(f"{os.sep}pass1{os.sep}00001.parquet", 0, killed)
    assert sorted(p.name for p in (work / "pass1").glob("*.parquet")) == ["00000.parquet"]
    assert sorted(p.name for p in (work / "stage").iterdir()) == ["00000.arrow", "00001.arrow"]
    # 2. resumed, then killed in pass 2 after the parquet of output shard 1 but before its tar
    _run_killed(".tar", 1, killed)
    assert [p.name for p in (work / "pass2").iterdir()] == ["00000.done"]
    assert (out / "00001.parquet").exists() and not (out / "00001.tar").exists()
    assert (out / ".00001.tar.tmp").exists()
    # a lost staging file is rebuilt from its input shard
    (work / "stage" / "00002.arrow").unlink()
    # 3. resumed to the end, with another worker count
    final = subprocess.run(
        [GLOBELENS, *args, "--out", str(out), "--workers", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert final.returncode == 0, final.stderr
    assert _outputs(out) == _outputs(tmp_path / "ref")
    assert len(list(out.glob("*.tar"))) > 2  # the kill really was halfway through writing
    assert not list(out.glob(".*.tmp")) and not (work / "stage").exists()


def json_recipe(tmp_path: Path) -> str:
    path = tmp_path / "recipe.toml"
    path.write_text(
        'name = "resume"\n[[steps]]\ntype = "langid"\n[[steps]]\ntype = "near_dedup"\n'
        '[[steps]]\ntype = "language"\nkeep = ["en", "es", "de"]\n'
    )
    return str(path)


@pytest.mark.slow
def test_ray_and_local_engines_give_identical_kept_uids(clean, tmp_path):
    pytest.importorskip("ray")
    m_local = run_recipe(
        DEDUP_EN, str(clean / "*.tar"), tmp_path / "local", workers=2, shard_size=5, progress=False
    )
    m_ray = run_recipe(
        DEDUP_EN,
        str(clean / "*.tar"),
        tmp_path / "ray",
        engine="ray",
        workers=2,
        shard_size=5,
        progress=False,
    )
    import ray

    assert not ray.is_initialized()  # the engine shut down the instance it started
    assert np.array_equal(
        np.load(tmp_path / "local" / "kept_uids.npy"), np.load(tmp_path / "ray" / "kept_uids.npy")
    )
    assert m_local["counts"] == m_ray["counts"]
    assert _outputs(tmp_path / "local") == _outputs(tmp_path / "ray")


def test_resuming_with_another_recipe_is_refused(clean, tmp_path):
    run_recipe("no_filter", str(clean), tmp_path / "o", workers=1, progress=False)
    with pytest.raises(ValueError, match="another recipe"):
        run_recipe("english_only", str(clean), tmp_path / "o", workers=1, progress=False)


@pytest.mark.slow
def test_world_crawl_audits_show_the_regional_and_income_skew(tmp_path):
    exe = Path(GLOBELENS)
    res = subprocess.run(
        [str(exe), "world", "build", str(tmp_path / "w"), "--size", "tiny", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # The world builder is part of globelens: if it fails, this test fails with its error.
    assert res.returncode == 0, f"world build failed: {res.stderr[-2000:]}"
    audits = {}
    for recipe in ("english_only", "no_filter"):
        run_recipe(
            recipe,
            str(tmp_path / "w" / "crawl"),
            tmp_path / recipe,
            workers=2,
            audit=True,
            progress=False,
        )
        audits[recipe] = audit_data(tmp_path / recipe)
    en = audits["english_only"]["overall"]
    assert en["region"]["Anglosphere"]["fraction"] > 0.8
    assert max(v["fraction"] for k, v in en["region"].items() if k != "Anglosphere") < 0.5
    assert (
        en["income_bucket"]["$1998+"]["fraction"] > 1.5 * en["income_bucket"]["$0-200"]["fraction"]
    )
    nf = audits["no_filter"]["overall"]
    assert all(v["fraction"] == 1.0 for v in nf["region"].values())
    assert (
        audits["no_filter"]["headline"]
        == "no_filter keeps 100% of every region's samples; 100% of the richest households ($1998+) and 100% of the poorest ($0-200)."
    )
