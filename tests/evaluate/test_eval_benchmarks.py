"""Benchmark loaders on folders written in the real release formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_factory import (
    CLASSNAMES,
    write_coco,
    write_dollarstreet,
    write_geode,
    write_imagefolder,
    write_landmarks,
    write_wds,
    write_world,
    write_xm3600,
)

from globelens.evaluate.datasets import (
    WORLD_BENCHMARKS,
    BenchmarkFormatError,
    available,
    load_benchmark,
    resolve,
)
from globelens.evaluate.templates import OPENAI_IMAGENET_TEMPLATES, fill


def test_openai_templates_are_the_80_imagenet_prompts() -> None:
    assert len(OPENAI_IMAGENET_TEMPLATES) == len(set(OPENAI_IMAGENET_TEMPLATES)) == 80
    assert OPENAI_IMAGENET_TEMPLATES[0] == "a bad photo of a {c}."
    assert "itap of my {c}." in OPENAI_IMAGENET_TEMPLATES
    assert (
        fill("a photo of a {}.", "bus") == fill("a photo of a {c}.", "bus") == "a photo of a bus."
    )


def test_world_sets_resolve_by_name_through_the_format_loaders(tmp_path: Path) -> None:
    world = write_world(tmp_path / "world")
    formats = {}
    for name in WORLD_BENCHMARKS:
        b = load_benchmark(name, world)
        assert b.name == name and len(b) > 0 and not b.report.problems
        formats[name] = b.format
    assert formats == {
        "world/western": "wds",
        "world/dollarstreet": "dollarstreet",
        "world/geode": "geode",
        "world/landmarks": "landmarks",
        "world/xm3600": "xm3600",
    }
    # The benchmarks/ folder itself works as data root too.
    assert len(load_benchmark("world/geode", world / "benchmarks")) == 40


def test_dollarstreet_labels_groups_and_match_any(tmp_path: Path) -> None:
    b = load_benchmark(f"dollarstreet:{write_dollarstreet(tmp_path / 'ds')}")
    assert len(b) == 24
    # Default classes: the synsets present, named by their first ImageNet synonym.
    assert sorted(b.classnames) == sorted(CLASSNAMES)
    multi = [r for r in b.records if len(r.labels) == 2]
    assert len(multi) == 4 and all(b.classnames[r.labels[1]] == "lamp" for r in multi)
    r = b.records[0]
    assert r.meta["country"] == "Nigeria" and r.meta["region"] == "Africa"
    assert r.meta["income_bucket"] == "$0-200" and Path(r.path).is_file()
    assert {x.meta["income_bucket"] for x in b.records} == {
        "$0-200",
        "$201-684",
        "$685-1997",
        "$1998+",
    }
    assert b.worst_group["acc_top5_wg"] == "income_bucket"
    assert len(load_benchmark(f"dollarstreet:{tmp_path / 'ds'}", split="train")) == 4


def test_dollarstreet_with_imagenet_classnames_file(tmp_path: Path) -> None:
    root = write_dollarstreet(tmp_path / "ds")
    names = tmp_path / "imagenet_classes.txt"
    # wnid + name lines, including classes absent from the set (the 1k-way setting).
    names.write_text(
        "n01440764 tench, Tinca tinca\nn04330267 stove\nn02818832 four-poster\n"
        "n04447861 toilet seat\nn04453156 toothbrush\nn03636649 table lamp\n"
    )
    b = load_benchmark(f"dollarstreet:{root}", classnames_file=str(names))
    assert b.classnames[0] == "tench" and len(b.classnames) == 6
    assert b.classnames[b.records[0].labels[0]] == "stove"
    # A typo in an option fails, naming the valid ones (it used to be ignored).
    with pytest.raises(ValueError, match=r"got unknown key\(s\) \['classnames_fle'\]. "
                       r"Valid keys are: protocol, split, classnames_file"):  # fmt: skip
        load_benchmark(f"dollarstreet:{root}", classnames_fle=str(names))
    with pytest.raises(ValueError, match=r"\(geode format\) got unknown key\(s\) \['split'\]"):
        load_benchmark(f"geode:{write_geode(tmp_path / 'g')}", split="test")


def test_dollarstreet_without_income_fails_naming_file_and_column(tmp_path: Path) -> None:
    root = write_dollarstreet(tmp_path / "ds", drop_column="income")
    with pytest.raises(
        BenchmarkFormatError, match=r"images_v2_imagenet_test.csv has no column 'income'"
    ):
        load_benchmark(f"dollarstreet:{root}")


def test_missing_files_and_images_are_named(tmp_path: Path) -> None:
    root = write_geode(tmp_path / "geode")
    first = sorted((root / "images").rglob("*.jpg"))[0]
    first.unlink()
    b = load_benchmark(str(root))
    assert b.format == "geode" and len(b) == 39
    assert b.report.counts() == {"missing_image": 1}
    (root / "index.csv").unlink()
    with pytest.raises(BenchmarkFormatError, match=r"missing file 'index\.csv'"):
        load_benchmark(f"geode:{root}")


def test_unknown_benchmark_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown benchmark 'imagenet-9k'") as e:
        resolve("imagenet-9k", tmp_path)
    assert "world/dollarstreet" in str(e.value) and "geode" in str(e.value)
    assert "world/geode" in available()
    with pytest.raises(ValueError, match="--data-root"):
        resolve("world/geode", None)


def test_geode_landmarks_xm3600_coco_wds_imagefolder(tmp_path: Path) -> None:
    g = load_benchmark(str(write_geode(tmp_path / "g")))
    assert g.classnames == ["bed", "stove", "toilet"] and g.fewshot_targets == ("country", "region")
    assert {r.meta["region"] for r in g.records} == {"Africa", "Americas", "EastAsia", "Europe"}

    lm = load_benchmark(str(write_landmarks(tmp_path / "lm")))
    assert lm.format == "landmarks"
    # English names: the `name` column, else the Wikimedia category title.
    assert lm.classnames == ["Milad Tower", "CN Tower", "Taj Mahal"]
    assert lm.records[0].meta["country"] == "Iran"

    xm = load_benchmark(str(write_xm3600(tmp_path / "xm")))
    assert xm.tasks == ("zeroshot_retrieval",) and len(xm) == 10
    assert (
        set(xm.records[0].captions) == {"en", "fr", "ar"} and len(xm.records[0].captions["en"]) == 2
    )

    co = load_benchmark(str(write_coco(tmp_path / "co")))
    assert co.format == "coco" and len(co) == 6 and len(co.records[0].captions["en"]) == 2

    w = load_benchmark(str(write_wds(tmp_path / "w")))
    assert w.format == "wds" and len(w) == 20 and len(w.shards) == 2
    assert w.templates == ["a photo of a {c}.", "itap of a {c}."]
    assert w.records[3].labels == (3,) and w.records[0].meta["income_bucket"] == "$0-200"
    srcs = dict(w.iter_image_sources())
    assert len(srcs) == 20 and all(isinstance(v, bytes) for v in srcs.values())

    root = write_imagefolder(tmp_path / "inet")
    (root / "classnames_fr.txt").write_text("cuisinière\nlit\ntoilettes\nbrosse à dents\nlampe\n")
    f = load_benchmark(str(root))
    assert f.format == "imagefolder" and f.classnames == CLASSNAMES and len(f) == 20
    assert f.templates == list(OPENAI_IMAGENET_TEMPLATES)
    assert f.classnames_by_lang["fr"][1] == "lit"


def test_wds_bad_label_is_counted_not_fatal(tmp_path: Path) -> None:
    import io
    import tarfile

    root = write_wds(tmp_path / "w")
    with tarfile.open(root / "test" / "9.tar", "w") as tar:
        for name, data in (("bad.jpg", (root / "classnames.txt").read_bytes()), ("bad.cls", b"77")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    b = load_benchmark(str(root))
    assert len(b) == 20 and b.report.counts() == {"bad_label": 1}


def test_identity_changes_with_the_data(tmp_path: Path) -> None:
    root = write_geode(tmp_path / "g")
    a = load_benchmark(str(root)).identity()
    assert load_benchmark(str(root)).identity() == a
    img = sorted((root / "images").rglob("*.jpg"))[0]
    img.write_bytes(img.read_bytes() + b"\0")
    assert load_benchmark(str(root)).identity() != a
    json.dumps(a)
