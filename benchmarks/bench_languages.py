"""What the languages-and-cultures sets cost: their share of the world build, and the time
of their contrastive tasks beside the western set's zero-shot on the same model.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_languages.py [--size default] [--repeats 3]

Builds the world once (timed), then writes the three sets again ``--repeats`` times from the
pictures it drew (the step the build runs at its end), and evaluates a random tiny SigLIP on
world/western (zero-shot), world/babel (per language) and world/cvqa (option cosine), with
image embeddings computed once per set. Prints JSON lines with the load average, since the
machines are shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def _line(**kw: object) -> None:
    print(json.dumps({**kw, "loadavg": os.getloadavg()[0]}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    from globelens.evaluate.datasets import load_benchmark
    from globelens.evaluate.suite import SuiteOptions, evaluate_model_on_benchmark
    from globelens.models import build_model, load_dual_encoder, train_tokenizer
    from globelens.world import build_world
    from globelens.world.language_sets import write_language_sets

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w"
        t = time.perf_counter()
        summary = build_world(out, seed=0, size=args.size, workers=args.workers, progress=False)
        build_s = time.perf_counter() - t
        sets = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            write_language_sets(out, 0)
            sets.append(time.perf_counter() - t)
        lang = summary["counts"]["languages"]
        _line(step="world build", size=args.size, build_s=round(build_s, 2),
              language_sets_s=[round(s, 3) for s in sets],
              share=round(statistics.median(sets) / build_s, 4),
              cvqa_questions=lang["cvqa"]["questions"],
              grounding_concepts=lang.get("grounding", {}).get("concepts", 0))  # fmt: skip
        texts = ["a stove in a kitchen", "une lampe", "jiko la mkaa", "床の上"] * 5
        train_tokenizer(texts, vocab_size=300, out_dir=Path(tmp) / "tok")
        model = load_dual_encoder(build_model("tiny", Path(tmp) / "tok", Path(tmp) / "m", seed=0))
        opts = SuiteOptions(n_bootstrap=1000, progress=False, cache_dir="")
        for name, task in (("world/western", "zeroshot_classification"),
                           ("world/babel", "multilingual_zeroshot"),
                           ("world/cvqa", "multiple_choice")):  # fmt: skip
            bench = load_benchmark(name, out)
            t = time.perf_counter()
            [res] = evaluate_model_on_benchmark(model, bench, [task], opts, None)
            _line(step="eval", benchmark=name, task=task, records=len(bench),
                  seconds=round(time.perf_counter() - t, 2), n=res.get("n_evaluated"))  # fmt: skip


if __name__ == "__main__":
    main()
