"""Generation benchmarks for the PaliGemma ``Generator`` (CPU by default).

1. ``pipeline``: batched ``HFGenerator.generate`` against ``pipeline("image-text-to-text")`` on
   the same tiny model and pictures, greedy outputs asserted equal; images/s and tokens/s. The
   pipeline is run in both of its input forms: chat messages (one conversation per picture,
   with its ``batch_size``) and the plain ``images=[...], text=[...]`` form (which the pipeline
   turns into one batch of everything), over the given batch sizes and thread counts; the best
   pipeline setting is the reference. Every run generates exactly ``--new-tokens`` tokens
   (``min_new_tokens``), so tokens/s compare like for like.
2. ``kvcache``: time per generated token with the KV cache against re-running the whole
   sequence at every step (``use_cache=False``), same outputs asserted, for 32-token
   generations, on the tiny model and on a larger one (``--kv-decoder``, ``--kv-image-size``)
   where compute rather than Python overhead dominates.

Settings alternate inside each repeat and medians are reported, since the machine may be
shared.

    .venv/bin/python benchmarks/bench_generate.py --images 32 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "models"))


def pictures(n: int, seed: int = 0) -> list:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)) for _ in range(n)]


PROMPTS = ["caption en", "detect stove ; lamp", "answer en what is on the table?", "ocr"]


def bench_pipeline(args: argparse.Namespace, model_dir: Path) -> dict:
    import torch
    from transformers import pipeline

    from globelens.models.paligemma import load_generator

    images = pictures(args.images)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(len(images))]
    tokens = args.new_tokens
    gen = load_generator(model_dir)
    pipe = pipeline("image-text-to-text", model=str(model_dir))
    chats = [
        [{"role": "user", "content": [{"type": "image", "image": im}, {"type": "text", "text": p}]}]
        for im, p in zip(images, prompts, strict=True)
    ]
    kw = {"max_new_tokens": tokens, "min_new_tokens": tokens}

    def ours(bs: int) -> list[str]:
        return [g.text for g in gen.generate(images, prompts, batch_size=bs, **kw)]

    def pipe_chat(bs: int) -> list[str]:
        out = pipe(text=chats, return_full_text=False, batch_size=bs, generate_kwargs=kw)
        return [o[0]["generated_text"] for o in out]

    def pipe_lists(_: int) -> list[str]:
        out = pipe(images=images, text=prompts, return_full_text=False, generate_kwargs=kw)
        return [o["generated_text"] for o in out]

    settings = [("generator", bs, ours) for bs in args.batch_sizes]
    settings += [("pipeline_chat", bs, pipe_chat) for bs in args.batch_sizes]
    settings += [("pipeline_lists", len(images), pipe_lists)]
    reference = ours(args.batch_sizes[-1])
    times: dict[tuple[str, int, int], list[float]] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, bs, fn in settings:  # warm-up (and the equality check) per setting
            got = fn(bs)
            if got != reference:
                diff = next(
                    i for i, (a, b) in enumerate(zip(got, reference, strict=True)) if a != b
                )
                raise AssertionError(f"{name} bs={bs}: output {diff} differs: {got[diff]!r}")
        for _ in range(args.repeats):
            for name, bs, fn in settings:
                t0 = time.perf_counter()
                fn(bs)
                times.setdefault((name, bs, threads), []).append(time.perf_counter() - t0)
    rows = []
    for (name, bs, threads), ts in times.items():
        sec = statistics.median(ts)
        rows.append(
            {
                "impl": name,
                "batch_size": bs,
                "threads": threads,
                "seconds": sec,
                "images_per_s": len(images) / sec,
                "tokens_per_s": len(images) * tokens / sec,
            }
        )
    best = {
        impl: max((r for r in rows if r["impl"].startswith(impl)), key=lambda r: r["images_per_s"])
        for impl in ("generator", "pipeline")
    }
    return {
        "images": len(images),
        "new_tokens": tokens,
        "outputs_equal": True,
        "rows": rows,
        "best": best,
        "speedup": best["generator"]["images_per_s"] / best["pipeline"]["images_per_s"],
    }


def bench_kvcache(args: argparse.Namespace, model_dir: Path, label: str) -> dict:
    import torch

    from globelens.models.paligemma import load_generator

    torch.set_num_threads(args.threads[-1])
    gen = load_generator(model_dir)
    images = pictures(args.kv_batch, seed=1)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(len(images))]
    tokens = 32
    kw = {"max_new_tokens": tokens, "min_new_tokens": tokens, "batch_size": len(images)}
    cached = gen.generate(images, prompts, **kw)
    full = gen.generate(images, prompts, use_cache=False, **kw)
    if [g.token_ids for g in cached] != [g.token_ids for g in full]:
        raise AssertionError(f"{label}: outputs with and without the KV cache differ")
    times: dict[str, list[float]] = {"cache": [], "no_cache": []}
    for _ in range(args.repeats):
        for name, extra in (("cache", {}), ("no_cache", {"use_cache": False})):
            t0 = time.perf_counter()
            gen.generate(images, prompts, **kw, **extra)
            times[name].append(time.perf_counter() - t0)
    per_token = {k: statistics.median(v) / (tokens * len(images)) for k, v in times.items()}
    params = sum(p.numel() for p in gen.model.parameters())
    prefix = int(gen.inputs(images[:1], prompts[:1])["input_ids"].shape[1])
    return {
        "model": label,
        "parameters": params,
        "prefix_tokens": prefix,
        "batch": len(images),
        "new_tokens": tokens,
        "ms_per_token_cache": 1000 * per_token["cache"],
        "ms_per_token_no_cache": 1000 * per_token["no_cache"],
        "speedup": per_token["no_cache"] / per_token["cache"],
        "outputs_equal": True,
    }


def larger_model(args: argparse.Namespace, out: Path) -> Path:
    from vlm_factory import VLM_TEXTS

    from globelens.models.vlm import build_paligemma, build_vlm_tokenizer, save_generator

    s = args.kv_image_size
    vision = {
        "image_size": s,
        "patch_size": 16,
        "hidden_size": 384,
        "intermediate_size": 1536,
        "num_hidden_layers": args.kv_vision_layers,
        "num_attention_heads": 6,
    }
    tok = build_vlm_tokenizer(VLM_TEXTS, vocab_size=512)
    model, processor = build_paligemma(vision, {"model_type": "gemma", **args.kv_decoder}, tok)
    return save_generator(model, processor, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16, 32])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--kv-batch", type=int, default=8)
    ap.add_argument("--kv-image-size", type=int, default=160)
    ap.add_argument("--kv-vision-layers", type=int, default=4, help="SigLIP 384-wide layers.")
    ap.add_argument(
        "--kv-decoder",
        type=json.loads,
        default={
            "hidden_size": 384,
            "intermediate_size": 1536,
            "num_hidden_layers": 4,
            "num_attention_heads": 6,
            "num_key_value_heads": 1,
            "head_dim": 64,
            "max_position_embeddings": 1024,
        },
        help="Gemma config kwargs of the larger KV-cache model (JSON).",
    )
    ap.add_argument("--only", choices=["pipeline", "kvcache"], default=None)
    ap.add_argument("--out", type=Path, default=None, help="Also write the results as JSON.")
    args = ap.parse_args()

    from vlm_factory import tiny_paligemma_dir

    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tiny = tiny_paligemma_dir(Path(tmp) / "tiny")
        if args.only in (None, "pipeline"):
            result["pipeline"] = bench_pipeline(args, tiny)
            print(json.dumps(result["pipeline"]["best"], indent=1), flush=True)
            print(
                f"generator / pipeline speed-up: {result['pipeline']['speedup']:.2f}x", flush=True
            )
        if args.only in (None, "kvcache"):
            result["kvcache"] = [bench_kvcache(args, tiny, "tiny")]
            print(json.dumps(result["kvcache"][-1]), flush=True)
            big = larger_model(args, Path(tmp) / "larger")
            result["kvcache"].append(bench_kvcache(args, big, "larger"))
            print(json.dumps(result["kvcache"][-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
