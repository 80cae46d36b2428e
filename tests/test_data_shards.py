"""Reading and writing shards: every fault is counted with a reason; the rest still arrives."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
import threading

import pyarrow.parquet as pq
import pytest

from globelens.data import ReadReport, Sample, ShardWriter, expand_shards, read_shards
from shard_factory import (
    corrupt_jpeg,
    cut_inside_last_member,
    group,
    jpeg,
    raw_tar,
    sample,
    write_samples,
)


def read(pattern, **kw):
    report = ReadReport()
    keys = [s.key for s in read_shards(pattern, report, **kw)]
    return keys, report, [(p.key, p.reason) for p in report.problems]


# ---- reading faulty input -------------------------------------------------------------------


def test_each_fault_is_counted_with_its_reason(tmp_path):
    img = jpeg()
    members = (
        group("ok1", img, meta={"a": 1})
        + group("nocap", img, caption=None, meta={"a": 2})
        + group("emptycap", img, caption=b"  \n", meta={})
        + group("badjson", img, meta=b"{not json")
        + group("listjson", img, meta=b"[1, 2]")
        + group("badutf8json", img, meta=b'{"a": "\xff"}')
        + group("noimage", None, meta={"a": 3})
        + group("latin1", img, caption="café".encode("latin-1"))
        + group("ok2", img, caption="東京の駅".encode())
    )
    raw_tar(tmp_path / "a.tar", members)
    keys, report, problems = read(tmp_path / "a.tar")
    assert keys == ["ok1", "ok2"]
    assert problems == [
        ("nocap", "missing_caption"),
        ("emptycap", "empty_caption"),
        ("badjson", "malformed_json"),
        ("listjson", "malformed_json"),
        ("badutf8json", "malformed_json"),
        ("noimage", "missing_image"),
        ("latin1", "invalid_utf8"),
    ]
    assert report.samples == 2 and report.shards == 1
    assert all(p.detail for p in report.problems)


def test_caption_not_required_keeps_captionless_samples(tmp_path):
    raw_tar(tmp_path / "a.tar", group("a", jpeg(), caption=None) + group("b", jpeg(), b""))
    samples = list(read_shards(tmp_path / "a.tar", require_caption=False))
    assert [(s.key, s.caption) for s in samples] == [("a", None), ("b", "")]


def test_check_images_reports_corrupt_images(tmp_path):
    raw_tar(tmp_path / "a.tar", group("good", jpeg()) + group("bad", corrupt_jpeg()))
    assert read(tmp_path / "a.tar")[0] == ["good", "bad"]  # lazy by default
    keys, _, problems = read(tmp_path / "a.tar", check_images=True)
    assert keys == ["good"] and problems == [("bad", "corrupt_image")]


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        ("inside_data", "truncated_tar"),
        ("inside_header", "truncated_tar"),
        ("at_header", "truncated_tar"),
        ("no_end_block", "truncated_tar"),
        ("garbage_header", "corrupt_tar"),
    ],
)
def test_truncated_tar_keeps_complete_groups_and_names_the_lost_one(tmp_path, cut, reason):
    path = tmp_path / "00000.tar"
    write_samples(tmp_path, 5)
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]  # 000000004.json
    data = path.read_bytes()
    cuts = {
        "inside_data": data[: last.offset_data + 5],
        "inside_header": data[: last.offset + 100],
        "at_header": data[: last.offset],
        "no_end_block": data[: last.offset_data + 512],
        "garbage_header": data[: last.offset] + b"\x07" * 2048,
    }
    path.write_bytes(cuts[cut])
    keys, report, problems = read(path)
    assert keys == [f"{i:09d}" for i in range(4)]
    assert problems == [("000000004", reason)]
    assert "000000004" in report.problems[0].detail or "byte" in report.problems[0].detail


def test_intact_tar_reports_nothing(tmp_path):
    write_samples(tmp_path, 3)
    keys, _, problems = read(tmp_path)
    assert len(keys) == 3 and problems == []


@pytest.mark.parametrize("content", [b"", b"hello, this is plain text\n" * 50, os.urandom(4096)])
def test_not_a_tar_is_unreadable(tmp_path, content):
    (tmp_path / "x.tar").write_bytes(content)
    keys, report, problems = read(tmp_path / "x.tar")
    assert keys == [] and problems == [(None, "unreadable_tar")]
    assert report.shards == 1


def test_truncated_shard_in_the_middle_does_not_stop_later_shards(tmp_path):
    paths = write_samples(tmp_path, 9, maxcount=3)
    assert len(paths) == 3
    cut_inside_last_member(tmp_path / "00001.tar")
    keys, report, problems = read(str(tmp_path / "{00000..00002}.tar"))
    assert keys == [f"{i:09d}" for i in (0, 1, 2, 3, 4, 6, 7, 8)]
    assert problems == [("000000005", "truncated_tar")]
    assert report.problems[0].shard.endswith("00001.tar")
    assert report.shards == 3


def test_gzip_shards_read_and_truncated_gzip_is_reported(tmp_path):
    write_samples(tmp_path / "plain", 4)
    data = gzip.compress((tmp_path / "plain" / "00000.tar").read_bytes(), mtime=0)
    (tmp_path / "a.tar.gz").write_bytes(data)
    assert read(tmp_path / "a.tar.gz")[0] == [f"{i:09d}" for i in range(4)]
    (tmp_path / "b.tar.gz").write_bytes(data[: len(data) - 60])
    keys, _, problems = read(tmp_path / "b.tar.gz")
    assert len(keys) < 4 and [r for _, r in problems] == ["truncated_tar"]


def test_sample_fields_and_extras(tmp_path):
    raw_tar(
        tmp_path / "a.tar",
        [("d/k1.png", b"x"), ("d/k1.txt", b"cap"), ("d/k1.cls", b"7"), ("d/k1.json", b'{"u": 1}')],
    )
    (s,) = read_shards(tmp_path / "a.tar")
    assert (s.key, s.image_ext, s.caption, s.meta, s.extras) == (
        "k1",
        "png",
        "cap",
        {"u": 1},
        {"cls": b"7"},
    )
    assert s.source == str(tmp_path / "a.tar")
    assert s.uid == "k1"


# ---- pattern expansion ----------------------------------------------------------------------


@pytest.fixture
def shard_dir(tmp_path):
    write_samples(tmp_path, 8, maxcount=2)  # 00000.tar .. 00003.tar
    return tmp_path


def test_patterns(shard_dir):
    d = str(shard_dir)
    names = lambda paths: [os.path.basename(p) for p in paths]  # noqa: E731
    all4 = ["00000.tar", "00001.tar", "00002.tar", "00003.tar"]
    assert names(expand_shards(f"{d}/00001.tar")) == ["00001.tar"]
    assert names(expand_shards(f"{d}/*.tar")) == all4
    assert names(expand_shards(f"{d}/{{00000..00003}}.tar")) == all4
    assert names(expand_shards(f"{d}/{{00001,00003}}.tar")) == ["00001.tar", "00003.tar"]
    assert names(expand_shards(d)) == all4  # a folder: its .tar files, not parquet or stats
    assert names(expand_shards(f"{d}/00003.tar::{d}/00000.tar")) == ["00003.tar", "00000.tar"]
    assert names(expand_shards([shard_dir / "00002.tar", f"{d}/0000[01].tar"])) == [
        "00002.tar",
        "00000.tar",
        "00001.tar",
    ]


def test_missing_shards_are_named(shard_dir):
    d = str(shard_dir)
    with pytest.raises(FileNotFoundError, match=r"00004\.tar"):
        expand_shards(f"{d}/{{00000..00004}}.tar")
    with pytest.raises(FileNotFoundError, match="matches no shards"):
        expand_shards(f"{d}/*.tgz")
    with pytest.raises(FileNotFoundError, match="nope"):
        list(read_shards(f"{d}/00000.tar::{d}/nope.tar"))


# ---- writing --------------------------------------------------------------------------------


def test_writer_img2dataset_layout(tmp_path):
    with ShardWriter(tmp_path, maxcount=3, assign_keys=True) as writer:
        for i in range(7):
            writer.write(sample(i, **({"extra": "x"} if i == 2 else {})))
    assert sorted(os.listdir(tmp_path)) == sorted(
        [f"{i:05d}{ext}" for i in range(3) for ext in (".tar", ".parquet", "_stats.json")]
    )
    with tarfile.open(tmp_path / "00001.tar") as tar:
        names = tar.getnames()
    assert names[:3] == ["000010000.jpg", "000010000.txt", "000010000.json"]
    assert len(names) == 9
    keys = [s.key for s in read_shards(tmp_path)]
    assert keys == [f"{s:05d}{i:04d}" for s in range(3) for i in range(3)][:7]
    # parquet: one row per sample, the same metadata as the .json members
    for shard in ("00000", "00001", "00002"):
        table = pq.read_table(tmp_path / f"{shard}.parquet").to_pylist()
        metas = [s.meta for s in read_shards(tmp_path / f"{shard}.tar")]
        assert [{k: v for k, v in r.items() if v is not None} for r in table] == metas
        stats = json.loads((tmp_path / f"{shard}_stats.json").read_text())
        assert stats["count"] == stats["successes"] == len(metas)
    meta = metas[0]
    assert meta["key"] == "000020000" and meta["caption"] == "a photo number 6"
    assert meta["status"] == "success"


def test_writer_keeps_keys_and_rejects_bad_ones(tmp_path):
    with ShardWriter(tmp_path) as writer:
        assert writer.write(sample(3)) == "000000003"
        with pytest.raises(ValueError, match="invalid sample key"):
            writer.write(Sample(key="a.b", image_bytes=b"x", caption="c"))
        with pytest.raises(ValueError, match="no image"):
            writer.write(Sample(key="k", caption="c"))
    with pytest.raises(ValueError, match="maxcount"):
        ShardWriter(tmp_path, maxcount=0)


def test_writer_is_deterministic(tmp_path):
    write_samples(tmp_path / "a", 5, maxcount=2, assign_keys=True)
    write_samples(tmp_path / "b", 5, maxcount=2, assign_keys=True)
    files = sorted(os.listdir(tmp_path / "a"))
    assert files == sorted(os.listdir(tmp_path / "b")) and len(files) == 9
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_writer_roundtrip_preserves_everything(tmp_path):
    s = Sample(
        key="k",
        image_bytes=jpeg(),
        caption="Ein Bild von Zürich — 東京",
        meta={"nested": {"a": [1, 2]}, "n": 3},
        image_ext="jpg",
        extras={"cls": b"12"},
    )
    with ShardWriter(tmp_path) as writer:
        writer.write(s)
    (back,) = read_shards(tmp_path)
    assert back.image_bytes == s.image_bytes and back.caption == s.caption
    assert back.meta == {**s.meta, "key": "k", "caption": s.caption, "status": "success"}
    assert back.extras == {"cls": b"12"}


def test_no_partial_tar_is_ever_visible(tmp_path):
    """A reader polling the folder while shards are written only ever sees whole shards."""
    stop = threading.Event()
    seen_bad: list[str] = []

    def poll():
        while not stop.is_set():
            for name in os.listdir(tmp_path):
                if name.endswith(".tar"):
                    r = ReadReport()
                    try:
                        list(read_shards(tmp_path / name, r))
                    except FileNotFoundError:
                        continue
                    if r.problems or r.samples != 4:
                        seen_bad.append(name)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        write_samples(tmp_path, 40, maxcount=4)
    finally:
        stop.set()
        thread.join()
    assert seen_bad == []
    assert len(expand_shards(tmp_path)) == 10


def test_error_while_writing_discards_the_open_shard(tmp_path):
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, maxcount=3) as writer:
        for i in range(5):
            writer.write(sample(i))
        raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["00000.parquet", "00000.tar", "00000_stats.json"]


def test_more_than_ten_thousand_per_shard_widens_the_index(tmp_path):
    writer = ShardWriter(tmp_path, maxcount=20_000, assign_keys=True)
    assert writer.write(sample(0)) == "00000" + "00000"
    writer.close()
