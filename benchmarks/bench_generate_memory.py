"""Generation memory on a 257,216-entry vocabulary (the released PaliGemmas'), before and after.

``before``: what ``HFGenerator.generate`` did until now — ``model.generate(output_logits=True)``,
which keeps every step's (rows, vocabulary) float logits until generation ends, then reads the
chosen tokens' log-probabilities from them. ``after``: ``HFGenerator.generate`` as it is, whose
forward hook keeps only the chosen tokens' log-probabilities (``ChosenTokenLogProbs``).

Each variant runs in its own process on the same model (``tests/models/vlm_factory.
released_paligemma_dir``: the released layout, shrunk in width) at the evaluator's detection
defaults (16 pairs per generate call, 64 new tokens, greedy; ``min_new_tokens`` makes every
row generate all 64, the worst case), and reports its peak RSS above the RSS after loading
(``ru_maxrss``), the wall time, and that both give the same token ids and log-probabilities.

    .venv/bin/python benchmarks/bench_generate_memory.py [--batch 16 --new-tokens 64 --beams 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "models"))


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kb / 1024


def _before(gen, images, prompts, kw) -> list[tuple[tuple[int, ...], float]]:
    """The previous implementation: every step's logits kept, scored afterwards."""
    import torch

    enc = gen.inputs(images, prompts)
    out = gen.model.generate(**enc, do_sample=False, return_dict_in_generate=True,
                             output_logits=True, output_scores=kw["num_beams"] > 1,
                             pad_token_id=gen.tokenizer.pad_token_id, **kw)  # fmt: skip
    new = out.sequences[:, enc["input_ids"].shape[1] :]
    steps = min(len(out.logits), new.shape[1])
    rows = (out.beam_indices[:, :steps] if kw["num_beams"] > 1
            else torch.arange(new.shape[0])[:, None].expand(-1, steps))  # fmt: skip
    results = []
    for i in range(new.shape[0]):
        ids, logprob = [], 0.0
        for t in range(steps):
            if int(rows[i, t]) < 0:
                break
            step = out.logits[t][int(rows[i, t])].float()
            logprob += float(step[new[i, t]] - torch.logsumexp(step, -1))
            if int(new[i, t]) in gen._stop_ids:
                break
            ids.append(int(new[i, t]))
        results.append((tuple(ids), logprob))
    return results


def run_variant(variant: str, model_dir: str, batch: int, tokens: int, beams: int) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from globelens.models.paligemma import load_generator

    torch.set_num_threads(1)
    gen = load_generator(model_dir)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
              for _ in range(batch)]  # fmt: skip
    prompts = ["detect stove ; lamp ; bed"] * batch
    kw = {"max_new_tokens": tokens, "min_new_tokens": tokens, "num_beams": beams}
    gen.generate(images[:1], prompts[:1], max_new_tokens=2)  # allocator warm-up
    base = _rss_mb()
    start = time.perf_counter()
    if variant == "before":
        res = _before(gen, images, prompts, kw)
    else:
        outs = gen.generate(images, prompts, batch_size=batch, **kw)
        res = [(o.token_ids, o.logprob) for o in outs]
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"variant": variant, "peak_rss_above_loaded_mb": round(peak - base, 1),
            "loaded_rss_mb": round(base, 1), "wall_s": round(wall, 2),
            "ids": [list(r[0]) for r in res], "logprobs": [r[1] for r in res]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--variant", choices=["before", "after"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:  # one measurement, in a fresh process
        print(json.dumps(run_variant(args.variant, args.model, args.batch, args.new_tokens,
                                     args.beams)))  # fmt: skip
        return
    from vlm_factory import released_paligemma_dir

    with tempfile.TemporaryDirectory() as tmp:
        model = released_paligemma_dir(Path(tmp) / "paligemma2-release")
        rows = {}
        for variant in ("before", "after"):
            cmd = [sys.executable, __file__, "--variant", variant, "--model", str(model),
                   "--batch", str(args.batch), "--new-tokens", str(args.new_tokens),
                   "--beams", str(args.beams)]  # fmt: skip
            load = os.getloadavg()[0]
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            rows[variant] = json.loads(out.stdout.strip().splitlines()[-1])
            rows[variant]["load_average"] = round(load, 2)
    same_ids = rows["before"]["ids"] == rows["after"]["ids"]
    pairs = zip(rows["before"]["logprobs"], rows["after"]["logprobs"], strict=True)
    gap = max(abs(a - b) for a, b in pairs)
    for r in rows.values():
        print(json.dumps({k: v for k, v in r.items() if k not in ("ids", "logprobs")}))
    print(json.dumps({"vocabulary": 257_216, "batch": args.batch, "new_tokens": args.new_tokens,
                      "beams": args.beams, "same_token_ids": same_ids,
                      "max_logprob_difference": gap}))  # fmt: skip


if __name__ == "__main__":
    main()
