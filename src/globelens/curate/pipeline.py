"""The curation pipeline: shards in, curated shards out, every input sample accounted for.

Two passes, so that global steps (near-duplicates across shards, a top fraction of CLIP
scores, caps per language) give the same answer as running the recipe on one big list:

1. **Pass 1** (parallel, one task per input shard): read the shard, check each image decodes
   (once, at the size the steps need), run the local steps, and for each global step compute
   its per-sample feature (pHash, sha256, CLIP score, group) on the samples that reach it.
   The samples that pass every local step are staged as they will be written (image bytes as
   read, never re-encoded; caption and metadata after the local steps) in
   ``_work/stage/NNNNN.arrow``; then the decision table ``_work/pass1/NNNNN.parquet`` is
   written. Both are atomic, and the decision table is the completion marker.
2. **Reduce** (the driver): in input order, each global step decides over the samples that
   reach it (``select``) and may set metadata (``clip_score``, ``sample_weight``). A sample
   dropped by a local step after a global one is still a candidate of the global step, so the
   result equals the sequential one. Written to ``decisions.parquet`` (one row per input
   sample: where it ended and why, plus its language/script/country/region/income).
   A global step's report of its decision (``metadata_balance``: thresholds, per-entry
   keep rates) goes to ``reports/`` first, since the decisions mark the reduce done.
3. **Pass 2** (parallel, one task per output shard): kept samples are numbered in input order
   and output shard ``j`` takes numbers ``[j*S, (j+1)*S)``; its task copies them from the
   staging files (no decoding, no step re-run), sets the global steps' metadata, writes
   ``NNNNN.tar`` atomically, then a marker ``_work/pass2/NNNNN.done``. Staging is removed
   when every output shard is written (``keep_staging`` keeps it).

Output bytes depend on the recipe, inputs and shard size only, never on workers or timing.
A run killed at any point resumes from its markers and ends with the same files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from globelens.curate.base import Step, drop_pixels, pixels, stored_size
from globelens.curate.engines import make_engine
from globelens.curate.recipe import DRAFT_SIZE, Recipe, load_recipe
from globelens.curate.scripts import text_script
from globelens.data import (
    ImageDecodeError,
    ReadReport,
    Sample,
    ShardWriter,
    expand_shards,
    read_shards,
)
from globelens.data.atomic import (
    atomic_path,
    atomic_save_npy,
    atomic_write_text,
    commit,
    temporary_sibling,
)
from globelens.groups import income_bucket

WORK = "_work"
DECISIONS = "decisions.parquet"
MANIFEST = "manifest.json"
KEPT_UIDS = "kept_uids.npy"
#: global steps' reports (thresholds, per-entry tables): ``reports/NN_<type>.json`` + parquet
REPORTS = "reports"
LOG = "curate_log.jsonl"
#: metadata fields the audit groups by (``language`` is the caption's true language where the
#: data says it, ``lang`` the detected one)
AUDIT_FIELDS = ("language", "lang", "script", "country", "region", "income_bucket")
STATUS_KEPT, STATUS_DROPPED, STATUS_CORRUPT = "kept", "dropped", "corrupt"
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def sample_uid(sample: Sample) -> str:
    """The 128-bit uid as 32 hex digits: metadata ``uid`` when it is one (DataComp, the world),
    else the first 128 bits of the sha256 of the key."""
    uid = sample.meta.get("uid")
    if isinstance(uid, str) and _HEX32.match(uid):
        return uid.lower()
    return hashlib.sha256(sample.key.encode()).hexdigest()[:32]


def uids_to_array(uids: Sequence[str]) -> np.ndarray:
    """Sorted (N, 2) uint64 array of 128-bit uids (high, low), DataComp's subset layout."""
    arr = np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in uids], dtype=np.uint64)
    arr = arr.reshape(-1, 2)
    order = np.lexsort((arr[:, 1], arr[:, 0]))
    return arr[order]


def load_kept_uids(path: str | os.PathLike) -> np.ndarray:
    """Read a kept-uid file: our (N, 2) uint64 array or DataComp's structured ``u8,u8``."""
    arr = np.load(path, allow_pickle=False)
    if arr.dtype.names:
        arr = np.stack([arr[arr.dtype.names[0]], arr[arr.dtype.names[1]]], axis=1)
    return arr.astype(np.uint64).reshape(-1, 2)


def _audit_groups(sample: Sample) -> dict[str, str | None]:
    meta = sample.meta
    groups: dict[str, str | None] = {}
    for name in AUDIT_FIELDS:
        value = meta.get(name)
        groups[name] = None if value is None else str(value)
    if groups["script"] is None and sample.caption:
        groups["script"] = text_script(sample.caption)
    if groups["income_bucket"] is None and isinstance(meta.get("income"), int | float):
        with contextlib.suppress(ValueError):
            groups["income_bucket"] = income_bucket(float(meta["income"]))
    return groups


# ---------------------------------------------------------------------------------- batches


def draft_size(steps: Sequence[Step]) -> int | None:
    """The size to decode JPEGs at with ``decode = "draft"``: the largest shorter side any
    pixel step needs (None: full resolution). Without pixel steps, the smallest draft: the
    whole stream is still read, so a truncated image is still caught."""
    sizes = [s.pixel_size for s in steps if s.needs_pixels]
    if any(size is None for size in sizes):
        return None
    return max(sizes, default=DRAFT_SIZE)


@dataclass
class Outcome:
    """Where one sample ended: ``drop_step`` is the index of the step that removed it (-1: the
    decode check before the steps; len(steps): it survived them all)."""

    drop_step: int
    status: str = STATUS_KEPT
    reason: str | None = None
    features: dict[int, Any] = field(default_factory=dict)


def process_batch(
    steps: Sequence[Step],
    samples: list[Sample],
    decode: str = "none",
    collect_features: bool = True,
) -> tuple[list[Outcome], list[Sample]]:
    """Run the steps over one batch. Local steps drop; global steps only record features
    (``collect_features``) and are decided later over all shards. Returns each sample's
    outcome and its final (possibly modified) version."""
    n_steps = len(steps)
    outcomes = [Outcome(drop_step=n_steps) for _ in samples]
    current = list(samples)
    alive: list[int] = []
    target = draft_size(steps) if decode == "draft" else None
    for i, sample in enumerate(samples):
        try:
            if decode in ("full", "draft"):
                pixels(sample, target)
            elif decode == "header":
                stored_size(sample)
            alive.append(i)
        except ImageDecodeError as e:
            outcomes[i] = Outcome(-1, STATUS_CORRUPT, e.reason)

    for si, step in enumerate(steps):
        if not alive:
            break
        batch = [current[i] for i in alive]
        if step.is_global:
            if not collect_features:
                continue
            feats = step.features(batch)  # type: ignore[attr-defined]
            still: list[int] = []
            for i, feat in zip(alive, feats, strict=True):
                if isinstance(feat, ImageDecodeError):
                    outcomes[i] = Outcome(si, STATUS_CORRUPT, feat.reason)
                else:
                    outcomes[i].features[si] = feat
                    still.append(i)
            alive = still
            continue
        result = step(batch)
        dropped = {id(s): r for s, r in result.dropped}
        corrupt = {id(s): r for s, r in result.corrupt}
        remaining: list[int] = []
        for i in alive:
            sid = id(current[i])
            if sid in dropped:
                outcomes[i] = Outcome(si, STATUS_DROPPED, dropped[sid], outcomes[i].features)
            elif sid in corrupt:
                outcomes[i] = Outcome(si, STATUS_CORRUPT, corrupt[sid], outcomes[i].features)
            else:
                remaining.append(i)
        if len(remaining) != len(result.kept):
            raise RuntimeError(
                f"step {step.name!r} returned {len(result.kept)} kept samples for "
                f"{len(remaining)} not dropped; a step must return every sample it keeps"
            )
        for i, sample in zip(remaining, result.kept, strict=True):
            current[i] = sample
        alive = remaining
    for sample in current:
        drop_pixels(sample)
    return outcomes, current


# ---------------------------------------------------------------------------------- tasks


@lru_cache(maxsize=4)
def _steps(recipe_json: str) -> tuple[Recipe, list[Step]]:
    # Built once per worker process (langid models and CLIP encoders load once).
    recipe = Recipe.from_dict(json.loads(recipe_json))
    return recipe, recipe.build_steps()


def _atomic_write_table(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


@dataclass
class Pass1Task:
    recipe_json: str
    shard_index: int
    shard_path: str
    work_dir: str
    # Stage the locally kept samples. False when the reduce is done and no unwritten output
    # shard takes samples from this input shard (a resumed run then skips the shard).
    stage: bool = True


def stage_path(work_dir: str | os.PathLike, shard_index: int) -> Path:
    """The staging file of an input shard: its locally kept samples, ready to write."""
    return Path(work_dir) / "stage" / f"{shard_index:05d}.arrow"


STAGE_SCHEMA = pa.schema(
    [
        pa.field("pos", pa.int64()),
        pa.field("key", pa.string()),
        pa.field("image_ext", pa.string()),
        pa.field("image", pa.large_binary()),
        pa.field("caption", pa.string()),
        pa.field("meta", pa.string()),  # JSON, after the local steps
        pa.field("extras", pa.map_(pa.string(), pa.large_binary())),
    ]
)


class _Stager:
    """Streams staged samples into an Arrow IPC file, renamed into place on ``close``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = temporary_sibling(path)
        self._sink = pa.OSFile(str(self.tmp), "wb")
        self._writer = pa.ipc.new_file(self._sink, STAGE_SCHEMA)

    def write(self, staged: list[tuple[int, Sample]]) -> None:
        if not staged:
            return
        cols: dict[str, list[Any]] = {name: [] for name in STAGE_SCHEMA.names}
        for pos, sample in staged:
            cols["pos"].append(pos)
            cols["key"].append(sample.key)
            cols["image_ext"].append(sample.image_ext)
            cols["image"].append(sample.image_bytes)
            cols["caption"].append(sample.caption)
            cols["meta"].append(json.dumps(sample.meta, ensure_ascii=False))
            cols["extras"].append(sorted(sample.extras.items()))
        self._writer.write_batch(pa.record_batch(cols, schema=STAGE_SCHEMA))

    def close(self) -> None:
        self._writer.close()
        self._sink.close()
        commit(self.tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
        self._sink.close()
        self.tmp.unlink(missing_ok=True)


def run_pass1(task: Pass1Task) -> dict[str, Any]:
    """Decide every sample of one input shard; writes ``_work/stage/NNNNN.arrow`` (the
    samples that pass the local steps) and then ``_work/pass1/NNNNN.parquet``."""
    out = Path(task.work_dir) / "pass1" / f"{task.shard_index:05d}.parquet"
    stage = stage_path(task.work_dir, task.shard_index)
    if out.exists() and (stage.exists() or not task.stage):
        return {
            "shard": task.shard_index,
            "samples": pq.read_metadata(out).num_rows,
            "cached": True,
        }
    start = time.perf_counter()
    recipe, steps = _steps(task.recipe_json)
    n_steps = len(steps)
    report = ReadReport()
    rows: list[dict[str, Any]] = []
    batch: list[Sample] = []
    stager = _Stager(stage) if task.stage else None

    def flush() -> None:
        outcomes, finals = process_batch(steps, batch, recipe.decode, collect_features=True)
        staged: list[tuple[int, Sample]] = []
        for sample, outcome in zip(finals, outcomes, strict=True):
            pos = len(rows)
            row: dict[str, Any] = {
                "shard": task.shard_index,
                "pos": pos,
                "key": sample.key,
                "uid": sample_uid(sample),
                "status": outcome.status,
                "drop_step": outcome.drop_step,
                "reason": outcome.reason,
                **_audit_groups(sample),
            }
            for si, feat in outcome.features.items():
                row[f"feat_{si}"] = json.dumps(feat)
            rows.append(row)
            if outcome.drop_step == n_steps:
                staged.append((pos, sample))
        if stager is not None:
            stager.write(staged)
        batch.clear()

    try:
        for sample in read_shards(task.shard_path, report):
            batch.append(sample)
            if len(batch) >= recipe.batch_size:
                flush()
        if batch:
            flush()
    except BaseException:
        if stager is not None:
            stager.abort()
        raise
    if stager is not None:
        stager.close()
    n_samples = len(rows)
    # Input the reader could not turn into a sample (truncated tar, corrupt JSON, empty
    # caption...) is one row each, so that in = kept + dropped + corrupt holds.
    for problem in report.problems:
        rows.append(
            {
                "shard": task.shard_index,
                "pos": -1,
                "key": os.path.basename(problem.key) if problem.key else None,
                "uid": None,
                "status": STATUS_CORRUPT,
                "drop_step": -1,
                "reason": problem.reason,
                **dict.fromkeys(AUDIT_FIELDS),
            }
        )
    for si, step in enumerate(steps):
        if step.is_global:
            for row in rows:
                row.setdefault(f"feat_{si}", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = (
        pa.Table.from_pylist(rows, schema=_pass1_schema(steps))
        if rows
        else _pass1_schema(steps).empty_table()
    )
    _atomic_write_table(table, out)
    return {
        "shard": task.shard_index,
        "samples": n_samples + len(report.problems),
        "seconds": round(time.perf_counter() - start, 3),
        "cached": False,
    }


def _pass1_schema(steps: Sequence[Step]) -> pa.Schema:
    fields = [
        pa.field("shard", pa.int64()),
        pa.field("pos", pa.int64()),
        pa.field("key", pa.string()),
        pa.field("uid", pa.string()),
        pa.field("status", pa.string()),
        pa.field("drop_step", pa.int64()),
        pa.field("reason", pa.string()),
    ]
    fields += [pa.field(name, pa.string()) for name in AUDIT_FIELDS]
    fields += [pa.field(f"feat_{i}", pa.string()) for i, s in enumerate(steps) if s.is_global]
    return pa.schema(fields)


@dataclass
class Pass2Task:
    out_shard: int
    out_dir: str
    work_dir: str
    shard_size: int
    # (input shard index, [(position, metadata patch as JSON or "")]), in input order
    parts: list[tuple[int, list[tuple[int, str]]]]


def _read_staged(path: Path, wanted: list[int]) -> list[Sample]:
    """The staged samples at the input positions ``wanted`` (in that order)."""
    if not path.exists():
        raise RuntimeError(f"staging file {path} is missing; re-run to rebuild it")
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
        row_of = {p: i for i, p in enumerate(table.column("pos").to_pylist())}
        missing = [p for p in wanted if p not in row_of]
        if missing:
            raise RuntimeError(
                f"staging file {path} lacks input positions {missing[:5]}: it does not match "
                "this run's decisions; delete the output folder and start over"
            )
        picked = table.take(pa.array([row_of[p] for p in wanted], pa.int64())).to_pylist()
    return [
        Sample(
            key=r["key"],
            image_bytes=r["image"],
            caption=r["caption"],
            meta=json.loads(r["meta"]),
            image_ext=r["image_ext"],
            extras=dict(r["extras"] or ()),
        )
        for r in picked
    ]


def run_pass2(task: Pass2Task) -> dict[str, Any]:
    """Write one output shard: copy its kept samples from the staging files."""
    marker = _pass2_marker(task)
    n_expected = sum(len(p) for _, p in task.parts)
    if marker.exists():
        return {"out_shard": task.out_shard, "samples": n_expected, "cached": True}
    start = time.perf_counter()
    writer = ShardWriter(
        task.out_dir, maxcount=task.shard_size, start_shard=task.out_shard, assign_keys=True
    )
    written = 0
    for shard_index, wanted in task.parts:
        samples = _read_staged(stage_path(task.work_dir, shard_index), [p for p, _ in wanted])
        for sample, (_, patch) in zip(samples, wanted, strict=True):
            if patch:
                sample.meta.update(json.loads(patch))
            sample.meta["uid"] = sample_uid(sample)
            sample.meta.setdefault("source_key", sample.key)
            writer.write(sample)
            written += 1
    writer.close()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"samples": written}) + "\n")
    return {
        "out_shard": task.out_shard,
        "samples": written,
        "seconds": round(time.perf_counter() - start, 3),
        "cached": False,
    }


# ---------------------------------------------------------------------------------- driver


class _Log:
    """JSON-lines log of the run (``curate_log.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, event: str, **fields: Any) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps({"time": round(time.time(), 3), "event": event, **fields}) + "\n")


def reduce_decisions(table: pa.Table, steps: Sequence[Step]) -> tuple[pa.Table, dict[int, dict]]:
    """Apply the global steps over all pass-1 rows (already in input order). Returns the
    final decision table and the metadata patches of rows (by row number)."""
    drop_step = np.asarray(table.column("drop_step").to_pylist(), dtype=np.int64)
    status = table.column("status").to_pylist()
    reason = table.column("reason").to_pylist()
    uids = table.column("uid").to_pylist()
    patches: dict[int, dict] = defaultdict(dict)
    for si, step in enumerate(steps):
        if not step.is_global:
            continue
        cand = np.nonzero(drop_step > si)[0]
        feats_col = table.column(f"feat_{si}").to_pylist()
        # One JSON document for the whole column: far faster than a json.loads per row.
        feats = json.loads("[" + ",".join(feats_col[r] for r in cand) + "]")
        drops, step_patches = step.select(feats, [uids[r] for r in cand])  # type: ignore[attr-defined]
        for j, why in drops.items():
            r = int(cand[j])
            drop_step[r], status[r], reason[r] = si, STATUS_DROPPED, why
        for j, patch in step_patches.items():
            patches[int(cand[j])].update(patch)
    n_steps = len(steps)
    final_status = [
        STATUS_KEPT if d == n_steps else s for d, s in zip(drop_step, status, strict=True)
    ]
    keep_cols = [c for c in table.column_names if not c.startswith("feat_")]
    out = table.select(keep_cols)
    out = out.set_column(
        out.column_names.index("drop_step"), "drop_step", pa.array(drop_step, pa.int64())
    )
    out = out.set_column(
        out.column_names.index("status"), "status", pa.array(final_status, pa.string())
    )
    out = out.set_column(out.column_names.index("reason"), "reason", pa.array(reason, pa.string()))
    kept_patches = {r: p for r, p in patches.items() if drop_step[r] == n_steps and p}
    patch_col = [
        json.dumps(kept_patches[r], sort_keys=True) if r in kept_patches else None
        for r in range(len(drop_step))
    ]
    out = out.append_column("patch", pa.array(patch_col, pa.string()))
    return out, kept_patches


def summarize(decisions: pa.Table, recipe: Recipe) -> dict[str, Any]:
    """Counts for the manifest: in = kept + dropped (per step, per reason) + corrupt."""
    drop_step = decisions.column("drop_step").to_pylist()
    status = decisions.column("status").to_pylist()
    reason = decisions.column("reason").to_pylist()
    n = len(drop_step)
    n_steps = len(recipe.steps)
    corrupt: Counter[str] = Counter()
    per_step: list[dict[str, Any]] = []
    dropped: dict[str, dict[str, int]] = {}
    reasons_at: dict[int, Counter[str]] = defaultdict(Counter)
    corrupt_at: dict[int, int] = Counter()
    for d, s, r in zip(drop_step, status, reason, strict=True):
        if s == STATUS_CORRUPT:
            corrupt[r or "unknown"] += 1
            corrupt_at[d] += 1
        elif s == STATUS_DROPPED:
            reasons_at[d][r or "unknown"] += 1
    for si, spec in enumerate(recipe.steps):
        reached = sum(1 for d in drop_step if d >= si)
        removed = sum(reasons_at[si].values()) + corrupt_at[si]
        per_step.append(
            {
                "index": si,
                "name": spec.label,
                "type": spec.type,
                "args": spec.args,
                "reached": reached,
                "kept": reached - removed,
                "dropped": dict(sorted(reasons_at[si].items())),
                "corrupt": corrupt_at[si],
            }
        )
        if reasons_at[si]:
            dropped[spec.label] = dict(sorted(reasons_at[si].items()))
    kept = sum(1 for d in drop_step if d == n_steps)
    total_dropped = sum(sum(v.values()) for v in dropped.values())
    counts = {
        "in": n,
        "kept": kept,
        "dropped": dropped,
        "dropped_total": total_dropped,
        "corrupt": dict(sorted(corrupt.items())),
        "corrupt_total": sum(corrupt.values()),
    }
    if kept + total_dropped + counts["corrupt_total"] != n:  # pragma: no cover - invariant
        raise RuntimeError(f"accounting error: {counts}")
    return {"counts": counts, "steps": per_step}


def _pass2_marker(task: Pass2Task) -> Path:
    return Path(task.work_dir) / "pass2" / f"{task.out_shard:05d}.done"


def _pass2_tasks(decisions: pa.Table, shard_size: int, out: Path, work: Path) -> list[Pass2Task]:
    """One task per output shard, naming the staged samples (and metadata patches) it takes."""
    shard_col = decisions.column("shard").to_pylist()
    pos_col = decisions.column("pos").to_pylist()
    patch_col = decisions.column("patch").to_pylist()
    tasks = []
    for j, rows in enumerate(plan_output(decisions, shard_size)):
        parts: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for r in rows:
            parts[shard_col[r]].append((pos_col[r], patch_col[r] or ""))
        tasks.append(
            Pass2Task(j, str(out), str(work), shard_size, [(s, parts[s]) for s in sorted(parts)])
        )
    return tasks


def plan_output(decisions: pa.Table, shard_size: int) -> list[list[int]]:
    """Kept rows in input order, cut into output shards of ``shard_size``: per output shard,
    the row numbers of its samples in the decision table."""
    kept_rows = [
        i for i, s in enumerate(decisions.column("status").to_pylist()) if s == STATUS_KEPT
    ]
    return [kept_rows[i : i + shard_size] for i in range(0, len(kept_rows), shard_size)]


def _claim_output(out: Path, identity: dict[str, Any]) -> None:
    """Record what this output folder curates; a resumed run must curate the same."""
    identity_path = out / WORK / "run.json"
    if identity_path.exists():
        previous = json.loads(identity_path.read_text())
        if previous != identity:
            raise ValueError(
                f"{out} holds a curation with another recipe, input or shard size; "
                "use a new output folder (or delete it) to start over"
            )
    else:
        atomic_write_text(identity_path, json.dumps(identity, indent=2, sort_keys=True) + "\n")


def _run_tasks(eng: Any, fn: Any, tasks: Sequence[Any], log: _Log, event: str, bar: Any) -> None:
    """Map ``fn`` over ``tasks`` on the engine, logging each result and counting its samples."""
    with bar:
        for res in eng.map(fn, tasks):
            bar.update(res["samples"])
            log(event, **res)


def _decide(
    eng: Any, recipe: Recipe, steps: list[Step], inputs: list[str], out: Path, shard_size: int,
    log: _Log, progress: bool,
) -> tuple[pa.Table, list[Pass2Task], float]:  # fmt: skip
    """Pass 1 over the input shards, then the reduce (skipped when ``decisions.parquet`` is
    there already); returns the decisions, the output shards' tasks and when pass 1 ended."""
    from tqdm import tqdm

    work = out / WORK
    decisions_path = out / DECISIONS
    # Resuming after the reduce: only input shards that feed an unwritten output shard
    # need their staging file (it may have been removed, or never finished).
    decisions = pq.read_table(decisions_path) if decisions_path.exists() else None
    tasks2 = _pass2_tasks(decisions, shard_size, out, work) if decisions is not None else None
    needed = (
        set(range(len(inputs)))
        if tasks2 is None
        else {i for t in tasks2 if not _pass2_marker(t).exists() for i, _ in t.parts}
    )
    recipe_json = recipe.to_json()
    tasks1 = [
        Pass1Task(recipe_json, i, p, str(work), stage=i in needed) for i, p in enumerate(inputs)
    ]
    bar = tqdm(desc=f"curate {recipe.name} [1/2 decide]", unit="sample", disable=not progress,
               smoothing=0)  # fmt: skip
    _run_tasks(eng, run_pass1, tasks1, log, "pass1_shard", bar)
    t1 = time.perf_counter()
    if decisions is None:
        tables = [pq.read_table(work / "pass1" / f"{i:05d}.parquet") for i in range(len(inputs))]
        table = pa.concat_tables(tables) if tables else _pass1_schema(steps).empty_table()
        decisions, _ = reduce_decisions(table, steps)
        # Before the decisions: they mark the reduce done, so a resumed run skips it.
        _write_reports(steps, out)
        _atomic_write_table(decisions, decisions_path)
        tasks2 = _pass2_tasks(decisions, shard_size, out, work)
    assert tasks2 is not None
    log("reduce", samples=decisions.num_rows)
    return decisions, tasks2, t1


def _report_stem(index: int, step: Step) -> str:
    return f"{index:02d}_{step.name}"


def _write_reports(steps: Sequence[Step], out: Path) -> None:
    """Each global step's report of its last ``select``: summary JSON and row tables."""
    for si, step in enumerate(steps):
        report = step.report() if step.is_global else None  # type: ignore[attr-defined]
        if report is None:
            continue
        stem = out / REPORTS / _report_stem(si, step)
        stem.parent.mkdir(parents=True, exist_ok=True)
        for name, rows in report.tables.items():
            table = pa.Table.from_pylist(rows) if rows else pa.table({})
            _atomic_write_table(table, stem.with_name(f"{stem.name}_{name}.parquet"))
        atomic_write_text(
            stem.with_suffix(".json"),
            json.dumps(report.summary, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
        )


def _read_reports(steps: Sequence[Step], out: Path) -> dict[int, dict[str, Any]]:
    reports = {}
    for si, step in enumerate(steps):
        path = out / REPORTS / f"{_report_stem(si, step)}.json"
        if path.exists():
            reports[si] = json.loads(path.read_text(encoding="utf-8"))
    return reports


def _write_kept_uids(decisions: pa.Table, out: Path) -> None:
    statuses = decisions.column("status").to_pylist()
    uids = decisions.column("uid").to_pylist()
    kept = [u for u, s in zip(uids, statuses, strict=True) if s == STATUS_KEPT]
    atomic_save_npy(out / KEPT_UIDS, uids_to_array(kept))


def _manifest(
    recipe: Recipe, inputs: list[str], engine: str, workers: int, decisions: pa.Table,
    n_out: int, shard_size: int, total_kept: int, times: tuple[float, float, float, float],
    reports: dict[int, dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    t0, t1, t2, t3 = times
    manifest: dict[str, Any] = {
        "recipe": recipe.name,
        "recipe_config": recipe.to_dict(),
        "inputs": inputs,
        "engine": engine,
        "workers": workers,
        **summarize(decisions, recipe),
        "output": {
            "shards": [f"{j:05d}.tar" for j in range(n_out)],
            "shard_size": shard_size,
            "samples": total_kept,
            "kept_uids": KEPT_UIDS,
            "decisions": DECISIONS,
        },
        "timing_s": {
            "pass1": round(t1 - t0, 3),
            "reduce": round(t2 - t1, 3),
            "pass2": round(t3 - t2, 3),
            "total": round(t3 - t0, 3),
        },
    }
    for si, report in reports.items():
        manifest["steps"][si]["report"] = report
    n_in = manifest["counts"]["in"]
    manifest["throughput_samples_per_s"] = round(n_in / max(t3 - t0, 1e-9), 1)
    return manifest


def run_recipe(
    recipe: str | os.PathLike | dict | Recipe,
    in_pattern: str | Sequence[str],
    out_dir: str | os.PathLike,
    engine: str = "local",
    workers: int = 2,
    audit: bool = False,
    shard_size: int = 10_000,
    address: str | None = None,
    progress: bool = True,
    keep_staging: bool = False,
) -> dict[str, Any]:
    """Curate shards with a recipe; returns the manifest (also written to ``out/manifest.json``).

    ``recipe``: a TOML path, a name in ``configs/``, a dict or a :class:`Recipe`.
    ``in_pattern``: shard paths, globs, ``{a..b}`` braces, folders, ``::``-joined.
    Re-running into the same ``out_dir`` resumes; a different recipe or input there is refused.
    ``keep_staging`` keeps ``_work/stage/`` (the locally kept samples of each input shard).
    """
    from tqdm import tqdm

    recipe = load_recipe(recipe)
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    inputs = [os.path.abspath(p) for p in expand_shards(in_pattern)]
    out = Path(out_dir)
    work = out / WORK
    work.mkdir(parents=True, exist_ok=True)
    identity = {"recipe": json.loads(recipe.to_json()), "inputs": inputs, "shard_size": shard_size}
    _claim_output(out, identity)
    log = _Log(out / LOG)
    log("start", recipe=recipe.name, inputs=len(inputs), engine=engine, workers=workers)
    steps = recipe.build_steps()
    t0 = time.perf_counter()
    eng = make_engine(engine, workers, address)
    try:
        decisions, tasks2, t1 = _decide(eng, recipe, steps, inputs, out, shard_size, log, progress)
        t2 = time.perf_counter()
        total_kept = sum(len(p) for t in tasks2 for _, p in t.parts)
        bar = tqdm(total=total_kept, desc=f"curate {recipe.name} [2/2 write]", unit="sample",
                   disable=not progress, smoothing=0)  # fmt: skip
        _run_tasks(eng, run_pass2, tasks2, log, "pass2_shard", bar)
        t3 = time.perf_counter()
    finally:
        eng.close()
    if not keep_staging:
        shutil.rmtree(work / "stage", ignore_errors=True)
    _write_kept_uids(decisions, out)
    manifest = _manifest(recipe, inputs, engine, workers, decisions, len(tasks2), shard_size,
                         total_kept, (t0, t1, t2, t3), _read_reports(steps, out))  # fmt: skip
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    log("done", **manifest["counts"], seconds=manifest["timing_s"]["total"])
    if audit:  # the audit needs pandas: imported only here, so curation workers start fast
        from globelens.curate.audit import write_audit

        write_audit(out)
    return manifest
