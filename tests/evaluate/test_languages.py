"""The languages and cultures pack: Babel-ImageNet, CVQA and GlobalRG grounding in their
release layouts (with the mess users meet), scored against brute-force references."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from globelens.evaluate.datasets import BenchmarkFormatError, load_benchmark
from globelens.evaluate.datasets.imagenet import imagenet_classes
from globelens.evaluate.tasks.grounding import box_iou
from globelens.evaluate.tasks.multiple_choice import LETTERS, letter_prompt, read_choice
from globelens.models import tasklang
from globelens.models.base import Generation

COLORS = [(200, 40, 40), (40, 200, 60), (40, 70, 220), (220, 200, 40), (160, 40, 200),
          (30, 180, 190), (120, 120, 120), (250, 130, 20)]  # fmt: skip


def _jpeg_bytes(color: tuple[int, int, int], size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    im = Image.new("RGB", size, color)
    im.paste((255 - color[0], color[1] // 2, 255 - color[2]), (4, 4, 14, 12))
    im.save(buf, "JPEG")
    return buf.getvalue()


def _parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _hf_cosines(model_dir: Path, images: list[Image.Image], texts: list[str]) -> np.ndarray:
    """(images, texts) cosine similarities computed by transformers alone (the reference)."""
    import torch
    from transformers import AutoModel, AutoProcessor

    model, proc = (
        AutoModel.from_pretrained(model_dir).eval(),
        AutoProcessor.from_pretrained(model_dir),
    )
    with torch.no_grad():
        im = model.get_image_features(**proc(images=images, return_tensors="pt"))
        tx = proc(text=texts, padding="max_length", return_tensors="pt")
        te = model.get_text_features(**tx)
    im, te = (getattr(x, "pooler_output", x) for x in (im, te))
    norm = torch.nn.functional.normalize
    return (norm(im, dim=-1) @ norm(te, dim=-1).T).numpy()


# ------------------------------------------------------------------------- Babel-ImageNet

#: class index -> picture count (ImageNet val); 9 belongs to no language but EN
BABEL_PICTURES = {0: 2, 1: 2, 2: 1, 7: 2, 9: 1}
BABEL = {  # the release's layout: language -> [[class indices], [names]]
    "FR": [[0, 1, 2, 7], ["tanche", "poisson rouge", "grand requin blanc", "coq"]],
    "SW": [[1, 7], ["samaki wa dhahabu", "jogoo"]],
    "JA": [[0, 2, 9], ["テンチ", "ホホジロザメ", "ダチョウ"]],
}


def _babel_release(root: Path) -> Path:
    """ImageNet val as Kaggle ships it + the label file, one picture missing."""
    classes = imagenet_classes()
    rows, k = [], 0
    for c, n in BABEL_PICTURES.items():
        for _ in range(n):
            rid = f"ILSVRC2012_val_{k + 1:08d}"
            rows.append([rid, f"{classes[c][0]} 1 2 30 40"])
            if rid != "ILSVRC2012_val_00000004":  # listed but absent
                p = root / "ILSVRC/Data/CLS-LOC/val" / f"{rid}.JPEG"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(_jpeg_bytes(COLORS[k % len(COLORS)]))
            k += 1
    with open(root / "LOC_val_solution.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["ImageId", "PredictionString"], *rows])
    (root / "babel_imagenet-298.json").write_text(json.dumps(BABEL, ensure_ascii=False))
    (root / "prompts_native.json").write_text(json.dumps(
        {"FR": ["une photo de {}."], "SW": ["picha ya {}."], "JA": ["{}の写真。"]},
        ensure_ascii=False))  # fmt: skip
    return root


def test_babel_imagenet_partial_label_sets_against_transformers(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from globelens.evaluate.suite import SuiteOptions, evaluate_model_on_benchmark
    from globelens.models import load_dual_encoder

    root = _babel_release(tmp_path / "babel_imagenet")
    bench = load_benchmark(f"babel_imagenet:{root}?languages=fr,sw,ja")
    assert bench.protocol == "label" and len(bench) == 7
    assert bench.report.counts() == {"missing_image": 1}
    assert {k: len(v) for k, v in bench.label_sets.items()} == {"fr": 4, "sw": 2, "ja": 3}
    model = load_dual_encoder(tiny_model_dir)
    opts = SuiteOptions(n_bootstrap=50, progress=False)
    [res] = evaluate_model_on_benchmark(model, bench, ["multilingual_zeroshot"], opts, None)
    # Brute force: transformers' SigLIP over each language's own classes and pictures.
    texts = [n for names in bench.label_sets.values() for n in names.values()]
    cos = _hf_cosines(tiny_model_dir, [Image.open(r.path) for r in bench.records], texts)
    accs, col = {}, 0
    for lang, names in bench.label_sets.items():
        classes = list(names)
        rows = [k for k, r in enumerate(bench.records) if r.labels[0] in names]
        best = cos[rows, col : col + len(classes)].argmax(axis=1)
        col += len(classes)
        hits = [classes[b] == bench.records[k].labels[0] for b, k in zip(best, rows, strict=True)]
        accs[lang] = sum(hits) / len(hits)
        assert res["languages"][lang]["n"] == len(rows)
        assert res["languages"][lang]["acc1"] == pytest.approx(accs[lang])
    assert res["metrics"]["acc1"] == pytest.approx(np.mean(list(accs.values())))
    assert res["metrics"]["worst_language_acc1"] == pytest.approx(min(accs.values()))
    lo, hi = res["ci95"]["acc1"]
    assert lo <= res["metrics"]["acc1"] <= hi
    assert set(res["groups"]["language"]["groups"]) == {"fr", "sw", "ja"}
    # The release's own prompt files and EN (all 1,000 classes) by option; typos fail.
    b2 = load_benchmark(f"babel_imagenet:{root}?languages=en,sw&prompts=prompts_native")
    assert len(b2.label_sets["en"]) == 1000 and b2.templates_by_lang["sw"] == ["picha ya {}."]
    with pytest.raises(ValueError, match="no language XX"):
        load_benchmark(f"babel_imagenet:{root}?languages=xx")
    with pytest.raises(ValueError, match="prompts 'nope'"):
        load_benchmark(f"babel_imagenet:{root}?prompts=nope")


# ---------------------------------------------------------------------------------- CVQA


def _cvqa_row(i: int, subset: str, label: int, n_options: int = 4) -> dict:
    return {
        "image": {"bytes": _jpeg_bytes(COLORS[i % len(COLORS)]), "path": f"{i}.jpg"},
        "ID": f"59199911442724859{i:02d}_0", "Subset": subset,
        "Question": f"swali {i} ni nini hapa?", "Translated Question": f"what is {i} here?",
        "Options": [f"jibu {i}-{k}" for k in range(n_options)],
        "Translated Options": [f"answer {i}-{k}" for k in range(n_options)],
        "Label": label, "Category": "Food" if i % 2 else "Objects / materials / clothing",
        "Image Type": "Self", "Image Source": "Self-open", "License": "CC BY-SA",
    }  # fmt: skip


def _cvqa_release(root: Path) -> Path:
    subsets = ["('Swahili', 'Kenya')", "('Japanese', 'Japan')", "('Yoruba', 'Nigeria')"]
    rows = [_cvqa_row(i, subsets[i % 3], i % 4) for i in range(9)]
    rows.append(_cvqa_row(9, subsets[0], -1))  # the public split: answer withheld
    rows.append(_cvqa_row(10, subsets[1], 1, n_options=3))
    rows.append(_cvqa_row(11, "Japanese-Japan", 0))
    _parquet(root / "data/test-00000-of-00002.parquet", rows[:6])
    _parquet(root / "data/test-00001-of-00002.parquet", rows[6:])
    return root


def test_cvqa_option_cosine_against_transformers(tiny_model_dir: Path, tmp_path: Path) -> None:
    from globelens.evaluate.suite import SuiteOptions, evaluate_model_on_benchmark
    from globelens.models import load_dual_encoder

    root = _cvqa_release(tmp_path / "cvqa")
    bench = load_benchmark(str(root))
    assert bench.format == "cvqa" and bench.protocol == "local+english" and len(bench) == 9
    assert bench.report.counts() == {"hidden_label": 1, "bad_options": 1, "bad_subset": 1}
    assert bench.records[0].meta["country"] == "Kenya"
    local = bench.records[0].annotations["mcq"][0]
    assert local.language == "sw" and letter_prompt(local).startswith("answer sw swali 0")
    assert load_benchmark(f"cvqa:{root}?questions=en").protocol == "english"
    model = load_dual_encoder(tiny_model_dir)
    opts = SuiteOptions(n_bootstrap=50, progress=False)
    [res] = evaluate_model_on_benchmark(model, bench, ["multiple_choice"], opts, None)
    images = [Image.open(io.BytesIO(b)) for _, b in sorted(bench.iter_image_sources())]
    items = [(k, q) for k, rec in enumerate(bench.records) for q in rec.annotations["mcq"]]
    texts = [f"{q.question} {o}" for _, q in items for o in q.options]
    cos = _hf_cosines(tiny_model_dir, images, texts)
    hits: dict[str, list[bool]] = {"local": [], "en": []}
    for j, (k, q) in enumerate(items):
        best = int(cos[k, 4 * j : 4 * j + 4].argmax())
        hits[q.version].append(best == q.label)
    assert res["metrics"]["acc_local"] == pytest.approx(np.mean(hits["local"]))
    assert res["metrics"]["acc_en"] == pytest.approx(np.mean(hits["en"]))
    assert res["metrics"]["acc"] == pytest.approx(np.mean(hits["local"] + hits["en"]))
    assert set(res["groups"]["country"]["groups"]) == {"Kenya", "Japan", "Nigeria"}
    assert {"worst_country_acc_local", "worst_language_acc_en"} <= set(res["metrics"])
    # The English version is broken down by the place's language too (whose questions).
    assert set(res["groups"]["language_en"]["groups"]) == {"Swahili", "Japanese", "Yoruba"}
    kenya = [
        h
        for h, (k, q) in zip(hits["en"], [x for x in items if x[1].version == "en"], strict=True)
        if bench.records[k].meta["country"] == "Kenya"
    ]
    assert res["groups"]["country_en"]["groups"]["Kenya"]["acc"] == pytest.approx(np.mean(kenya))
    assert "acc_local" in res["ci95"]


class ScriptedGenerator:
    """A generator that answers from a table by prompt (letters, texts and garbage)."""

    image_size = 32
    fingerprint = "scripted-v1"
    codec = None

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, images: Sequence[Image.Image], prompts: Sequence[str], **_: object):
        return [Generation(self.answers.get(p, "<loc9999> ?"), (), -1.0) for p in prompts]


def test_cvqa_letter_protocol_counts_invalid_answers(tmp_path: Path) -> None:
    from globelens.evaluate.suite import SuiteOptions, evaluate_model_on_benchmark

    bench = load_benchmark(str(_cvqa_release(tmp_path / "cvqa")))
    items = [q for r in bench.records for q in r.annotations["mcq"]]
    styles = ["{L}", "({L})", "{L}. {O}", "{O}", "{W}", "E", "", "maybe {L} or {W}"]
    answers, expected, invalid = {}, [], 0
    for k, q in enumerate(items):
        style = styles[k % len(styles)]
        wrong = (q.label + 1) % 4
        text = style.format(L=LETTERS[q.label], O=q.options[q.label], W=LETTERS[wrong])
        answers[letter_prompt(q)] = text
        choice, why = read_choice(text, q.options)
        invalid += bool(why)
        expected.append(choice == q.label)
    opts = SuiteOptions(n_bootstrap=0, progress=False, cache_dir="")
    gen = ScriptedGenerator(answers)
    [res] = evaluate_model_on_benchmark(gen, bench, ["multiple_choice_by_generation"], opts, None)
    assert res["metrics"]["acc"] == pytest.approx(np.mean(expected))
    assert res["invalid"]["count"] == invalid > 0
    assert res["invalid"]["reasons"] == {
        "no_choice": 2,
        "empty_answer": 2,
        "letter_out_of_range": 2,
    }
    assert read_choice("b", ("x", "y", "z", "w")) == (1, "")
    assert read_choice("Answer 42", ("x", "y", "z", "w")) == (-1, "no_choice")
    assert read_choice("a bowl of rice", ("x", "y", "z", "bowl")) == (-1, "no_choice")
    assert read_choice("(C) z", ("x", "y", "z", "w")) == (2, "")


# ------------------------------------------------------------------------------- GlobalRG


def _globalrg_release(root: Path) -> Path:
    rows, answers = [], {}
    regions = ["India", "Nigeria", "Mexico"]
    for i in range(8):
        rows.append({"u_id": f"u{i}", "image": {"bytes": _jpeg_bytes(COLORS[i], (40, 30)),
                     "path": None}, "region": regions[i % 3], "concept": f"thing {i}"})  # fmt: skip
        answers[f"u{i}"] = [4.0, 4.0, 20.0, 16.0] if i % 2 else [[2, 2, 10, 10], [20, 10, 16, 16]]
    answers.pop("u6")  # withheld
    answers["u7"] = [3, 3, 0, 5]  # no area
    _parquet(root / "data/test-00000-of-00001.parquet", rows)
    (root / "answers.json").write_text(json.dumps(answers))
    return root


def test_globalrg_grounding_iou_against_brute_force(tmp_path: Path) -> None:
    from globelens.evaluate.suite import SuiteOptions, evaluate_model_on_benchmark

    root = _globalrg_release(tmp_path / "globalrg")
    bench = load_benchmark(str(root))
    assert bench.format == "globalrg" and len(bench) == 6
    assert bench.report.counts() == {"no_answer": 1, "bad_box": 1}
    w, h = 40, 30
    answers, hits = {}, []
    for k, rec in enumerate(bench.records):
        g = rec.annotations["grounding"][0]
        x, y, bw, bh = g.boxes[-1]
        shift = [0, 3, 9, None, 1, 6][k]
        if shift is None:
            answers[tasklang.detect([g.concept])] = "<loc0003><loc0001> no box"
            hits.append(False)
            continue
        pred = (x + shift, y, min(w, x + bw + shift), y + bh)
        answers[tasklang.detect([g.concept])] = tasklang.encode_box(pred, w, h) + " " + g.concept
        q = tasklang.quantize_box(pred, w, h)
        best = max(box_iou(q, (a, b, a + c, b + d)) for a, b, c, d in g.boxes)
        hits.append(best >= 0.5)
    opts = SuiteOptions(n_bootstrap=30, progress=False, cache_dir="")
    [res] = evaluate_model_on_benchmark(
        ScriptedGenerator(answers), bench, ["grounding"], opts, None
    )
    assert res["metrics"]["grounding_acc"] == pytest.approx(np.mean(hits))
    assert 0 < np.mean(hits) < 1
    assert res["invalid"]["count"] == 1
    assert set(res["groups"]["country"]["groups"]) == {"India", "Nigeria", "Mexico"}
    assert "worst_country_grounding_acc" in res["metrics"]
    with pytest.raises(BenchmarkFormatError, match="withholds them"):
        load_benchmark(f"globalrg:{root}?answers=missing.json")


# ------------------------------------------------------------- the world's sets, from the CLI


def test_world_language_sets_run_from_the_cli_for_both_model_kinds(
    tiny_world: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner
    from vlm_factory import tiny_paligemma_dir

    from globelens.cli.main import app
    from globelens.evaluate.datasets import WORLD_LANGUAGE_BENCHMARKS
    from globelens.world.lexicon import CONCEPTS

    sizes = {n: len(load_benchmark(n, tiny_world)) for n in WORLD_LANGUAGE_BENCHMARKS}
    assert sizes == {"world/babel": 48, "world/cvqa": 140, "world/grounding": 48}
    babel = load_benchmark("world/babel", tiny_world)
    assert len(babel.label_sets["en"]) == len(CONCEPTS)
    assert all(len(s) < len(CONCEPTS) for lang, s in babel.label_sets.items() if lang != "en")
    out = tmp_path / "results"
    base = ["eval", "--data-root", str(tiny_world), "--bootstrap", "20", "--no-cache",
            "-o", str(out), "--limit", "6"]  # fmt: skip
    runner = CliRunner()
    r = runner.invoke(app, [*base, "-m", str(tiny_model_dir), "-b", "world/babel,world/cvqa"])
    assert r.exit_code == 0, r.output
    name = tiny_model_dir.name
    zs = json.loads((out / f"{name}__world_babel__multilingual_zeroshot.json").read_text())
    assert zs["protocol"] == "label" and zs["num_languages"] > 10
    assert zs["metrics"]["worst_language_acc1"] <= zs["metrics"]["acc1"]
    mc = json.loads((out / f"{name}__world_cvqa__multiple_choice.json").read_text())
    assert mc["protocol"] == "local+english" and mc["n_evaluated"] == 12
    assert {"acc_local", "acc_en"} <= set(mc["metrics"])
    pg = tiny_paligemma_dir(tmp_path / "pg")
    args = [*base, "-m", str(pg), "-b", "world/cvqa,world/grounding", "--max-new-tokens", "6"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    letter = json.loads((out / "pg__world_cvqa__multiple_choice_by_generation.json").read_text())
    assert letter["n_evaluated"] == 12 and letter["invalid"]["total"] == 12
    assert letter["metrics"]["invalid_rate"] == letter["invalid"]["count"] / 12
    ground = json.loads((out / "pg__world_grounding__grounding.json").read_text())
    assert ground["n_evaluated"] == 6 and "country" in ground["groups"]
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert {row["task"] for row in rows} == {"multiple_choice_by_generation", "grounding"}


def test_garbage_answers_are_counted_invalid(tmp_path: Path) -> None:
    from gen_factory import HostileGenerator

    from globelens.evaluate.suite import SuiteOptions, evaluate_model_on_benchmark

    opts = SuiteOptions(n_bootstrap=10, progress=False, cache_dir="", gen_batch_size=4)
    cvqa = load_benchmark(str(_cvqa_release(tmp_path / "cvqa")))
    [res] = evaluate_model_on_benchmark(
        HostileGenerator(), cvqa, ["multiple_choice_by_generation"], opts, None
    )
    # Failed calls are skipped with their reason; every answer that came back is scored.
    failed = res["skipped"].get("generation_error", 0)
    assert res["invalid"]["count"] > 0 and failed > 0
    assert res["n_evaluated"] + failed == 18
    grg = load_benchmark(str(_globalrg_release(tmp_path / "globalrg")))
    [res] = evaluate_model_on_benchmark(HostileGenerator(), grg, ["grounding"], opts, None)
    assert res["invalid"]["count"] > 0
    assert res["n_evaluated"] + res["skipped"].get("generation_error", 0) == 6


def test_study_languages_tables_over_every_tower(
    tiny_world: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vlm_factory import tiny_paligemma_dir

    from globelens.experiments import languages_study
    from globelens.experiments.generative_act import vlm_dir
    from globelens.experiments.languages_study import evaluate_languages, summarise_languages
    from globelens.experiments.nofilter import Study, resolve_config

    study = Study(tmp_path / "demo", resolve_config("quick", n_bootstrap=20), progress=False)
    (study.out / "world").symlink_to(tiny_world)
    for v in study.variants:
        study.model_dir(v, 0).parent.mkdir(parents=True)
        study.model_dir(v, 0).symlink_to(tiny_model_dir)
    tiny_paligemma_dir(vlm_dir(study, "globe", 0) / "model")  # act two made one model
    monkeypatch.setattr(languages_study, "GENERATIVE_LIMIT", 4)
    res = evaluate_languages(study)
    md = (study.out / "languages.md").read_text()
    assert "| sw |" in md and "**worst language**" in md and "| globe-tl→en |" in md
    assert set(res["models"]) == set(study.variants)
    assert "| globe + decoder, seed 0 |" in md and "grounding IoU≥0.5" in md
    from globelens.evaluate.datasets import WORLD_LANGUAGE_BENCHMARKS

    sizes = {n: len(load_benchmark(n, tiny_world)) for n in WORLD_LANGUAGE_BENCHMARKS}
    assert sizes == {"world/babel": 48, "world/cvqa": 140, "world/grounding": 48}
    babel = load_benchmark("world/babel", tiny_world)
    assert set(res["models"]["en"]["languages"]) == set(babel.label_sets)
    # Over seeds: mean and sample standard deviation of each seed's number.
    fake = {s: [{"model": "en", "task": "multiple_choice", "metrics": {"acc_local": a}}]
            for s, a in ((0, 0.2), (1, 0.4), (2, 0.9))}  # fmt: skip
    cvqa = summarise_languages(fake, ["en"])["en"]["CVQA LOCAL"]
    assert cvqa["mean"] == pytest.approx(0.5) and cvqa["sd"] == pytest.approx(
        np.std([0.2, 0.4, 0.9], ddof=1)
    )
