"""Tasks and metrics, cross-checked against independent references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_factory import FakeEncoder, write_geode, write_imagefolder, write_world

from globelens.evaluate import load_benchmark, run_suite
from globelens.evaluate import metrics as M
from globelens.evaluate.cache import EmbeddingCache
from globelens.evaluate.embed import encode_benchmark_images, image_embeddings
from globelens.evaluate.tasks.fewshot import BIAS_CONSTANT, fewshot_accuracy, lsr_fit, lsr_predict
from globelens.evaluate.tasks.zeroshot import classifier, evaluate_scores


def brute_force_recall(sim: np.ndarray, owner: np.ndarray, k: int) -> tuple[float, float]:
    """Reference: sort every row/column and look for a match in the first k."""
    i2t = [any(owner[j] == i for j in np.argsort(-sim[i])[:k]) for i in range(sim.shape[0])]
    t2i = [owner[j] in np.argsort(-sim[:, j])[:k] for j in range(sim.shape[1])]
    return float(np.mean(i2t)), float(np.mean(t2i))


def test_retrieval_recall_equals_brute_force() -> None:
    rng = np.random.default_rng(0)
    n_img = 30
    owner = np.repeat(np.arange(n_img), rng.integers(1, 5, n_img))  # 1-4 captions per image
    img = rng.normal(size=(n_img, 8))
    txt = img[owner] + rng.normal(scale=1.5, size=(len(owner), 8))
    sim = img @ txt.T
    got = M.retrieval_recall(sim, owner, (1, 5, 10))
    for k in (1, 5, 10):
        i2t, t2i = brute_force_recall(sim, owner, k)
        assert got[f"text_retrieval_recall@{k}"] == pytest.approx(i2t)
        assert got[f"image_retrieval_recall@{k}"] == pytest.approx(t2i)
    assert 0 < got["text_retrieval_recall@1"] < got["text_retrieval_recall@10"] <= 1


def ridge_reference(x_tr, y_tr, x_te, num_classes, l2):
    """Direct solve of big_vision's regression: whitened features + bias column of 100,
    {-1, 1} targets, (X^T X + l2 I) W = X^T Y."""
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-5
    X = np.hstack([(x_tr - mean) / std, np.full((len(x_tr), 1), BIAS_CONSTANT)])
    Y = 2.0 * np.eye(num_classes)[y_tr] - 1.0
    W = np.linalg.solve(X.T @ X + l2 * np.eye(X.shape[1]), X.T @ Y)
    Xt = np.hstack([(x_te - mean) / std, np.full((len(x_te), 1), BIAS_CONSTANT)])
    return Xt @ W, W


@pytest.mark.parametrize("n_train", [12, 200])  # fewer points than dims (dual form), and more
def test_fewshot_probe_equals_numpy_solve(n_train: int) -> None:
    rng = np.random.default_rng(1)
    d, c = 32, 4
    centers = rng.normal(size=(c, d))
    y_tr = rng.integers(0, c, n_train)
    x_tr = centers[y_tr] + rng.normal(size=(n_train, d))
    y_te = rng.integers(0, c, 50)
    x_te = centers[y_te] + rng.normal(size=(50, d))
    for l2 in (2.0**10, 1.0):
        probe = lsr_fit(x_tr, y_tr, c, l2)
        scores, w = ridge_reference(x_tr, y_tr, x_te, c, l2)
        np.testing.assert_allclose(probe["w"], w, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(lsr_predict(probe, x_te), scores.argmax(1))


def test_fewshot_sampling_follows_big_vision() -> None:
    rng = np.random.default_rng(2)
    y_tr = np.repeat(np.arange(3), 30)
    x_tr = rng.normal(size=(90, 6)) + y_tr[:, None]
    y_te = np.repeat(np.arange(3), 10)
    x_te = rng.normal(size=(30, 6)) + y_te[:, None]
    accs = fewshot_accuracy(x_tr, y_tr, x_te, y_te, 3, shots=(5, 25), seeds=3)
    assert set(accs) == {5, 25} and all(len(v) == 3 for v in accs.values())
    # Seed 0, 5 shots, re-derived by hand: per class a permutation, the first 5 indices.
    r = np.random.default_rng(0)
    idx = np.concatenate([r.permutation(np.flatnonzero(y_tr == k))[:5] for k in range(3)])
    scores, _ = ridge_reference(x_tr[idx], y_tr[idx], x_te, 3, 2.0**10)
    assert accs[5][0] == pytest.approx((scores.argmax(1) == y_te).mean())
    assert np.mean(accs[25]) > 0.5


def test_zeroshot_metrics_match_any_groups_disparity() -> None:
    # 6 samples, 3 classes; sample 2 is multi-label {1, 2}.
    scores = np.array(
        [
            [0.9, 0.1, 0.0],
            [0.2, 0.7, 0.1],
            [0.1, 0.2, 0.7],
            [0.5, 0.4, 0.1],
            [0.1, 0.3, 0.6],
            [0.3, 0.2, 0.5],
        ]
    )
    labels = [(0,), (1,), (1, 2), (1,), (0,), (2,)]
    metas = [
        {"income_bucket": b, "region": r}
        for b, r in [
            ("$0-200", "Africa"),
            ("$0-200", "Africa"),
            ("$0-200", "Asia"),
            ("$1998+", "Europe"),
            ("$1998+", "Europe"),
            ("$1998+", "Asia"),
        ]
    ]
    ev = evaluate_scores(
        scores,
        labels,
        metas,
        group_keys=("income_bucket", "region"),
        worst_group={"acc_wg": "region", "acc_top5_wg": "income_bucket"},
        n_bootstrap=200,
    )
    m = ev["metrics"]
    correct = [True, True, True, False, False, True]
    assert m["acc1"] == pytest.approx(np.mean(correct))
    assert m["acc5"] == 1.0  # 3 classes: top-5 holds everything
    # per-class recall: class0 {s0 ok, s4 no}=.5; class1 {s1 ok, s2 ok, s3 no}=2/3; class2 {s2 ok, s5 ok}=1
    assert m["mean_per_class_recall"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    inc = ev["groups"]["income_bucket"]["groups"]
    assert inc["$0-200"]["acc1"] == 1.0 and inc["$1998+"]["acc1"] == pytest.approx(1 / 3)
    assert m["disparity"] == pytest.approx(2 / 3)
    assert m["acc_wg"] == 0.0  # Europe: both wrong
    assert m["acc_top5_wg"] == 1.0
    lo, hi = ev["ci95"]["acc1"]
    assert lo <= m["acc1"] <= hi and lo < hi
    conf = M.top_confusions(ev["pred"], labels, metas, ["a", "b", "c"], np.arange(6))
    assert {(c["true"], c["predicted"], c["count"]) for c in conf} == {("b", "a", 1), ("a", "c", 1)}


def test_bootstrap_resamples_in_chunks_without_materialising(monkeypatch) -> None:
    x = np.random.default_rng(1).random(37)
    whole = np.random.default_rng(5).integers(0, 37, size=(300, 37))
    boot = M.bootstrap_indices(37, 300, 5)
    # Small enough for one chunk: the same resamples as drawing them all at once.
    assert np.array_equal(np.stack(list(boot)), whole)
    assert np.allclose(boot.means(x), x[whole].mean(axis=1))
    monkeypatch.setattr(M, "BOOTSTRAP_CHUNK", 37 * 8)  # 8 rows at a time
    blocks = list(boot.chunks())
    assert max(len(b) for b in blocks) == 8 and sum(map(len, blocks)) == len(boot) == 300
    assert np.array_equal(np.stack(list(boot)), np.stack(list(boot)))  # every pass alike
    assert np.allclose(boot.means(x), [x[b].mean() for b in boot])
    lo, hi = M.percentile_ci(boot.means(x))
    assert lo < x.mean() < hi


def test_topk_matches_argsort() -> None:
    s = np.random.default_rng(3).normal(size=(20, 30))
    np.testing.assert_array_equal(M.topk(s, 5), np.argsort(-s, axis=1)[:, :5])


def test_zeroshot_top1_equals_transformers_pipeline(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import pipeline

    from globelens.models import load_dual_encoder

    bench = load_benchmark(str(write_imagefolder(tmp_path / "inet", n_per_class=3)))
    model = load_dual_encoder(tiny_model_dir)
    emb = encode_benchmark_images(model, bench, draft=False).embeddings
    # The pipeline's own prompt ("This is a photo of {}.") and one template per class.
    w = classifier(model, bench.classnames, ["This is a photo of {c}."])
    ours = np.argsort(-(emb @ w.T), axis=1)
    pipe = pipeline("zero-shot-image-classification", model=str(tiny_model_dir), device="cpu")
    out = pipe([r.path for r in bench.records], candidate_labels=bench.classnames)
    theirs = np.array([[bench.classnames.index(o["label"]) for o in row] for row in out])
    np.testing.assert_array_equal(ours[:, 0], theirs[:, 0])
    np.testing.assert_array_equal(ours, theirs)  # the whole ranking, not just the top-1


def test_cache_recomputes_only_the_text_side(tmp_path: Path) -> None:
    root = write_geode(tmp_path / "g")
    bench = load_benchmark(str(root))
    cache = EmbeddingCache(tmp_path / "cache")
    model = FakeEncoder()
    first, hit = image_embeddings(model, bench, cache, batch_size=8)
    assert not hit and model.image_calls == 5
    again, hit = image_embeddings(model, bench, cache, batch_size=8)
    assert hit and model.image_calls == 5
    np.testing.assert_array_equal(first.embeddings, again.embeddings)
    # New prompts: texts are encoded, images are not.
    classifier(model, bench.classnames, ["a photo of a {c}."], cache)
    n = model.texts_encoded
    classifier(model, bench.classnames, ["a photo of a {c}."], cache)
    assert model.texts_encoded == n  # same prompts: text cache hit
    classifier(model, bench.classnames, ["a picture of my {c}."], cache)
    assert model.texts_encoded == n + 3
    # Touching an image file changes the dataset identity: images are recomputed.
    img = Path(bench.records[0].path)
    img.write_bytes(img.read_bytes())
    _, hit = image_embeddings(model, load_benchmark(str(root)), cache, batch_size=8)
    assert not hit and model.image_calls == 10
    assert not list((tmp_path / "cache").rglob("*.pkl"))


def test_corrupt_image_is_reported_and_excluded(tmp_path: Path) -> None:
    root = write_geode(tmp_path / "g")
    bench = load_benchmark(str(root))
    Path(bench.records[2].path).write_bytes(b"not a jpeg")
    out = encode_benchmark_images(FakeEncoder(), bench, batch_size=7)
    assert out.valid.sum() == 39 and not out.valid[2]
    assert (
        out.problems[0]["reason"] == "corrupt_image"
        and out.problems[0]["id"] == bench.records[2].id
    )


def test_suite_on_world_sets_with_fake_encoder(tmp_path: Path) -> None:
    world = write_world(tmp_path / "world")
    res = run_suite(
        [FakeEncoder()],
        ["world/western", "world/dollarstreet", "world/geode", "world/landmarks", "world/xm3600"],
        tmp_path / "out",
        data_root=str(world),
        cache_dir=str(tmp_path / "cache"),
        n_bootstrap=50,
        progress=False,
        model_names=["fake"],
    )
    kinds = {(r["dataset"], r["task"]) for r in res}
    assert ("world/geode", "fewshot_geolocalization") in kinds
    assert ("world/xm3600", "zeroshot_retrieval") in kinds
    ds = next(
        r for r in res if r["dataset"] == "world/dollarstreet" and r["task"].startswith("zeroshot")
    )
    assert {"acc1", "acc5", "mean_per_class_recall", "disparity", "acc_wg", "acc_top5_wg"} <= set(
        ds["metrics"]
    )
    xm = next(r for r in res if r["dataset"] == "world/xm3600")
    assert set(xm["languages"]) == {"en", "fr", "ar"} and xm["language"] == "mean"
    fs = next(r for r in res if r["dataset"] == "world/geode" and r["task"].startswith("fewshot"))
    assert {"country_5shot", "country_10shot", "country_25shot", "region_10shot"} <= set(
        fs["metrics"]
    )
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "results.csv" in files and "fake__world_geode__fewshot_geolocalization.json" in files


def test_suite_names_run_model_dirs_by_their_run(tmp_path: Path) -> None:
    world = write_world(tmp_path / "world")
    models = []
    for run in ("globe", "en"):
        enc = FakeEncoder()
        enc.path = str(tmp_path / "runs" / run / "model")  # what ``globelens train`` writes
        models.append(enc)
    plain = FakeEncoder()
    plain.path = str(tmp_path / "final")
    res = run_suite(
        [*models, plain],
        ["world/western"],
        data_root=str(world),
        cache_dir=str(tmp_path / "cache"),
        n_bootstrap=10,
        progress=False,
    )
    assert list(dict.fromkeys(r["model"] for r in res)) == ["globe", "en", "final"]


def test_parallel_encoding_equals_serial_and_restores_threads(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch

    from globelens.evaluate.embed import text_embeddings
    from globelens.models import load_dual_encoder

    bench = load_benchmark(str(write_imagefolder(tmp_path / "inet", n_per_class=3)))
    model = load_dual_encoder(tiny_model_dir)
    threads = torch.get_num_threads()
    serial = encode_benchmark_images(model, bench, batch_size=4, workers=1).embeddings
    par = encode_benchmark_images(model, bench, batch_size=4, workers=2).embeddings
    assert torch.get_num_threads() == threads  # the one-thread-per-worker setting is undone
    np.testing.assert_allclose(par, serial, atol=1e-5)
    texts = [f"a photo of item {i}" for i in range(7)]
    t1 = text_embeddings(model, texts, workers=1, batch_size=3)
    t2 = text_embeddings(model, texts, workers=2, batch_size=3)
    assert t1.shape == (7, serial.shape[1]) and torch.get_num_threads() == threads
    np.testing.assert_allclose(t2, t1, atol=1e-5)
