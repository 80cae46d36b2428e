"""Interop both ways with the reference implementation, the ``webdataset`` library."""

from __future__ import annotations

import io
import json

import webdataset as wds

from globelens.data import ReadReport, read_shards
from shard_factory import jpeg, write_samples


def test_webdataset_reads_our_shards(tmp_path):
    paths = write_samples(tmp_path, 7, maxcount=3, assign_keys=True)
    ours = list(read_shards(tmp_path))
    theirs = list(wds.WebDataset(paths, shardshuffle=False, empty_check=False))
    assert [t["__key__"] for t in theirs] == [s.key for s in ours]
    for s, t in zip(ours, theirs, strict=True):
        assert t["jpg"] == s.image_bytes
        assert t["txt"].decode() == s.caption
        assert json.loads(t["json"]) == s.meta
        assert set(t) - {"__key__", "__url__", "__local_path__"} == {"jpg", "txt", "json"}
    # ... and decodes the images with its own decoder
    decoded = next(iter(wds.WebDataset(paths[0], shardshuffle=False).decode("pil")))
    assert decoded["jpg"].size == (40, 30)


def test_we_read_webdataset_shardwriter_output(tmp_path):
    expected = []
    with wds.ShardWriter(str(tmp_path / "shard-%06d.tar"), maxcount=4, verbose=0) as sink:
        for i in range(10):
            key = f"{i:09d}"
            record = {
                "__key__": key,
                "jpg": jpeg(50 + i, 20),
                "txt": f"caption {i} ünïcode",
                "json": {"uid": f"{i:032x}", "i": i},
                "cls": i % 3,
            }
            sink.write(record)
            expected.append(record)
    report = ReadReport()
    got = list(read_shards(str(tmp_path / "shard-{000000..000002}.tar"), report))
    assert report.problems == [] and report.shards == 3
    assert [s.key for s in got] == [r["__key__"] for r in expected]
    for s, r in zip(got, expected, strict=True):
        assert s.image_bytes == r["jpg"] and s.image().size == (s.meta["i"] + 50, 20)
        assert s.caption == r["txt"] and s.meta == r["json"]
        assert s.extras == {"cls": str(r["cls"]).encode()}


def test_we_read_webdataset_tarwriter_with_encoded_images(tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    with wds.TarWriter(buf) as sink:
        sink.write({"__key__": "a", "png": Image.new("RGB", (9, 7), "red"), "txt": "red"})
        sink.write({"__key__": "b", "jpeg": Image.new("RGB", (5, 3), "blue"), "txt": "blue"})
    (tmp_path / "w.tar").write_bytes(buf.getvalue())
    report = ReadReport()
    got = {s.key: s for s in read_shards(tmp_path / "w.tar", report)}
    assert report.problems == []
    assert got["a"].image_ext == "png" and got["a"].image().getpixel((1, 1)) == (255, 0, 0)
    assert got["b"].image_ext == "jpeg" and got["b"].image().size == (5, 3)
