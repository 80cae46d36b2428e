"""MetaCLIP metadata balancing: matching and thresholds against brute force, keep rates within
3 sigma, one alt-text per image, the pipeline (resumed after SIGKILL in either pass), the audit
and the world's metadata lists."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from curate_factory import make_sample, write_shards
from test_curate_pipeline import GLOBELENS, REPO, _outputs, _run_killed

from globelens.curate import audit_data, build_step, run_recipe
from globelens.curate.metadata import Matcher, load_metadata, p_to_t, t_to_p
from globelens.curate.recipe import load_recipe
from globelens.data import read_shards

# ------------------------------------------------------------------ brute-force references

# The released MetaCLIP ranges, plus Japanese kana (see globelens.curate.metadata).
_UNSPACED = [
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0x2CEB0, 0x2EBEF), (0xF900, 0xFAFF),
    (0x2E80, 0x2EFF), (0x2F00, 0x2FDF), (0x2FF0, 0x2FFF), (0x0E00, 0x0E7F), (0x0E80, 0x0EFF),
    (0x1000, 0x109F), (0x1780, 0x17FF), (0x0F00, 0x0FFF), (0x3040, 0x309F), (0x30A0, 0x30FF),
    (0x31F0, 0x31FF), (0xFF65, 0xFF9F),
]  # fmt: skip
_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") | set(
    "，。、；：？！“”‘’（）【】《》〈〉「」『』～—"
)


def _bare(ch: str) -> bool:
    return ch in _PUNCT or any(lo <= ord(ch) <= hi for lo, hi in _UNSPACED)


def brute_force_match(entries: list[str], text: str) -> list[int]:
    """MetaCLIP 1's ``substr_matching`` loop (``entry in text``), with MetaCLIP 2's padding."""
    spaced = f" {text.strip()} "
    for p in ",.;:?!`":
        spaced = spaced.replace(p, f" {p} ")
    for c in "\t\n\r":
        spaced = spaced.replace(c, " ")
    out = []
    for i, e in enumerate(entries):
        padded = (e if _bare(e[0]) else " " + e) if e else e
        padded = padded if _bare(padded[-1]) else padded + " "
        if padded in spaced:
            out.append(i)
    return out


def brute_force_p_to_t(counts: list[int], p: float) -> int:
    ordered = sorted(counts)
    total, cum, best, best_i = sum(ordered), 0, None, 0
    for i, c in enumerate(ordered):
        cum += c
        d = abs(cum / total - p)
        if best is None or d < best:
            best, best_i = d, i
    return ordered[best_i]


def brute_force_t_to_p(counts: list[int], t: float) -> float:
    return sum(c for c in counts if c < t) / sum(counts)


# ------------------------------------------------------------------ matching

# Nine scripts; zh, ja and th are written without spaces.
LISTS = {
    "en": ["stove", "gas stove", "bed", "St. Louis", "#home", "photo", "U.S.", "Stove"],
    "es": ["estufa", "cama", "cocina de leña", "niño"],
    "ru": ["печь", "кровать", "газовая плита"],
    "ar": ["موقد", "سرير", "موقد غاز"],
    "hi": ["चूल्हा", "बिस्तर", "मिट्टी का चूल्हा"],
    "zh": ["炉子", "燃气灶", "床", "厨房", "灶"],
    "ja": ["コンロ", "ガスコンロ", "台所", "ベッド", "写真"],
    "th": ["เตา", "เตียง", "โคมไฟ", "บ้าน"],
    "ko": ["스토브", "침대", "사진"],
}
NOISE = {
    "en": ["a", "stoves", "in", "the", "kitchen", "gas", "Louis", "home", "U.S"],
    "es": ["una", "estufas", "de", "leña", "cocina", "niños"],
    "ru": ["в", "печи", "дома", "плита"],
    "ar": ["في", "البيت", "غازي"],
    "hi": ["घर", "में", "का"],
    "zh": ["家里", "的", "一口", "锅"],
    "ja": ["家", "の", "ガス", "と", "鍋"],
    "th": ["ที่", "ของ", "เรา", "ขาย"],
    "ko": ["집", "에", "있는"],
}
UNSPACED_LANGS = {"zh", "ja", "th"}


def _texts(lang: str, n: int, rng: np.random.Generator) -> list[str]:
    vocab = LISTS[lang] + NOISE[lang]
    seps = ["", "", "", "，", "。", "!", "?"] if lang in UNSPACED_LANGS else [" "] * 6 + [", "]
    texts = []
    for _ in range(n):
        words = [vocab[int(i)] for i in rng.integers(len(vocab), size=int(rng.integers(1, 7)))]
        text = ""
        for w in words:
            text += w + seps[int(rng.integers(len(seps)))]
        if rng.random() < 0.2:
            text = text.replace(" ", "\t", 1)
        if rng.random() < 0.2:
            text = f"  {text}.\n"
        texts.append(text)
    return texts


def test_matching_equals_a_brute_force_substring_matcher_in_nine_scripts():
    rng = np.random.default_rng(26)
    for lang, entries in LISTS.items():
        matcher = Matcher(entries)
        texts = _texts(lang, 300, rng)
        found = [matcher.match(t) for t in texts]
        assert found == [brute_force_match(entries, t) for t in texts], lang
        assert sum(map(bool, found)) > 100, lang  # most texts match something


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "a gas stove, today", ["stove", "gas stove"]),
        ("en", "stoves in the kitchen", []),  # whole words for spaced scripts
        ("en", "a Stove", ["Stove"]),  # case-sensitive, as released
        # as released: the text's "." is spaced out, the entry's is not, so it never matches
        ("en", "visiting St. Louis!", []),
        ("en", "made in the U.S.", []),
        ("en", "bed\tphoto\nhome", ["bed", "photo"]),
        ("en", "sweet#home", ["#home"]),  # "#" starts the entry: no space needed before it
        ("zh", "家里厨房的燃气灶", ["燃气灶", "厨房", "灶"]),  # raw substrings, overlaps too
        ("ja", "台所にあるガスコンロ", ["コンロ", "ガスコンロ", "台所"]),
        ("th", "เตาที่บ้านเรา", ["เตา", "บ้าน"]),
        ("ko", "집에 있는 침대", ["침대"]),
        ("ko", "침대에", []),  # Hangul is spaced
    ],
)
def test_matching_rules(lang, text, expected):
    entries = LISTS[lang]
    assert [entries[i] for i in Matcher(entries).match(text)] == sorted(expected, key=entries.index)


def test_metadata_lists_read_txt_and_both_json_layouts(tmp_path):
    (tmp_path / "en.txt").write_text("stove\n\n  bed \nstove\r\n...\n", encoding="utf-8")
    (tmp_path / "zh.json").write_text(json.dumps(["炉子", "床"]), encoding="utf-8")
    (tmp_path / "ja.json").write_text(json.dumps({"コンロ": "w", "台所": "t"}), encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored")
    assert load_metadata(tmp_path) == {
        "en": ["stove", "bed"],
        "ja": ["コンロ", "台所"],
        "zh": ["炉子", "床"],
    }
    (tmp_path / "de.json").write_text('{"Herd": 1', encoding="utf-8")
    with pytest.raises(ValueError, match=r"de\.json is not valid JSON"):
        load_metadata(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_metadata(tmp_path / "missing")


# ------------------------------------------------------------------ thresholds and draws


def _entries_dir(tmp_path: Path, sizes: dict[str, int]) -> Path:
    d = tmp_path / "entries"
    d.mkdir(exist_ok=True)
    for lang, n in sizes.items():
        (d / f"{lang}.txt").write_text("".join(f"{lang}{i}\n" for i in range(n)))
    return d


def _pool(rng, sizes: dict[str, int], n: int, max_entries: int = 3):
    """Features of a synthetic pool: Zipf-like entry popularity, 1..max_entries per text."""
    feats, uids = [], []
    langs = list(sizes)
    for _ in range(n):
        lang = langs[int(rng.integers(len(langs)))]
        k = int(rng.integers(1, max_entries + 1))
        ids = sorted({int(min(rng.zipf(1.3), sizes[lang])) - 1 for _ in range(k)})
        feats.append([lang, ids, None])
        uids.append(f"{int(rng.integers(2**63)):016x}{int(rng.integers(2**63)):016x}")
    return feats, uids


def test_t_l_equals_a_brute_force_implementation_of_the_formula(tmp_path):
    sizes = {"en": 120, "de": 80, "zh": 60, "th": 40, "sw": 25}
    feats, uids = _pool(np.random.default_rng(3), sizes, 20_000)
    counts = {g: [0] * n for g, n in sizes.items()}
    for g, ids, _ in feats:
        for e in ids:
            counts[g][e] += 1
    md = _entries_dir(tmp_path, sizes)
    for t_en in (50, 300, 1000):
        step = build_step("metadata_balance", metadata=str(md), t_en=t_en, one_text_per="sample")
        step.select(feats, uids)
        rows = {r["lang"]: r for r in step.report().summary["languages"]}
        p = brute_force_t_to_p(counts["en"], t_en)
        assert step.report().summary["tail_mass"] == round(p, 6)
        assert rows["en"]["t"] == t_en
        for g in sizes:
            if g != "en":
                assert rows[g]["t"] == brute_force_p_to_t(counts[g], p), (t_en, g)
    rng = np.random.default_rng(5)
    for _ in range(200):  # ties, zeros, one entry
        c = [int(x) for x in rng.integers(0, 6, size=int(rng.integers(1, 12)))] + [1]
        p = float(rng.random())
        assert p_to_t(np.array(c), p) == brute_force_p_to_t(c, p)
        assert t_to_p(np.array(c), 3) == brute_force_t_to_p(c, 3)


def test_keep_rates_are_within_three_sigma_of_the_entry_probabilities(tmp_path):
    sizes = {"en": 30, "zh": 20}
    feats, uids = _pool(np.random.default_rng(11), sizes, 40_000, max_entries=1)
    multi, multi_uids = _pool(np.random.default_rng(12), {"zh": 20}, 10_000, max_entries=3)
    md = _entries_dir(tmp_path, sizes)
    step = build_step("metadata_balance", metadata=str(md), tail_mass=0.3, one_text_per="sample")
    drops, patches = step.select(feats + multi, uids + multi_uids)
    entries = pd.DataFrame(step.report().tables["entries"])
    head = entries[entries["p"] < 1]
    assert len(head) >= 5 and head["p"].min() < 0.2  # real cuts, not just a filter
    z = (entries["kept"] - entries["expected"]) / np.sqrt(entries["variance"].clip(lower=1e-12))
    assert (z.abs() <= 3).all(), entries[z.abs() > 3]
    single = entries[entries["lang"] == "en"]  # one entry per text: the rate is p itself
    assert np.allclose(single["expected"], single["texts"] * single["p"])
    # tail entries are always kept; a text's chance is 1 - prod(1 - p_e)
    assert (entries[entries["p"] == 1]["kept"] == entries[entries["p"] == 1]["texts"]).all()
    assert set(drops.values()) == {"metadata_not_sampled"} and len(drops) + len(patches) == 50_000
    # seeded per sample: another order of the same pool keeps the same samples
    order = np.random.default_rng(0).permutation(50_000)
    all_f, all_u = feats + multi, uids + multi_uids
    drops2, _ = step.select([all_f[i] for i in order], [all_u[i] for i in order])
    assert {all_u[order[j]] for j in drops2} == {all_u[i] for i in drops}


def test_one_alt_text_per_image_and_the_ladder_rungs(tmp_path):
    md = tmp_path / "md"
    md.mkdir()
    (md / "en.txt").write_text("stove\nbed\nkitchen\n")
    (md / "zh.txt").write_text("燃气灶\n厨房\n")
    (md / "other.txt").write_text("Herd\n")
    batch = [make_sample(i) for i in range(20)]
    for s in batch[10:]:  # samples 10..19 repeat the images of 0..9: two alt-texts each
        s.image_bytes = batch[int(s.key[1:]) - 10].image_bytes
    step = build_step("metadata_balance", metadata=str(md), t_en=100, lang_field="language")
    result = step(batch)
    reasons = Counter(r for _, r in result.dropped)
    report = step.report().summary
    rows = {r["lang"]: r for r in report["languages"]}
    # en (2 texts per image, 4 images) and zh and de ("other") match; the rest have no list
    assert rows["en"]["matched"] == 4 and rows["en"]["one_per_image"] == 2
    assert rows["other"]["matched"] == 2 and rows["zh"]["matched"] == 2
    assert reasons["metadata_other_text_of_image"] == 4  # one text of each matched image kept
    # languages without a list go to "other", where only German's "Herd" matches
    assert reasons["metadata_no_match"] == 12 and len(result.kept) == 4
    assert all(s.meta["metadata_entries"] for s in result.kept)
    assert "other" in {s.meta["metadata_lang"] for s in result.kept}
    (md / "other.txt").unlink()
    no_other = build_step("metadata_balance", metadata=str(md), t_en=100, lang_field="language")
    assert Counter(r for _, r in no_other(batch).dropped)["metadata_no_list"] == 14
    # English metadata only: every text against the English list
    en_only = build_step("metadata_balance", metadata=str(md), t_en=100, scope="english")
    en_only(batch)
    assert [r["lang"] for r in en_only.report().summary["languages"]] == ["en"]
    merged = build_step("metadata_balance", metadata=str(md), t_en=100, scope="merged")
    merged([make_sample(i) for i in range(20)])
    assert [r["lang"] for r in merged.report().summary["languages"]] == ["all"]
    only_zh = [["zh", [0], None]]
    with pytest.raises(ValueError, match="no caption matched the 'en' list"):
        step.select(only_zh, ["0" * 32])  # t_l needs English's tail mass
    shared = build_step("metadata_balance", metadata=str(md), t_en=100, threshold="shared")
    shared.select(only_zh, ["0" * 32])
    assert shared.report().summary["languages"][0]["t"] == 100
    with pytest.raises(ValueError, match="exactly one of 't_en' or 'tail_mass'"):
        build_step("metadata_balance", metadata=str(md))
    with pytest.raises(ValueError, match="Valid: per_language, english, merged"):
        build_step("metadata_balance", metadata=str(md), t_en=1, scope="english_only")
    with pytest.raises(ValueError, match="put a 'langid' step before it"):
        build_step("metadata_balance", metadata=str(md), t_en=1)(batch)


# ------------------------------------------------------------------ the pipeline


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("balance_shards")
    write_shards(d, n_shards=4, per_shard=10)
    md = d / "metadata"
    md.mkdir()
    (md / "en.txt").write_text("stove\nbed\nkitchen\nphoto\nwhite\n")
    (md / "es.txt").write_text("estufa\ncocina\ncasa\n")
    (md / "de.txt").write_text("Herd\nKüche\n")
    (md / "zh.txt").write_text("燃气灶\n厨房\n锅\n")
    (md / "ja.txt").write_text("コンロ\n台所\n鍋\n写真\n")
    return d


def _recipe(shards: Path, tmp_path: Path) -> str:
    path = tmp_path / "metaclip2.toml"
    path.write_text(
        'name = "metaclip2_test"\n[[steps]]\ntype = "metadata_balance"\n'
        f'metadata = "{shards / "metadata"}"\ntail_mass = 0.5\nlang_field = "language"\n'
    )
    return str(path)


def _stable(manifest_path: Path) -> dict:
    manifest = json.loads(manifest_path.read_text())
    for key in ("timing_s", "throughput_samples_per_s", "workers"):
        manifest.pop(key)
    return manifest


def test_pipeline_equals_the_step_on_one_list_and_audits_it(shards, tmp_path):
    recipe = _recipe(shards, tmp_path)
    m = run_recipe(recipe, str(shards / "*.tar"), tmp_path / "o", workers=1, shard_size=4,
                   audit=True, progress=False)  # fmt: skip
    samples = list(read_shards(str(shards / "*.tar")))
    step = load_recipe(recipe).build_steps()[0]
    expected = step(samples)
    kept = [s.meta["source_key"] for s in read_shards(str(tmp_path / "o" / "*.tar"))]
    assert kept == [s.key for s in expected.kept] and m["counts"]["kept"] == len(kept)
    report = m["steps"][0]["report"]
    assert report == json.loads(json.dumps(step.report().summary))
    assert {r["lang"] for r in report["languages"]} == {"en", "es", "de", "zh", "ja"}
    entries = pd.read_parquet(tmp_path / "o" / "reports" / "00_metadata_balance_entries.parquet")
    assert entries["count"].sum() > 0 and set(entries["lang"]) <= set(report["drops"]) | {
        "en",
        "es",
        "de",
        "zh",
        "ja",
    }
    audit = audit_data(tmp_path / "o")
    assert audit["reports"][0]["type"] == "metadata_balance"
    page = (tmp_path / "o" / "audit.html").read_text()
    assert "head entries (count → kept share)" in page and "<td>ja</td>" in page


@pytest.mark.slow
def test_resume_after_sigkill_in_either_pass_gives_the_same_output(shards, tmp_path):
    args = ["curate", "--recipe", _recipe(shards, tmp_path), "--in", str(shards / "*.tar")]
    args += ["--shard-size", "3", "-q"]
    run_recipe(_recipe(shards, tmp_path), str(shards / "*.tar"), tmp_path / "ref", workers=1,
               shard_size=3, progress=False)  # fmt: skip
    out = tmp_path / "killed"
    killed = [*args, "--out", str(out), "--workers", "1"]
    _run_killed(f"{os.sep}pass1{os.sep}00002.parquet", 0, killed)  # pass 1: shard 2 undecided
    assert len(list((out / "_work" / "pass1").glob("*.parquet"))) == 2
    _run_killed(".tar", 1, killed)  # pass 2: after output shard 0, before shard 1's tar
    assert (out / "reports" / "00_metadata_balance.json").exists()
    assert [p.name for p in (out / "_work" / "pass2").iterdir()] == ["00000.done"]
    final = subprocess.run([GLOBELENS, *args, "--out", str(out), "--workers", "2"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert _outputs(out) == _outputs(tmp_path / "ref") and len(list(out.glob("*.tar"))) > 2
    for name in ("00_metadata_balance.json", "00_metadata_balance_entries.parquet"):
        assert (out / "reports" / name).read_bytes() == (
            tmp_path / "ref/reports" / name
        ).read_bytes()
    assert _stable(out / "manifest.json") == _stable(tmp_path / "ref" / "manifest.json")


def test_the_bundled_recipes_run_on_the_worlds_own_metadata(tiny_world, tmp_path):
    lists = load_metadata(tiny_world / "metadata")
    summary = json.loads((tiny_world / "world.json").read_text(encoding="utf-8"))
    assert {k: len(v) for k, v in lists.items()} == summary["metadata"]
    assert {"en", "zh", "ja", "th", "ar", "hi"} <= set(lists) and "コンロ" in lists["ja"]
    for name, scope in (("metaclip", "english"), ("metaclip2", "per_language")):
        recipe = load_recipe(
            {**_toml(name), "steps": [
                {**s, "metadata": str(tiny_world / "metadata")} if "metadata" in s else s
                for s in _toml(name)["steps"]
            ]}
        )  # fmt: skip
        assert recipe.steps[-1].args["scope"] == scope
    samples = list(read_shards(str(tiny_world / "crawl")))[:600]
    clean = [s for s in samples if s.meta["caption_noise"] == "clean"]
    step = build_step("metadata_balance", metadata=str(tiny_world / "metadata"), t_en=10**9,
                      lang_field="language")  # fmt: skip
    result = step(clean)
    # every clean caption names its concept, landmark or country in its own language
    assert not result.dropped and len(result.kept) == len(clean) > 100


def _toml(name: str) -> dict:
    import tomllib

    path = REPO / "configs" / f"{name}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))
