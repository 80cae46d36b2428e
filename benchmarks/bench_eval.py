"""Evaluation speed: zero-shot vs transformers.pipeline, end-to-end vs pure forward, cache.

    .venv/bin/python benchmarks/bench_eval.py [--images 2000] [--preset tiny] [--out DIR]

All three ratios are measured side by side in one process on the same model and images.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "evaluate"))

from eval_factory import CLASSNAMES, WNIDS, image

from conftest import TINY_CAPTIONS
from globelens.evaluate import load_benchmark, run_suite
from globelens.evaluate.embed import encode_benchmark_images
from globelens.models import build_model, load_dual_encoder, train_tokenizer


def make_images(root: Path, n: int, size: int) -> Path:
    """An ImageFolder of ``n`` JPEGs of ``size`` px, 5 classes."""
    for i in range(n):
        c = i % len(CLASSNAMES)
        p = root / "test" / WNIDS[c] / f"{i:05d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        image(c, i, size).save(p, quality=90)
    (root / "classnames.txt").write_text("\n".join(CLASSNAMES) + "\n")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--size", type=int, default=256, help="side of the generated JPEGs")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--pipeline-images", type=int, default=None, help="default: --images")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_eval_"))
    caps = [c for cs in TINY_CAPTIONS.values() for c in cs]
    langs = [lang for lang, cs in TINY_CAPTIONS.items() for _ in cs]
    train_tokenizer(caps, vocab_size=400, out_dir=work / "tok", languages=langs)
    model_dir = build_model(args.preset, work / "tok", work / "model", seed=0)
    data = make_images(work / "data", args.images, args.size)
    bench = load_benchmark(str(data))
    model = load_dual_encoder(model_dir)
    report: dict = {
        "images": args.images,
        "jpeg_size": args.size,
        "preset": args.preset,
        "torch_threads": torch.get_num_threads(),
    }

    # Warm-up (lazy init of both towers), untimed, as the pipeline's construction is.
    with torch.inference_mode():
        model.encode_images(model.preprocess([image(0, 0, args.size)]))
        model.encode_texts(["warm up"])

    # 1. Zero-shot classification: ours (whole suite, no cache) vs the pipeline, one prompt.
    t = time.perf_counter()
    run_suite(
        [model],
        [str(data)],
        None,
        cache_dir="",
        n_bootstrap=0,
        progress=False,
        model_names=["m"],
        templates=["This is a photo of {c}."],
    )
    ours_s = time.perf_counter() - t
    from transformers import pipeline

    n_pipe = args.pipeline_images or args.images
    pipe = pipeline("zero-shot-image-classification", model=str(model_dir), device="cpu")
    paths = [r.path for r in bench.records[:n_pipe]]
    t = time.perf_counter()
    pipe(paths, candidate_labels=bench.classnames, batch_size=64)
    pipe_s = (time.perf_counter() - t) * args.images / n_pipe
    report["zeroshot"] = {
        "ours_s": round(ours_s, 2),
        "pipeline_s": round(pipe_s, 2),
        "pipeline_images_timed": n_pipe,
        "ours_img_per_s": round(args.images / ours_s, 1),
        "pipeline_img_per_s": round(args.images / pipe_s, 1),
        "speedup": round(pipe_s / ours_s, 1),
    }

    # 2. End-to-end image embedding vs the pure forward on pre-decoded, preprocessed tensors.
    t = time.perf_counter()
    encode_benchmark_images(model, bench, batch_size=64)
    e2e_s = time.perf_counter() - t
    from globelens.data import decode_image

    pixels = [
        model.preprocess(
            [
                decode_image(Path(r.path).read_bytes(), model.image_size)
                for r in bench.records[i : i + 64]
            ]
        )
        for i in range(0, len(bench.records), 64)
    ]
    t = time.perf_counter()
    with torch.inference_mode():
        for px in pixels:
            model.encode_images(px)
    fwd_s = time.perf_counter() - t
    report["end_to_end"] = {
        "e2e_s": round(e2e_s, 2),
        "forward_s": round(fwd_s, 2),
        "ratio": round(e2e_s / fwd_s, 2),
    }

    # 3. Cache: first run (empty cache, 80 templates) vs second run with new prompts.
    cache = work / "cache"
    t = time.perf_counter()
    run_suite(
        [model], [str(data)], work / "r1", cache_dir=str(cache), progress=False, model_names=["m"]
    )
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    run_suite(
        [model],
        [str(data)],
        work / "r2",
        cache_dir=str(cache),
        progress=False,
        model_names=["m"],
        templates=["a photo of my {c}.", "itap of a {c}.", "a {c} at home."],
    )
    second_s = time.perf_counter() - t
    report["cache"] = {
        "first_s": round(first_s, 2),
        "second_s": round(second_s, 2),
        "speedup": round(first_s / second_s, 1),
    }
    print(json.dumps(report, indent=1))
    np.save(work / "done.npy", np.zeros(1))


if __name__ == "__main__":
    main()
