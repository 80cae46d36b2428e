"""The prior-only baseline: ``?pictures=blank`` shows a model grey pictures of the same sizes,
and every result says so in its protocol."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from globelens.evaluate.datasets import load_benchmark
from globelens.evaluate.datasets.registry import check_spec


def _size_and_pixels(src: str | bytes) -> tuple[tuple[int, int], np.ndarray]:
    with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as im:
        return im.size, np.asarray(im.convert("RGB"))


def test_blank_pictures_keep_each_size_and_change_the_identity(tiny_world: Path) -> None:
    original = load_benchmark("world/vqa", tiny_world)
    blank = load_benchmark("world/vqa?pictures=blank", tiny_world)
    assert [r.id for r in blank.records] == [r.id for r in original.records]
    assert "pictures=blank" in blank.protocol and "pictures" not in original.protocol
    assert blank.identity() != original.identity()  # no cached embedding is shared
    pairs = dict(original.iter_image_sources())
    for i, src in blank.iter_image_sources():
        size, pixels = _size_and_pixels(src)
        assert size == _size_and_pixels(pairs[i])[0]
        assert (pixels == 128).all()
    assert set(blank.read_images([0, 1])) == {0, 1}
    with pytest.raises(ValueError, match="choose one of blank, original"):
        check_spec("world/vqa?pictures=noise", tiny_world)


def test_a_generator_scored_on_blank_pictures(tiny_world: Path, tmp_path: Path) -> None:
    from vlm_factory import tiny_paligemma_dir

    from globelens.evaluate import run_suite
    from globelens.models.paligemma import load_generator

    model = tiny_paligemma_dir(tmp_path / "m")
    results = run_suite([str(model)], ["world/vqa?pictures=blank"], tmp_path / "r",
                        data_root=tiny_world, limit=2, n_bootstrap=0, progress=False,
                        task_options={"max_new_tokens": 3})  # fmt: skip
    (res,) = results
    assert "pictures=blank" in res["protocol"] and res["dataset"].endswith("?pictures=blank")
    assert res["question_types"] and all(v["n"] > 0 for v in res["question_types"].values())
    # the answers are the model's answers to a grey picture, whatever the benchmark showed
    gen = load_generator(model)
    for ex in res["examples"][:2]:
        grey = Image.new("RGB", (64, 64), (128, 128, 128))
        (out,) = gen.generate([grey], [ex["prompt"]], max_new_tokens=3)
        assert out.text.strip() == ex["output"].strip()
