"""What validating a scene's annotations costs the generative data path.

Renders the world's training scenes, then times, side by side in one process and alternately
(best of ``--repeats``): reading each scene's ``.json`` into the typed record
(``Annotations.from_json``), and building a training target from the record alone, for each
task. The trainer does both per sample; the ratio is what the validation adds.

    python benchmarks/bench_annotations.py --scenes 96 --repeats 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import tempfile
import time
from pathlib import Path

import torch

from globelens.data import read_shards
from globelens.data.annotations import Annotations
from globelens.data.shards import ReadReport
from globelens.models.maskcodec import MaskCodec
from globelens.tasks import TASKS, TargetContext, build_target
from globelens.train.data import SampleError
from globelens.world.config import WorldConfig
from globelens.world.scene_sinks import SceneShardSink
from globelens.world.scenes import SCENE_SIZE, plan_training_scene


def scenes(n: int, out: Path) -> list[dict]:
    sink = SceneShardSink(out, maxcount=64)
    for i in range(n):
        sink.add(plan_training_scene(0, i, WorldConfig()))
    sink.close()
    return [s.meta for s in read_shards(str(out / "scenes"), ReadReport(), require_caption=False)]


def best_us(fn, items: list, repeats: int) -> float:
    """Best per-item time over ``repeats`` passes, in microseconds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for k, item in enumerate(items):
            fn(k, item)
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / len(items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        metas = scenes(args.scenes, Path(tmp))
    parsed = [Annotations.from_json(m) for m in metas]
    codec = MaskCodec()
    out = {"scenes": len(metas)}
    out["validate_us"] = round(
        best_us(lambda k, m: Annotations.from_json(m), metas, args.repeats), 1
    )
    for name in TASKS:
        ctx = TargetContext(SCENE_SIZE, SCENE_SIZE, codec=codec)

        def target(k: int, ann: Annotations, name: str = name, ctx: TargetContext = ctx) -> None:
            with contextlib.suppress(SampleError):  # a scene without what the task needs
                build_target(name, ann, ctx, random.Random(k))

        out[f"{name}_target_us"] = round(best_us(target, parsed, args.repeats), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
