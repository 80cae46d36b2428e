"""Generative evaluation speed: batched + cached vs one ``generate`` call per sample.

    .venv/bin/python benchmarks/bench_geneval.py [--images 8] [--max-new-tokens 8]
        [--batch-size 16] [--repeats 2] [--world DIR] [--out FILE]

Same tiny PaliGemma (tests/models/vlm_factory.py, random weights) and the same questions of
the tiny world's ``world/vqa`` set (its first ``--images`` pictures), in one process, model
loaded once:

1. **per sample** (lmms-eval's loop): for each question, read and decode its picture, call
   ``generate([image], [prompt], batch_size=1)``, score it (VQA accuracy);
2. **ours, cold**: the whole ``vqa`` task (batched generation with decode threads, parsing,
   metrics, groups with 1,000 bootstrap resamples, example thumbnails) into an empty cache;
3. **ours, cached, another metric setting**: the same task again with 200 resamples; every
   answer comes from the generation cache.

1 and 2 alternate ``--repeats`` times (load from other jobs hits both); the paired ratio of
each repeat and the ratio of the medians are reported.
The answers of 1 and 2 must be identical (asserted): batching changes nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "models"))

from vlm_factory import tiny_paligemma_dir

from globelens.data.images import decode_image
from globelens.evaluate import load_benchmark
from globelens.evaluate.generate import DecodeSettings, GenerationCache, Request, run_generation
from globelens.evaluate.genmetrics.vqa import vqa_accuracy
from globelens.evaluate.suite import Caches, SuiteOptions, evaluate_model_on_benchmark
from globelens.models import tasklang
from globelens.models.paligemma import load_generator


def per_sample(model, bench, requests, answers, settings) -> tuple[float, list[str]]:
    """lmms-eval's way: one generate call per (image, question)."""
    t = time.perf_counter()
    texts = []
    for req, gts in zip(requests, answers, strict=True):
        im = decode_image(Path(bench.records[req.index].path).read_bytes())
        gen = model.generate(
            [im], [req.prompt], max_new_tokens=settings.max_new_tokens, batch_size=1
        )[0]
        parsed = tasklang.parse(req.prompt, gen.text, *im.size)
        vqa_accuracy(parsed.answer or "", gts)
        texts.append(gen.text)
    return time.perf_counter() - t, texts


def ours(model, bench, cache_dir: Path, n_bootstrap: int, batch_size: int, settings) -> tuple:
    opts = SuiteOptions(
        n_bootstrap=n_bootstrap,
        progress=False,
        gen_batch_size=batch_size,
        task_options={"max_new_tokens": settings.max_new_tokens},
    )
    caches = Caches(generations=GenerationCache(cache_dir))
    t = time.perf_counter()
    (res,) = evaluate_model_on_benchmark(model, bench, ["vqa"], opts, caches)
    return time.perf_counter() - t, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--world", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-geneval-"))
    world = args.world
    if world is None:
        from globelens.world import build_world

        world = tmp / "world"
        build_world(world, seed=0, size="tiny", workers=1, progress=False)
    model = load_generator(tiny_paligemma_dir(tmp / "pg"))
    bench = load_benchmark("world/vqa", world)
    bench.records = bench.records[: args.images]
    requests, answers = [], []
    for i, r in enumerate(bench.records):
        for qa in r.annotations.get("qa", ()):
            q = " ".join(qa.question.split())
            requests.append(Request(i, tasklang.answer(q, qa.lang or "en")))
            answers.append(list(qa.answers))
    settings = DecodeSettings(max_new_tokens=args.max_new_tokens)
    run_generation(model, bench, requests[:2], settings, batch_size=2)  # warm-up
    t_single, t_cold, t_warm = [], [], []
    for k in range(args.repeats):
        s, texts = per_sample(model, bench, requests, answers, settings)
        t_single.append(s)
        c, res = ours(model, bench, tmp / f"cache{k}", 1000, args.batch_size, settings)
        t_cold.append(c)
        w, res2 = ours(model, bench, tmp / f"cache{k}", 200, args.batch_size, settings)
        t_warm.append(w)
        assert res["timing"]["generated"] == len(requests) and res2["timing"]["generated"] == 0
        cached = run_generation(
            model, bench, requests, settings, GenerationCache(tmp / f"cache{k}")
        )
        assert [a.text for a in cached.answers] == texts, "batched answers differ"
    med = statistics.median
    report = {
        "images": len(bench.records),
        "questions": len(requests),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "per_sample_s": t_single,
        "ours_cold_s": t_cold,
        "ours_cached_s": t_warm,
        "per_sample_answers_per_s": len(requests) / med(t_single),
        "ours_answers_per_s": len(requests) / med(t_cold),
        "speedup_per_repeat": [a / b for a, b in zip(t_single, t_cold, strict=True)],
        "cached_speedup_per_repeat": [a / b for a, b in zip(t_cold, t_warm, strict=True)],
        "speedup_batched_vs_per_sample": med(t_single) / med(t_cold),
        "speedup_cached_vs_cold": med(t_cold) / med(t_warm),
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
