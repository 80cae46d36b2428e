"""Act two's recipe, measured: learning curves of the demo's generative metrics against
training CPU-seconds, each point beside its prior-only baseline (the same model shown blank
pictures, ``?pictures=blank``).

It reuses a finished demo folder (``globelens demo --quick --seed 11 --out DIR``): the world,
act one's tower, the mask codec. Each lever (``LEVERS``) is a change to act two's training
settings (``globelens.experiments.generative_act.ActTwoConfig``); each is trained once, one
thread, one run at a time, with a checkpoint at each point of the curve, and every checkpoint is
scored on the act's own benchmark pictures (``--limit`` of each). A pretrained decoder
(``globelens.train.textpretrain``) is trained once and its CPU-seconds are added to the x axis
of every lever that uses it.

    python benchmarks/act_two_recipe.py --demo DIR --out OUT --levers act,textlm \\
        --points 300,900,1800,3600

Progress: JSON lines on stdout. Results: OUT/curves.json (rewritten after every point) and
OUT/curves.md (the table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from globelens.evaluate import run_suite
from globelens.experiments.generative_act import PROFILES, ActTwoConfig, eval_options
from globelens.models.vlm import GEMMA_PRESETS
from globelens.train.config import PhaseConfig, SourceConfig, TaskConfig, VLMTrainConfig
from globelens.train.generative import GenerativeObjective
from globelens.train.loop import train
from globelens.train.textpretrain import INFO_FILE, TextPretrainConfig, pretrain_decoder

#: the metrics of the curves: (benchmark, task, metric key or "qtype:<question type>", label,
#: target for the globe-tl tower in --quick)
METRICS: tuple[tuple[str, str, str, str, float], ...] = (
    ("world/vqa", "vqa", "qtype:what is this", "VQA what is this?", 40.0),
    ("world/vqa", "vqa", "vqa_acc", "VQA overall", 65.0),
    ("world/captions", "captioning", "CIDEr", "Captions CIDEr", 25.0),
    ("world/refcoco", "referring_segmentation", "miou", "Referring mIoU", 35.0),
    ("world/coco_det", "detection", "AP50", "Detection mAP@0.5", 20.0),
)


@dataclass(frozen=True)
class Lever:
    """A change to act two's settings, and whether it starts from the pretrained decoder."""

    help: str
    edit: Callable[[VLMTrainConfig], None]
    decoder: bool = False


def _unfreeze(cfg: VLMTrainConfig) -> None:
    cfg.model.freeze_vision = False


def _last(n: int) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        cfg.model.unfreeze_last_n = n

    return edit


def _resolution(px: int) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        cfg.model.image_size = px

    return edit


def _loc(init: str) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        cfg.model.loc_init = init

    return edit


def _phases(*phases: tuple[float, dict[str, float]]) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        cfg.data.phases = [PhaseConfig(until=u, mix=m) for u, m in phases]

    return edit


def _decoder(**shape: Any) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        name = cfg.model.decoder + "".join(f"-{k}{v}" for k, v in sorted(shape.items()))
        GEMMA_PRESETS[name] = {**GEMMA_PRESETS[cfg.model.decoder], **shape}
        cfg.model.decoder = name

    return edit


def _mix(mix: dict[str, float]) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        cfg.data.phases = [PhaseConfig(until=1.0, mix=mix)]

    return edit


def _lr(lr: float) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        cfg.optim.lr = lr

    return edit


def _batch(n: int) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        cfg.batch_size = n

    return edit


def _both(*edits: Callable[[VLMTrainConfig], None]) -> Callable[[VLMTrainConfig], None]:
    def edit(cfg: VLMTrainConfig) -> None:
        for e in edits:
            e(cfg)

    return edit


LOC_MIX = {"caption": 1.0, "answer": 1.0, "detect": 2.0, "segment": 0.5, "refer": 1.5}
VQA_MIX = {"caption": 1.0, "answer": 4.0, "detect": 1.0, "segment": 0.5, "refer": 0.5}
LEVERS: dict[str, Lever] = {
    "act": Lever("the act's settings: frozen tower, fresh decoder", lambda cfg: None),
    "unfreeze": Lever("fresh decoder, the whole tower trained", _unfreeze),
    "mha": Lever("decoder with 4 key/value heads", _decoder(num_key_value_heads=4)),
    "mha_px64_locfourier": Lever(
        "4 key/value heads, 64 px frozen tower, Fourier <loc>",
        _both(_decoder(num_key_value_heads=4), _resolution(64), _loc("fourier")),
    ),
    "lr2": Lever("the act's settings at lr 2e-3", _lr(2e-3)),
    "lr12": Lever("the act's settings at lr 1.2e-2", _lr(1.2e-2)),
    "batch64": Lever("the act's settings at batch 64", _batch(64)),
    "batch128": Lever("the act's settings at batch 128", _batch(128)),
    "textlm": Lever("pretrained decoder, frozen tower", lambda cfg: None, decoder=True),
    "textlm_lr3": Lever("pretrained decoder, lr 3e-3", _lr(3e-3), decoder=True),
    "textlm_unfreeze": Lever("pretrained decoder, whole tower trained", _unfreeze, decoder=True),
    "textlm_last1": Lever("pretrained decoder, tower's last layer trained", _last(1), True),
    "textlm_loc": Lever("pretrained decoder, localisation-heavy mix", _mix(LOC_MIX), True),
    "textlm_vqa": Lever("pretrained decoder, answer-heavy mix", _mix(VQA_MIX), True),
    "px64": Lever("frozen tower at 64 px (positions resampled)", _resolution(64)),
    "locfourier": Lever("<loc> embeddings start on a Fourier curve", _loc("fourier")),
    "px64_locfourier": Lever(
        "64 px frozen tower, Fourier <loc>", _both(_resolution(64), _loc("fourier"))
    ),
    "px64_loc_mix": Lever(
        "64 px frozen tower, Fourier <loc>, localisation-heavy mix",
        _both(_resolution(64), _loc("fourier"), _mix(LOC_MIX)),
    ),
    "textlm_64px": Lever(
        "pretrained decoder, tower trained at 64 px", _both(_unfreeze, _resolution(64)), True
    ),
}


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"time": round(time.time(), 1), "event": event, **fields}), flush=True)


class TimedObjective(GenerativeObjective):
    """The generative objective, logging this process's CPU-seconds with every metrics line
    (``time.process_time``: what a shared machine still measures fairly)."""

    def __init__(self, cfg: VLMTrainConfig, dist: Any) -> None:
        super().__init__(cfg, dist)
        self._cpu0 = time.process_time()

    def metrics(self) -> dict[str, float]:
        return {**super().metrics(), "cpu_s": round(time.process_time() - self._cpu0, 2)}


def act_config(act: ActTwoConfig, demo: Path, tower: str, seed: int, out: Path) -> VLMTrainConfig:
    """Act two's training settings for one tower (``generative_act.vlm_train_config``'s)."""
    run = VLMTrainConfig(out=str(out), batch_size=act.batch_size, seed=seed, progress=False)
    run.threads = 1
    run.log_every = 10
    run.optim.lr = act.lr
    run.data.sources = [SourceConfig("world", str(demo / "world" / "scenes" / "*.tar"))]
    run.data.decoded_cache_mb = 256
    run.tasks = [
        TaskConfig(name, kind=kind, source="world",
                   negatives=act.detect_negatives if kind == "detect" else 0)
        for name, kind, _ in act.tasks
    ]  # fmt: skip
    run.data.phases = [PhaseConfig(until=1.0, mix={n: w for n, _, w in act.tasks})]
    run.model.vision = str(demo / "runs" / f"{tower}_seed{seed}" / "model")
    run.model.freeze_vision = act.freeze_vision
    run.model.decoder = act.decoder
    run.model.codec = str(demo / "codec" / "world.safetensors")
    run.model.tokenizer_vocab = act.tokenizer_vocab
    run.model.tokenizer_texts = 4000
    run.model.max_text_tokens = act.max_text_tokens
    return run


def ensure_decoder(demo: Path, out: Path, steps: int, seed: int) -> tuple[Path, float]:
    """The world's pretrained decoder (trained once) and its CPU-seconds."""
    folder = out / "decoder"
    if not (folder / INFO_FILE).is_file():
        cfg = TextPretrainConfig(
            out=str(folder), data=[str(demo / "world" / "scenes" / "*.tar")], steps=steps,
            seed=seed, tokenizer_vocab=1024, max_tokens=96,
        )  # fmt: skip
        pretrain_decoder(cfg, log=lambda record: log(**record))
    info = json.loads((folder / INFO_FILE).read_text())
    return folder, float(info["cpu_s"])


def train_curve(cfg: VLMTrainConfig, points: list[int]) -> list[tuple[int, float, Path]]:
    """Train to the last point, a checkpoint at each; (step, CPU-s, model dir) per point."""
    cfg.steps = max(points)
    cfg.checkpoint.every = points[0] if len(points) == 1 else _gcd(points)
    cfg.checkpoint.keep = 10_000
    train(cfg, objective=TimedObjective)
    cpu = {}
    for line in (Path(cfg.out) / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "cpu_s" in rec:
            cpu[rec["step"]] = rec["cpu_s"]
    ckpts = Path(cfg.out) / "checkpoints"
    return [(p, cpu[p], ckpts / f"step_{p:06d}") for p in points]


def _gcd(values: list[int]) -> int:
    return math.gcd(*values)


def _metric(results: list[dict[str, Any]], task: str, key: str) -> float | None:
    for r in results:
        if r.get("task") != task:
            continue
        if key.startswith("qtype:"):
            found = r.get("question_types", {}).get(key.removeprefix("qtype:"))
            return None if found is None else 100.0 * found["vqa_acc"]
        value = r["metrics"].get(key)
        if value is None:
            return None
        # CIDEr is reported x1 (pycocoevalcap): shown x100 like the act's table
        return 100.0 * float(value)
    return None


def score(model: Path, demo: Path, act: ActTwoConfig, limits: dict[str, int], blank: bool) -> dict:
    """The act's benchmarks on one model (``blank``: every picture grey); metric -> value."""
    out: dict[str, float | None] = {}
    cpu0 = time.process_time()
    for bench, tokens, _ in act.benchmarks:
        spec = f"{bench}?pictures=blank" if blank else bench
        results = run_suite(
            [str(model)], [spec], None, data_root=str(demo / "world"), n_bootstrap=0, seed=0,
            cache_dir=None, progress=False, limit=limits[bench], gen_batch_size=act.gen_batch_size,
            task_options=eval_options(act, bench, tokens),
        )  # fmt: skip
        for b, task, key, label, _ in METRICS:
            if b == bench:
                out[label] = _metric(results, task, key)
    out["eval_cpu_s"] = round(time.process_time() - cpu0, 1)
    return out


def table(curves: dict[str, Any]) -> str:
    labels = [m[3] for m in METRICS]
    head = "| lever | steps | CPU-s (with the decoder's) | " + " | ".join(labels) + " |"
    lines = [head, "|" + "---|" * 3 + "---:|" * len(labels)]
    for name, curve in curves["levers"].items():
        for p in curve["points"]:
            cells = []
            for label in labels:
                v, b = p["metrics"].get(label), p["blank"].get(label)
                cells.append(
                    "n/a" if v is None else f"{v:.1f} ({'n/a' if b is None else f'{b:.1f}'})"
                )
            lines.append(f"| {name} | {p['step']} | {p['cpu_s']:.0f} | " + " | ".join(cells) + " |")
    targets = " · ".join(f"{m[3]} ≥ {m[4]:g}" for m in METRICS)
    return "\n".join([*lines, "", f"Each cell: metric (prior-only baseline). Targets: {targets}."])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo", type=Path, required=True, help="a finished quick demo's folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tower", default="globe-tl")
    ap.add_argument("--seed", type=int, default=11, help="the demo's seed (its towers)")
    ap.add_argument(
        "--train-seed", type=int, default=None, help="the PaliGemma's (default: --seed)"
    )
    ap.add_argument("--levers", default="act,textlm", help=f"of: {','.join(LEVERS)}")
    ap.add_argument("--points", default="300,900", help="training steps to score at")
    ap.add_argument("--decoder-steps", type=int, default=600)
    ap.add_argument("--label", default="", help="appended to each lever's name in the curves")
    ap.add_argument("--limit", type=int, default=100, help="pictures per benchmark")
    ap.add_argument("--det-limit", type=int, default=48, help="pictures for detection")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    unknown = [x for x in args.levers.split(",") if x not in LEVERS]
    if unknown:
        sys.exit(f"unknown lever(s) {unknown}; available: {', '.join(LEVERS)}")
    act = PROFILES["quick"]
    points = sorted(int(p) for p in args.points.split(","))
    limits = {b: args.limit for b, _, _ in act.benchmarks} | {"world/coco_det": args.det_limit}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "curves.json"
    curves = json.loads(path.read_text()) if path.is_file() else {"levers": {}}
    curves |= {"tower": args.tower, "seed": args.seed, "limits": limits,
               "loadavg_start": os.getloadavg(), "act": {"steps": act.steps, "lr": act.lr}}  # fmt: skip
    for name in args.levers.split(","):
        run_lever(name, args, act, points, limits, curves, path)
    (args.out / "curves.md").write_text(table(curves) + "\n")
    log("done", out=str(args.out), loadavg=os.getloadavg())


def run_lever(name: str, args: Any, act: ActTwoConfig, points: list[int], limits: dict,
              curves: dict, path: Path) -> None:  # fmt: skip
    lever = LEVERS[name]
    cfg = act_config(act, args.demo, args.tower, args.seed, args.out / "runs" / (name + args.label))
    extra = 0.0
    if lever.decoder:
        folder, extra = ensure_decoder(args.demo, args.out, args.decoder_steps, args.seed)
        cfg.model.decoder_init = str(folder)
    if args.train_seed is not None:
        cfg.seed = args.train_seed
    lever.edit(cfg)
    log("lever_start", lever=name, help=lever.help, points=points, loadavg=os.getloadavg())
    entry = {"help": lever.help, "decoder_cpu_s": extra, "points": []}
    for step, cpu, model in train_curve(cfg, points):
        point = {"step": step, "cpu_s": round(cpu + extra, 1), "train_cpu_s": cpu,
                 "metrics": score(model, args.demo, act, limits, blank=False),
                 "blank": score(model, args.demo, act, limits, blank=True),
                 "loadavg": os.getloadavg()}  # fmt: skip
        entry["points"].append(point)
        curves["levers"][name + args.label] = entry
        path.write_text(json.dumps(curves, indent=2) + "\n")
        log("point", lever=name, **point)


if __name__ == "__main__":
    main()
