"""MetaCLIP 2's ladder in the study: opt-in data and model variants, an unchanged default
study, and the balanced-data findings with their seed agreement and the paper's numbers."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from globelens.experiments.nofilter import (
    DATA_VARIANTS,
    LADDER,
    PROFILES,
    data_variants,
    model_variants,
)
from globelens.experiments.nofilter_summary import balanced_findings


def test_the_default_study_is_unchanged_and_the_ladder_is_opt_in():
    quick = PROFILES["quick"]
    fields = dataclasses.asdict(quick)
    del fields["ladder"]
    blob = json.dumps({"seed": 0, **fields}, sort_keys=True)
    assert quick.fingerprint(0) == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert list(model_variants(0.2)) == ["en", "globe", "globe-tl", "globe→en", "globe-tl→en"]
    assert data_variants() == DATA_VARIANTS
    ladder = PROFILES["ladder"]
    assert ladder.ladder and ladder.seeds == 3 and ladder.fingerprint(0) != quick.fingerprint(0)
    models = model_variants(0.2, ladder=True)
    assert [m for m in models if m in LADDER] == list(LADDER)
    assert all(models[m].phases == ((1.0, m),) for m in LADDER)
    assert set(data_variants(True)) == set(DATA_VARIANTS) | set(LADDER)


def test_ladder_recipes_balance_over_the_worlds_own_lists(tiny_world):
    rungs = {}
    for name, dv in LADDER.items():
        recipe = dv.build_recipe(tiny_world)
        assert [s.type for s in recipe.steps] == ["langid", "metadata_balance"]
        rungs[name] = recipe.steps[1].args
        assert rungs[name]["metadata"] == str(tiny_world / "metadata")
    assert rungs["mc2-en-metadata"]["scope"] == "english"
    assert rungs["mc2-merged"]["scope"] == "merged"
    assert rungs["mc2-one-t"]["threshold"] == "shared"
    assert rungs["metaclip2"]["threshold"] == "per_language"


def _metric(per_seed):
    return {"value": sum(per_seed) / len(per_seed), "per_seed": per_seed}


def test_balanced_findings_are_judged_by_the_seeds_beside_the_papers_direction():
    table = {
        "en": {"western": _metric([0.60, 0.62, 0.61]), "dollarstreet": _metric([0.30] * 3),
               "landmarks": _metric([0.20] * 3)},
        "globe": {"western": _metric([0.40, 0.42, 0.41]), "dollarstreet": _metric([0.35] * 3),
                  "landmarks": _metric([0.30] * 3)},
        "metaclip2": {"western": _metric([0.50, 0.63, 0.45]),
                      "dollarstreet": _metric([0.36, 0.37, 0.38]),
                      "landmarks": _metric([0.32, 0.30, 0.34])},
    }  # fmt: skip
    found = balanced_findings(table)
    assert set(found) == {
        f"metaclip2_beats_{o}_{k}" for o in ("en", "globe") for k in ("western", "global")
    }
    vs_en = found["metaclip2_beats_en_western"]
    assert vs_en["status"] == "not robust" and vs_en["holds"] is None  # one seed the other way
    assert [round(x, 2) for x in vs_en["per_seed"]] == [-0.10, 0.01, -0.16]
    glob = found["metaclip2_beats_en_global"]
    assert glob["status"] == "holds" and glob["holds"]
    assert [round(x, 3) for x in glob["per_seed"]] == [0.09, 0.085, 0.11]
    # one sign on every seed (+10, +21, +4), but the interval of the mean reaches below zero
    assert found["metaclip2_beats_globe_western"]["status"] == "not robust"
    assert balanced_findings({"en": table["en"]}) == {}
    from globelens.experiments.nofilter_summary import findings

    table["globe"].update({k: _metric([0.5] * 3) for k in ("geode", "geode_country_10shot",
                                                            "dollarstreet_disparity")})  # fmt: skip
    table["en"].update({k: _metric([0.5] * 3) for k in ("geode", "geode_country_10shot",
                                                         "dollarstreet_disparity")})  # fmt: skip
    full = findings(table)
    assert full["metaclip2_beats_en_western"]["paper"]["margin"] == 0.8  # 81.3 vs 80.5
    assert full["metaclip2_beats_en_western"]["direction_matches"] is None  # not robust
    assert full["metaclip2_beats_en_global"]["direction_matches"] is True  # 69.0 vs 52.8
    assert full["metaclip2_beats_globe_global"]["direction_matches"] is None
