"""The study's runner and registry: stages in order, finished ones skipped, a stage that runs
again makes later ones stale, settings an act registers change its stages' fingerprints, and
every part of the demo joins the one registry without an import circle."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from globelens.experiments import nofilter
from globelens.experiments.study import STUDY, Study, StudyRegistry
from globelens.experiments.verdicts import (
    MIN_MARGIN,
    NO_DIFFERENCE,
    NOT_APPLICABLE,
    finding,
    not_applicable,
    share_finding,
)

SRC = Path(nofilter.__file__).resolve().parents[1]


def _pack(calls: list[str], setting: dict[str, str]) -> StudyRegistry:
    pack = StudyRegistry()
    for name, order in (("b", 20), ("a", 10), ("c", 30)):

        def run(study: Study, name: str = name) -> dict[str, str]:
            calls.append(name)
            return {"ran": name}

        pack.stage(name, order)(run)
    pack.stage("extra", 40, optional=True)(lambda study: calls.append("extra") and None)
    pack.settings.append((("b", "c"), lambda study, stage: setting["value"]))
    return pack


def test_stages_run_in_order_skip_when_done_and_rerun_after_a_change(tmp_path: Path) -> None:
    calls: list[str] = []
    setting = {"value": "one"}
    study = Study(tmp_path, nofilter.resolve_config("quick"), registry=_pack(calls, setting),
                  progress=False)  # fmt: skip
    assert study.stages == ("a", "b", "c")
    study.run()
    assert calls == ["a", "b", "c"]
    study.run()
    assert calls == ["a", "b", "c"]  # all finished with the same settings
    setting["value"] = "two"  # what b and c depend on changed; a is untouched
    study.run()
    assert calls == ["a", "b", "c", "b", "c"]
    study.run(["a"], force=True)  # a re-runs: b and c are stale
    assert not (tmp_path / "stages" / "b.json").exists()
    study.run()
    assert calls[-3:] == ["a", "b", "c"]
    assert "extra" not in calls
    study.run(["extra"])
    assert calls[-1] == "extra"
    log = [json.loads(x) for x in (tmp_path / "demo_log.jsonl").read_text().splitlines()]
    assert {"stage_start", "stage_end", "stage_skipped"} <= {r["event"] for r in log}


def test_registry_errors_name_the_stages(tmp_path: Path) -> None:
    pack = _pack([], {"value": "x"})
    with pytest.raises(ValueError, match="a, b, c, extra"):
        Study(tmp_path, nofilter.resolve_config("quick"), registry=pack).run(["fly"])
    with pytest.raises(ValueError, match="registered twice"):
        pack.stage("a", 5)(lambda study: None)


def test_the_demo_is_one_registry_of_acts() -> None:
    assert nofilter.STAGES == STUDY.names() == (
        "world", "curate", "tokenizer", "train", "evaluate",
        "codec", "vlm_train", "vlm_evaluate", "summarise", "report",
    )  # fmt: skip
    assert STUDY.names(optional=True)[-1] == "languages"
    assert set(STUDY.summary_parts) == {"generative"} and len(STUDY.report_parts) == 1


def _imports(path: Path) -> tuple[set[str], int]:
    """globelens modules imported at module level, and function-local globelens imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    local = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        for n in ast.walk(f)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("globelens")
    }
    return {m for m in top if m.startswith("globelens")}, len(local)


def test_experiments_and_report_have_no_import_circle_and_few_local_imports() -> None:
    graph: dict[str, set[str]] = {}
    local = 0
    for package in ("experiments", "report"):
        for path in (SRC / package).glob("*.py"):
            mods, n = _imports(path)
            graph[f"globelens.{package}.{path.stem}"] = mods
            local += n if package == "experiments" else 0

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for m in graph.get(start, ()):
            if m == goal or (m not in seen and reaches(m, goal, seen | {m})):
                return True
        return False

    assert [m for m in graph if reaches(m, m, set())] == []
    assert local <= 5


def test_one_engine_builds_every_finding() -> None:
    f = finding("a beats b", 0.01, [0.01], within_noise=True, unit="points")
    assert (f["status"], f["holds"], f["within_noise"]) == (NO_DIFFERENCE, None, True)
    assert finding("a beats b", 0.05, [0.04, 0.05, 0.06])["holds"] is True
    assert not_applicable("x", "no result")["status"] == NOT_APPLICABLE
    s = share_finding("keeps most", [0.004], [0.01], "gap", "share of the gap")
    assert s["status"] == NOT_APPLICABLE and s["min_gap"] == MIN_MARGIN
    assert share_finding("keeps most", [0.03], [0.04], "gap", "share")["holds"] is True
