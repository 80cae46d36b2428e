"""Real releases as they ship: small copies in each release's exact layout (file names,
folders, columns, id types) with the mess users meet, read through the spec syntax."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from globelens.evaluate.datasets import BenchmarkFormatError, load_benchmark, resolve
from globelens.evaluate.datasets.imagenet import imagenet_classes
from globelens.evaluate.datasets.registry import split_options


def _jpeg(path: Path, color: tuple[int, int, int] = (200, 40, 40)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (24, 24), color).save(path, "JPEG")


def _write(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _csv(path: Path, header: list[str], rows: list[list[str]], bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _reasons(bench) -> dict[str, int]:
    return dict(bench.report.counts())


# ------------------------------------------------------------------------ the shipped names


def test_shipped_imagenet_names_are_clips_in_sorted_wnid_order() -> None:
    classes = imagenet_classes()
    wnids = [w for w, _ in classes]
    assert len(classes) == 1000 and wnids == sorted(wnids) and len(set(wnids)) == 1000
    assert classes[0] == ("n01440764", "tench") and classes[-1] == ("n15075141", "toilet paper")
    names = dict(classes)
    # CLIP's cleaned names, not WordNet's first synonyms ("crane" twice, "maillot" twice).
    assert names["n02012849"] == "crane bird" and names["n03126707"] == "construction crane"
    assert names["n04596742"] == "wok" and names["n07747607"] == "orange"


# ----------------------------------------------------------------------- the spec syntax


def test_spec_options_are_typed_checked_and_named(tmp_path: Path) -> None:
    assert split_options("coco_det?split=val2017&verify_images=false") == (
        "coco_det",
        {"split": "val2017", "verify_images": "false"},
    )
    odd = tmp_path / "what?now"
    odd.mkdir()
    assert split_options(str(odd)) == (str(odd), {})  # an existing path is never split
    root = tmp_path / "ds"
    _dollarstreet(root, n=4)
    b = load_benchmark(f"dollarstreet:{root}?protocol=datacomp&split=test")
    assert b.protocol == "datacomp" and b.name == "dollarstreet:ds?protocol=datacomp&split=test"
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['protocl'\]. Valid keys are: "):
        load_benchmark(f"dollarstreet:{root}?protocl=nofilter")
    with pytest.raises(ValueError, match=r"option verify_images='maybe': expected true or false"):
        load_benchmark(f"xm3600_captions:{root}?verify_images=maybe")
    with pytest.raises(ValueError, match="given twice"):
        resolve(f"dollarstreet:{root}?split=test&split=train")


# --------------------------------------------------------------- COCO, VQAv2, RefCOCO as shipped


def _coco_images(folder: Path, ids: list[int], pattern: str) -> list[dict]:
    out = []
    for i in ids:
        name = pattern.format(i)
        _jpeg(folder / name)
        out.append({"id": i, "file_name": name, "height": 24, "width": 24})
    return out


def _coco_release(root: Path) -> None:
    """annotations/{instances,captions}_{train,val}2017.json + train2017/ + val2017/."""
    for split, ids in (("train2017", [9, 25]), ("val2017", [139, 285, 632])):
        images = _coco_images(root / split, ids, "{:012d}.jpg")
        anns = [{"id": k, "image_id": i, "category_id": 18, "bbox": [2, 2, 10, 10], "area": 100,
                 "iscrowd": 0, "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]}
                for k, i in enumerate(ids)]  # fmt: skip
        cats = [{"id": 18, "name": "dog", "supercategory": "animal"}]
        _write(root / "annotations" / f"instances_{split}.json",
               {"images": images, "annotations": anns, "categories": cats})  # fmt: skip
        caps = [{"id": k, "image_id": i, "caption": "A dog."} for k, i in enumerate(ids)]
        _write(root / "annotations" / f"captions_{split}.json",
               {"images": images, "annotations": caps})  # fmt: skip


def _vqa_release(root: Path) -> None:
    """Every question file of the release side by side; answers only for train and val."""
    for sub, ids in (("train2014", [9]), ("val2014", [42, 73]), ("test2015", [1]),
                     ("test-dev2015", [1])):  # fmt: skip
        folder = "test2015" if sub.startswith("test") else sub
        _coco_images(root / folder, ids, f"COCO_{folder}_{{:012d}}.jpg")
        qs = [{"image_id": i, "question": "What color?", "question_id": i * 1000} for i in ids]
        _write(root / f"v2_OpenEnded_mscoco_{sub}_questions.json",
               {"data_subtype": sub, "questions": qs})  # fmt: skip
        if sub.startswith("test"):
            continue
        anns = [{"question_id": i * 1000, "image_id": i, "question_type": "what color",
                 "answer_type": "other", "multiple_choice_answer": "red",
                 "answers": [{"answer": "red", "answer_confidence": "yes", "answer_id": j}
                             for j in range(1, 11)]} for i in ids]  # fmt: skip
        _write(root / f"v2_mscoco_{sub}_annotations.json", {"annotations": anns})


def _refer_release(data: Path) -> Path:
    """REFER's data/ folder: refcoco/{instances.json, refs(unc).json, refs(google).json}
    (both pickles converted) and the pictures at data/images/mscoco/images/train2014."""
    root = data / "refcoco"
    images = _coco_images(data / "images/mscoco/images/train2014", [1, 2, 3, 4],
                          "COCO_train2014_{:012d}.jpg")  # fmt: skip
    anns = [{"id": 10 + i, "image_id": i, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100,
             "iscrowd": 0, "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]} for i in (1, 2, 3, 4)]  # fmt: skip
    _write(root / "instances.json",
           {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]})  # fmt: skip
    for split_by, splits in (("unc", ["train", "val", "testA", "testB"]),
                             ("google", ["train", "val", "val", "val"])):  # fmt: skip
        refs = [{"ref_id": i, "ann_id": 10 + i, "image_id": i, "split": s, "category_id": 1,
                 "sentences": [{"sent": f"person {i}", "raw": f"person {i}", "tokens": [],
                                "sent_id": i}]}
                for i, s in zip((1, 2, 3, 4), splits, strict=True)]  # fmt: skip
        _write(root / f"refs({split_by}).json", refs)
    (root / "refs(unc).p").write_bytes(b"\x80\x04never opened")
    return root


def test_named_releases_pick_the_split_papers_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _coco_release(data / "coco")
    _vqa_release(data / "vqav2")
    _refer_release(data / "refer")
    shutil.move(data / "refer", data / "refer_data")
    (data / "refcoco").symlink_to(data / "refer_data" / "refcoco")
    det = load_benchmark("coco_det", data)
    assert det.index_files[0].endswith("instances_val2017.json")
    assert [r.id for r in det.records] == ["139", "285", "632"]
    assert load_benchmark("coco_det?split=train2017", data).name == "coco_det?split=train2017"
    assert [r.id for r in load_benchmark("coco_det?split=train2017", data).records] == ["9", "25"]
    caps = load_benchmark("coco_captions", data)
    assert caps.index_files[0].endswith("captions_val2017.json") and len(caps) == 3
    vqa = load_benchmark("vqav2", data)
    assert vqa.index_files[0].endswith("v2_OpenEnded_mscoco_val2014_questions.json")
    assert sorted(r.id for r in vqa.records) == ["42", "73"]
    with pytest.raises(BenchmarkFormatError, match="test splits have none"):
        load_benchmark("vqav2?subtype=test-dev2015", data)
    # RefCOCO: unc over google, val by default, REFER's picture folder found two levels up.
    ref = load_benchmark("refcoco", data)
    assert ref.index_files[1].endswith("refs(unc).json") and [r.id for r in ref.records] == ["2"]
    assert "mscoco/images/train2014" in ref.records[0].path
    test = load_benchmark("refcoco?split=test", data)  # REFER reads it as testA + testB
    assert sorted(r.id for r in test.records) == ["3", "4"]
    google = load_benchmark("refcoco?split_by=google", data)
    assert sorted(r.id for r in google.records) == ["2", "3", "4"]


# ------------------------------------------------------------------------------------ GLDv2


def _gldv2_release(root: Path) -> None:
    """The release's metadata files and test/ pictures (v2.1 solutions)."""
    test_ids = ["00a1b2c3d4e5f601", "01b2c3d4e5f60712", "0fe2d3c4b5a69703", "1a2b3c4d5e6f7804",
                "2b3c4d5e6f708905", "3c4d5e6f70819a06", "4d5e6f708192ab07"]  # fmt: skip
    for i, tid in enumerate(test_ids):
        if i != 3:  # one landmark picture is missing on disk
            _jpeg(root / "test" / tid[0] / tid[1] / tid[2] / f"{tid}.jpg", (30 * i, 80, 120))
    _csv(root / "test.csv", ["id"], [[t] for t in test_ids])
    _csv(
        root / "recognition_solution_v2.1.csv",
        ["id", "landmarks", "Usage"],
        [
            [test_ids[0], "12", "Public"],
            [test_ids[1], "7", "Private"],
            [test_ids[2], "", "Public"],  # a non-landmark picture (a distractor)
            [test_ids[3], "190", "Private"],  # its picture is missing: 190 stays a class
            [test_ids[4], "12 7", "Public"],  # several landmarks: match any
            [test_ids[5], "7", "Ignored"],
            [test_ids[6], "999", "Public"],  # not in the label-to-category files
        ],
        bom=True,
    )
    _csv(
        root / "retrieval_solution_v2.1.csv",
        ["id", "images", "Usage"],
        [[test_ids[0], "aaa0000000000001 aaa0000000000002", "Public"],
         [test_ids[1], "bbb0000000000001", "Private"], [test_ids[2], "None", "Ignored"]],
    )  # fmt: skip
    cat = "http://commons.wikimedia.org/wiki/Category:"
    _csv(root / "train_label_to_category.csv", ["landmark_id", "category"],
         [["7", cat + "Milad_Tower"], ["12", cat + "CN_Tower"], ["190", cat + "Sacr%C3%A9-C%C5%93ur"]])  # fmt: skip
    _csv(root / "index_label_to_category.csv", ["landmark_id", "category"],
         [["7", cat + "Milad_Tower"], ["12", cat + "CN_Tower"]])  # fmt: skip
    _csv(root / "index_image_to_landmark.csv", ["id", "landmark_id"],
         [["aaa0000000000001", "12"], ["aaa0000000000002", "12"], ["bbb0000000000001", "7"]])  # fmt: skip
    _csv(root / "index.csv", ["id"], [["aaa0000000000001"], ["aaa0000000000002"]])


def test_gldv2_recognition_and_retrieval_protocols(tmp_path: Path) -> None:
    root = tmp_path / "gldv2"
    _gldv2_release(root)
    assert resolve(str(root))[0] == "gldv2"
    b = load_benchmark(str(root))
    assert b.protocol == "recognition"
    assert b.classnames == ["Milad Tower", "CN Tower", "Sacré-Cœur"]  # the label space: 7, 12, 190
    assert [(r.id[:4], r.labels) for r in b.records] == [
        ("00a1", (1,)),
        ("01b2", (0,)),
        ("2b3c", (1, 0)),
    ]
    assert b.records[0].path.endswith("test/0/0/a/00a1b2c3d4e5f601.jpg")
    assert _reasons(b) == {"non_landmark": 1, "missing_image": 1, "unknown_landmark": 1}
    private = load_benchmark(f"gldv2:{root}?usage=Private")
    assert [r.id[:4] for r in private.records] == ["01b2"] and len(private.classnames) == 2
    assert len(load_benchmark(f"gldv2:{root}?usage=Public,Private,Ignored")) == 4
    everything = load_benchmark(f"gldv2:{root}?usage=Public+Private+Ignored")
    assert len(everything) == 4
    ret = load_benchmark(f"gldv2:{root}?protocol=retrieval")
    assert ret.protocol == "retrieval" and ret.classnames == ["Milad Tower", "CN Tower"]
    assert [(r.id[:4], r.labels) for r in ret.records] == [("00a1", (1,)), ("01b2", (0,))]


# ------------------------------------------------------------------------------ Dollar Street

DS_HEADER = ["id", "country.id", "country.name", "region.id", "type", "imageRelPath", "place",
             "income", "topics", "imagenet_synonyms", "imagenet_sysnet_id"]  # fmt: skip
DS_TOPICS = [("n04330267", "stove"), ("n03201208", "dining table, board"),
             ("n04447861", "toilet seat"), ("n03223299", "doormat, welcome mat")]  # fmt: skip


def _dollarstreet(root: Path, n: int = 12, bom: bool = False) -> Path:
    rows = []
    for i in range(n):
        wnid, names = DS_TOPICS[i % 4]
        iid = f"5d4be{i:03d}cf0b3a0f3f33{i:04d}"
        rel = f"assets/{iid}/{iid}.jpg"
        if i != 5:  # one picture missing on disk
            _jpeg(root / rel, (20 * i, 100, 60))
        income = ["27.0", "350", "1200.5", "5000"][i % 4]
        rows.append([iid, "ng", "Nigeria", "af", "image", rel, f"p{i}", income,
                     json.dumps([names.split(",")[0]]), json.dumps([names]), json.dumps([wnid])])  # fmt: skip
    _csv(root / "images_v2_imagenet_test.csv", DS_HEADER, rows[: n - 2], bom=bom)
    _csv(root / "images_v2_imagenet_train.csv", DS_HEADER, rows[n - 2 :], bom=bom)
    _csv(root / "images_v2.csv", ["id", "country.name", "income", "imageRelPath"],
         [[r[0], r[2], r[7], r[5]] for r in rows])  # fmt: skip
    return root


def test_dollarstreet_protocols_and_messy_rows(tmp_path: Path) -> None:
    root = _dollarstreet(tmp_path / "ds", bom=True)  # an Excel-saved CSV: BOM before "id"
    with open(root / "images_v2_imagenet_test.csv", "a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(["badrow", "ng", "Nigeria", "af", "image", "assets/x.jpg", "p",
                                 "NaN", "[]", "[\"stove\"]", "[\"n04330267\"]"])  # fmt: skip
    nofilter = load_benchmark(f"dollarstreet:{root}?protocol=nofilter")
    assert nofilter.protocol == "nofilter" and len(nofilter.classnames) == 1000
    assert len(nofilter) == 11  # train + test rows, less the missing picture
    wnids = [w for w, _ in imagenet_classes()]
    first = next(r for r in nofilter.records if r.id.endswith("0000"))
    assert nofilter.classnames[first.labels[0]] == "stove" and wnids[first.labels[0]] == "n04330267"
    reasons = _reasons(nofilter)
    assert reasons == {"bad_row": 1, "missing_image": 1}
    bad = next(p for p in nofilter.report.problems if p.reason == "bad_row")
    assert bad.shard.endswith("images_v2_imagenet_test.csv") and bad.detail.startswith("line 12")
    # The listed-synsets protocols: the missing picture's class stays in the label space.
    synsets = load_benchmark(f"dollarstreet:{root}")
    assert synsets.protocol == "synsets" and len(synsets) == 9
    assert synsets.classnames == ["dining table", "doormat", "stove", "toilet seat"]
    assert load_benchmark(f"dollarstreet:{root}?split=all").classnames == synsets.classnames
    for rel in root.glob("assets/*/*.jpg"):
        rel.unlink()
    with pytest.raises(BenchmarkFormatError, match=r"no usable rows .*'missing_image': 10"):
        load_benchmark(f"dollarstreet:{root}")


# ------------------------------------------------------------------------------- ImageNet


def test_imagenet_folders_and_the_flat_kaggle_val(tmp_path: Path) -> None:
    folders = tmp_path / "imagenet"
    for wnid in ("n01440764", "n01443537", ".ipynb_checkpoints"):
        _jpeg(folders / "val" / wnid / f"ILSVRC2012_val_{len(wnid):08d}.JPEG")
    (folders / "val" / "n01440764" / "._hidden.JPEG").write_bytes(b"mac resource fork")
    b = load_benchmark("imagenet", tmp_path)
    assert b.classnames == ["tench", "goldfish"] and len(b) == 2  # not "a photo of n01440764"
    # A class list in LOC_synset_mapping.txt's form is read as wnids, not used as prompts.
    (folders / "classnames.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n"
    )
    assert load_benchmark(f"imagefolder:{folders}").classnames == ["tench", "goldfish"]
    (folders / "classnames.txt").unlink()
    _jpeg(folders / "val" / "n99999999" / "x.JPEG")  # a wnid outside ImageNet-1k
    (folders / "LOC_synset_mapping.txt").write_text("n99999999 hand axe, biface\n")
    assert load_benchmark(f"imagefolder:{folders}").classnames[-1] == "hand axe"
    # The Kaggle release: flat val folder, LOC_val_solution.csv, LOC_synset_mapping.txt.
    kaggle = tmp_path / "kaggle"
    val = kaggle / "ILSVRC/Data/CLS-LOC/val"
    for k in (1, 2, 3):
        _jpeg(val / f"ILSVRC2012_val_{k:08d}.JPEG")
    (kaggle / "LOC_synset_mapping.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n"
    )
    _csv(kaggle / "LOC_val_solution.csv", ["ImageId", "PredictionString"], [
        ["ILSVRC2012_val_00000001", "n01443537 10 20 30 40 n01443537 1 2 3 4 "],
        ["ILSVRC2012_val_00000002", "n15075141 1 2 3 4"],
        ["ILSVRC2012_val_00000004", "n01440764 1 2 3 4"],
        ["ILSVRC2012_val_00000003", "n99999999 1 2 3 4"],
    ])  # fmt: skip
    flat = load_benchmark(str(kaggle))
    assert flat.format == "imagenet" and len(flat.classnames) == 1000
    assert [(r.id[-1], flat.classnames[r.labels[0]]) for r in flat.records] == [
        ("1", "goldfish"),
        ("2", "toilet paper"),
    ]
    assert _reasons(flat) == {"missing_image": 1, "bad_label": 1}


# ------------------------------------------------------------------- XM3600 and DataComp wds


def test_xm3600_bom_first_line_and_locale_target(tmp_path: Path) -> None:
    root = tmp_path / "xm"
    lines = []
    for i, locale in enumerate(["fa", "fa", "sw", "sw"]):
        _jpeg(root / "images" / f"{i:016x}.jpg")
        lines.append(json.dumps({"image/key": f"{i:016x}", "image/locale": locale,
                                 "en": {"caption": [f"picture {i}"]}}))  # fmt: skip
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    b = load_benchmark(str(root))
    assert len(b) == 4 and not b.report.problems  # the BOM did not cost line 1
    assert b.fewshot_targets == ("locale",) and b.records[0].meta["locale"] == "fa"
    shutil.rmtree(root / "images")
    with pytest.raises(BenchmarkFormatError, match=r"no usable records \(missing_image: 4; first"):
        load_benchmark(str(root))


def _npy(values: list[int]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array(values, dtype=np.int64))
    return buf.getvalue()


def test_datacomp_fairness_npy_groups_and_gzipped_shards(tmp_path: Path) -> None:
    root = tmp_path / "wds_dollar_street"
    (root / "test").mkdir(parents=True)
    (root / "classnames.txt").write_text("stove\ntoilet\n")
    with tarfile.open(root / "test" / "0.tar.gz", "w:gz") as tar:
        for i in range(6):
            buf = io.BytesIO()
            Image.new("RGB", (16, 16), (40 * i, 0, 0)).save(buf, "JPEG")
            members = {"webp": buf.getvalue(), "cls": str(i % 2).encode(),
                       "npy": _npy([i % 4, 3 - i % 4, i % 3])}  # fmt: skip
            for ext, data in members.items():
                info = tarfile.TarInfo(f"s{i:04d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    assert resolve(str(root))[0] == "wds"  # gzipped shards only: still a webdataset set
    b = load_benchmark(f"wds:{root}")
    assert len(b) == 6 and b.protocol == "datacomp/dollar_street"
    assert b.records[1].meta["income_ds"] == "1" and b.records[2].meta["region"] == "2"
    assert b.group_keys[:3] == ("income_ds", "income_meta", "region")
    assert b.worst_group["acc_top5_wg"] == "income_ds"
    geode = load_benchmark(f"wds:{root}?fairness=geode")
    assert "country" not in geode.records[0].meta  # three entries are not GeoDE's two


# ------------------------------------------------------------------- `globelens eval` on them


def test_eval_cli_names_protocols_and_refuses_tasks_that_cannot_run(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from globelens.cli.main import app

    data = tmp_path / "data"
    _dollarstreet(data / "dollarstreet")
    _gldv2_release(data / "gldv2")
    out = tmp_path / "results"
    base = ["eval", "-m", str(tiny_model_dir), "--data-root", str(data), "--bootstrap", "0",
            "--no-cache", "--templates", str(_one_template(tmp_path))]  # fmt: skip
    runner = CliRunner()
    specs = "dollarstreet,dollarstreet?protocol=datacomp,gldv2?protocol=retrieval,gldv2"
    r = runner.invoke(app, [*base, "-b", specs, "--tasks", "zeroshot", "-o", str(out)])
    assert r.exit_code == 0, r.output
    name = tiny_model_dir.name
    ds = json.loads((out / f"{name}__dollarstreet__zeroshot_classification.json").read_text())
    assert ds["protocol"] == "nofilter" and ds["n_evaluated"] == 11
    assert {"acc1", "disparity", "acc_top5_wg"} <= set(ds["metrics"])
    dc = json.loads(
        (out / f"{name}__dollarstreet_protocol_datacomp__zeroshot_classification.json").read_text()
    )
    assert dc["protocol"] == "datacomp" and dc["n_evaluated"] == 9
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [(row["dataset"], row["protocol"]) for row in rows] == [
        ("dollarstreet", "nofilter"),
        ("dollarstreet?protocol=datacomp", "datacomp"),
        ("gldv2?protocol=retrieval", "retrieval"),
        ("gldv2", "recognition"),
    ]
    # GLDv2's top-1 ("match any" of a picture's landmarks) against transformers' pipeline.
    from transformers import pipeline

    gld = load_benchmark("gldv2", data)
    pipe = pipeline("zero-shot-image-classification", model=str(tiny_model_dir), device="cpu")
    out_pipe = pipe([r.path for r in gld.records], candidate_labels=gld.classnames,
                    hypothesis_template="a photo of a {}.")  # fmt: skip
    pairs = zip(out_pipe, gld.records, strict=True)
    hits = [gld.classnames.index(o[0]["label"]) in r.labels for o, r in pairs]
    res = json.loads((out / f"{name}__gldv2__zeroshot_classification.json").read_text())
    assert res["metrics"]["acc1"] == pytest.approx(sum(hits) / len(hits))
    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0 and "dollarstreet [nofilter]" in (out / "report.html").read_text()
    # XM3600's few-shot geo-localisation: the picture's locale is the label.
    xm = data / "xm3600"
    for i in range(12):
        _jpeg(xm / "images" / f"{i:016x}.jpg", (20 * i, 200 - 15 * i, 90))
    (xm / "captions.jsonl").write_text("".join(
        json.dumps({"image/key": f"{i:016x}", "image/locale": "fa" if i % 2 else "sw",
                    "en": {"caption": [f"picture {i}"]}}) + "\n" for i in range(12)))  # fmt: skip
    r = runner.invoke(app, [*base, "-b", "xm3600", "--tasks", "fewshot", "-o", str(out)])
    assert r.exit_code == 0, r.output
    fs = json.loads((out / f"{name}__xm3600__fewshot_geolocalization.json").read_text())
    assert set(fs["metrics"]) == {"locale_5shot", "locale_10shot", "locale_25shot"}
    assert fs["fewshot"]["locale"]["classes"] == 2 and fs["fewshot"]["locale"]["test"] == 6
    # Asked-for tasks that no named set can run, and option typos: one line, exit 2.
    r = runner.invoke(app, [*base, "-b", "gldv2", "--tasks", "fewshot"])
    assert r.exit_code == 2 and "task 'fewshot_geolocalization' cannot run on gldv2" in r.output
    assert "needs geographic labels" in r.output
    r = runner.invoke(app, [*base, "-b", "gldv2?protocl=retrieval"])
    assert r.exit_code == 2 and "Valid keys are: protocol, usage" in r.output


def _one_template(tmp_path: Path) -> Path:
    p = tmp_path / "templates.txt"
    p.write_text("a photo of a {c}.\n")
    return p


# ------------------------------------------------------------- Hugging Face parquet mirrors


def _image_cell(color: tuple[int, int, int], path: str) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, "JPEG")
    return {"bytes": buf.getvalue(), "path": path}


def _parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _vqa_mirror(root: Path) -> None:
    """lmms-lab/VQAv2's layout: data/{validation,testdev}-0000N-of-0000M.parquet."""

    def answers(words: list[str]) -> list[dict]:
        return [{"answer": w, "answer_confidence": "yes", "answer_id": k + 1}
                for k, w in enumerate(words)]  # fmt: skip

    rows = [
        {"question_type": "what color", "multiple_choice_answer": "red", "image_id": 42,
         "answer_type": "other", "question_id": 42000, "question": "What color is the bus?",
         "answers": answers(["red"] * 9 + ["blue"]), "image": _image_cell((200, 0, 0), "a.jpg")},
        {"question_type": "what color", "multiple_choice_answer": "green", "image_id": 42,
         "answer_type": "other", "question_id": 42001, "question": "What color is the sign?",
         "answers": answers(["green"] * 8 + ["blue"] * 2), "image": _image_cell((200, 0, 0), "a.jpg")},
        {"question_type": "how many", "multiple_choice_answer": "2", "image_id": 73,
         "answer_type": "number", "question_id": 73000, "question": "How many dogs?",
         "answers": answers(["2"] * 10), "image": _image_cell((0, 0, 200), "b.jpg")},
    ]  # fmt: skip
    _parquet(root / "data" / "validation-00000-of-00002.parquet", rows[:2])
    _parquet(root / "data" / "validation-00001-of-00002.parquet", rows[2:])
    _parquet(root / "data" / "testdev-00000-of-00001.parquet", rows[2:])


class _QuestionOracle:
    """A real Generator: answers each question from a fixed table (one answer is wrong)."""

    fingerprint = "question-oracle"
    image_size = 32

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, images, prompts, *, max_new_tokens=32, num_beams=1, batch_size=16):
        from globelens.models import tasklang
        from globelens.models.base import Generation

        return [Generation(self.answers.get(tasklang.parse_prompt(p).text, ""), (1,), -1.0)
                for p in prompts]  # fmt: skip


def test_parquet_mirrors_vqav2_refcoco_captions_xm3600(tmp_path: Path) -> None:
    from globelens.evaluate.suite import Caches, SuiteOptions, evaluate_model_on_benchmark

    vqa_root = tmp_path / "VQAv2"
    _vqa_mirror(vqa_root)
    assert resolve(str(vqa_root))[0] == "parquet"
    vqa = load_benchmark(str(vqa_root))
    assert vqa.tasks == ("vqa",) and [r.id for r in vqa.records] == ["42", "73"]
    assert [len(r.annotations["qa"]) for r in vqa.records] == [2, 1]
    assert sorted(i for i, src in vqa.iter_image_sources() if isinstance(src, bytes)) == [0, 1]
    oracle = _QuestionOracle({"What color is the bus?": "red", "What color is the sign?": "blue",
                              "How many dogs?": "2"})  # fmt: skip
    opts = SuiteOptions(n_bootstrap=0, progress=False)
    (res,) = evaluate_model_on_benchmark(oracle, vqa, ["vqa"], opts, Caches())
    # The official VQA accuracy by hand: "blue" matches 2 of 10 humans -> mean over the ten
    # leave-one-out subsets of min(matches / 3, 1) = (2 * 1/3 + 8 * 2/3) / 10 = 0.6.
    assert res["metrics"]["vqa_acc"] == pytest.approx((1.0 + 0.6 + 1.0) / 3)
    assert len(load_benchmark(f"parquet:{vqa_root}?split=testdev")) == 1

    ref_root = tmp_path / "RefCOCO"
    _parquet(ref_root / "data" / "val-00000-of-00001.parquet", [
        {"question_id": 1001, "image": _image_cell((0, 200, 0), "COCO_train2014_000000000001.jpg"),
         "question": "", "answer": ["man on left", "left guy"], "segmentation": [2, 2, 12, 2, 12, 12, 2, 12],
         "bbox": [2.0, 2.0, 10.0, 10.0], "iscrowd": 0, "file_name": "COCO_train2014_000000000001.jpg"},
    ])  # fmt: skip
    ref = load_benchmark(str(ref_root))
    (rec,) = ref.records
    assert ref.tasks == ("referring_segmentation",) and (rec.meta["height"], rec.meta["width"]) == (
        24,
        32,
    )
    assert [r.sent for r in rec.annotations["refs"]] == ["man on left", "left guy"]
    from globelens.models.tasklang import rle_to_mask

    assert rle_to_mask(rec.annotations["refs"][0].segmentation).sum() == 100

    cap_root = tmp_path / "coco_karpathy"
    _parquet(cap_root / "data" / "test-00000-of-00001.parquet", [
        {"question_id": "COCO_val2014_000000000042.jpg", "image": _image_cell((9, 9, 9), "x"),
         "answer": ["A bus.", "A red bus."], "id": 42},
    ])  # fmt: skip
    cap = load_benchmark(str(cap_root))
    assert cap.tasks == ("zeroshot_retrieval",) and cap.records[0].captions == {
        "en": ["A bus.", "A red bus."]
    }

    xm_root = tmp_path / "xm3600"
    for lang, caption in (("en", "a tower"), ("fa", "برج")):
        _parquet(xm_root / "data" / f"{lang}-00000-of-00001.parquet", [
            {"image_id": "0a1b", "image": _image_cell((1, 2, 3), "0a1b.jpg"), "image_locale": "fa",
             "captions": [caption]},
        ])  # fmt: skip
    _parquet(xm_root / "data" / "sw-00000-of-00001.parquet", [
        {"image_id": "0c2d", "image": {"bytes": None, "path": "0c2d.jpg"}, "image_locale": "sw",
         "captions": ["a market"]},
    ])  # fmt: skip
    xm = load_benchmark(str(xm_root))
    assert xm.records[0].captions == {"en": ["a tower"], "fa": ["برج"]}
    # A row without picture bytes reaches the decoder as b"", which counts it.
    from globelens.data import ImageDecodeError, decode_image

    sources = dict(xm.iter_image_sources())
    assert [r.id for r in xm.records] == ["0a1b", "0c2d"] and sources[1] == b""
    with pytest.raises(ImageDecodeError):
        decode_image(sources[1])
    assert xm.records[0].meta["locale"] == "fa" and xm.fewshot_targets == ("locale",)
    with pytest.raises(BenchmarkFormatError, match=r"match none of vqav2, refcoco"):
        _parquet(tmp_path / "odd" / "data" / "val-00000-of-00001.parquet", [{"x": 1}])
        load_benchmark(str(tmp_path / "odd"))
