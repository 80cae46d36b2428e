"""Where a picture's identity gets lost in act two: the tower, or the decoder?

``probe``: a linear probe (multinomial logistic regression, L-BFGS, standardised features) on
the mean patch feature of a frozen SigLIP tower, fit on two thirds of the one-object scenes of
a scene shard and scored on the rest: how well the tower alone names the object.

``rank``: a PaliGemma's per-token loss on the right English answer to "what is this?" with the
picture and with a grey one, and how often the right answer has the lowest loss among every
answer of the questions asked: how well the decoder reads the identity.

    python benchmarks/act_two_probe.py probe --tower DEMO/runs/globe-tl_seed11/model \\
        --scenes DEMO/world/scenes/00000.tar --px 32
    python benchmarks/act_two_probe.py rank --model DEMO/vlm/globe-tl_seed11/model \\
        --vqa DEMO/world/benchmarks/vqa
"""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from globelens.models import tasklang
from globelens.models.vlm import _tower_state


def one_object_scenes(shard: Path, px: int, limit: int) -> tuple[torch.Tensor, list[str]]:
    """Pictures (resized to ``px``, not normalised) and labels of one-object scenes."""
    members: dict[str, dict[str, Any]] = {}
    with tarfile.open(shard) as t:
        for m in t.getmembers():
            key, ext = m.name.rsplit(".", 1)
            members.setdefault(key, {})[ext] = m
        pics, labels = [], []
        for d in members.values():
            meta = json.load(t.extractfile(d["json"]))
            if len(meta["objects"]) != 1:
                continue
            im = Image.open(t.extractfile(d["jpg"])).convert("RGB").resize((px, px), Image.BICUBIC)
            pics.append(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255)
            labels.append(meta["objects"][0]["label"])
            if len(pics) >= limit:
                break
    return torch.tensor(np.stack(pics)), labels


def logistic_probe(x: torch.Tensor, y: torch.Tensor, n_fit: int) -> float:
    """Held-out accuracy of an L2-regularised multinomial logistic regression."""
    mu, sd = x[:n_fit].mean(0), x[:n_fit].std(0) + 1e-6
    x = (x - mu) / sd
    head = torch.nn.Linear(x.shape[1], int(y.max()) + 1)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=300)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x[:n_fit]), y[:n_fit])
        loss = loss + 1e-3 * (head.weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float((head(x[n_fit:]).argmax(1) == y[n_fit:]).float().mean())


def probe(args: argparse.Namespace) -> None:
    from transformers import AutoConfig, SiglipVisionConfig, SiglipVisionModel

    full = AutoConfig.from_pretrained(args.tower, local_files_only=True)
    vcfg = SiglipVisionConfig(**full.vision_config.to_dict())
    vcfg.image_size, vcfg.vision_use_head = args.px, False
    tower = SiglipVisionModel(vcfg).eval()
    state = _tower_state(Path(args.tower), args.px, vcfg.patch_size)
    if any(k.startswith("vision_model.") for k in tower.state_dict()):
        state = {f"vision_model.{k}": v for k, v in state.items()}
    tower.load_state_dict(state)
    pre = json.loads((Path(args.tower) / "preprocessor_config.json").read_text())
    mean = torch.tensor(pre.get("image_mean", [0.5] * 3))[:, None, None]
    std = torch.tensor(pre.get("image_std", [0.5] * 3))[:, None, None]
    pics, labels = one_object_scenes(Path(args.scenes), args.px, args.limit)
    names = sorted(set(labels))
    y = torch.tensor([names.index(label) for label in labels])
    with torch.no_grad():
        feats = torch.cat([
            tower(pixel_values=(pics[i : i + 256] - mean) / std).last_hidden_state.mean(1)
            for i in range(0, len(pics), 256)
        ])  # fmt: skip
    n_fit = len(y) * 2 // 3
    print(json.dumps({
        "px": args.px, "classes": len(names), "scenes": len(y),
        "tower_probe": round(logistic_probe(feats, y, n_fit), 4),
        "pixels_probe": round(logistic_probe(pics.flatten(1), y, n_fit), 4),
        "majority": round(float(torch.bincount(y[n_fit:]).max()) / (len(y) - n_fit), 4),
    }))  # fmt: skip


def rank(args: argparse.Namespace) -> None:
    from transformers import PaliGemmaForConditionalGeneration, PaliGemmaProcessor

    model = PaliGemmaForConditionalGeneration.from_pretrained(args.model).eval()
    proc = PaliGemmaProcessor.from_pretrained(args.model)
    vqa = Path(args.vqa)
    questions = json.loads((vqa / "v2_OpenEnded_mscoco_val2014_questions.json").read_text())
    answers = json.loads((vqa / "v2_mscoco_val2014_annotations.json").read_text())
    rows = [
        (q, a) for q, a in zip(questions["questions"], answers["annotations"], strict=True)
        if a["question_type"] == "what is this" and q["lang"] == "en"
    ][: args.limit]  # fmt: skip
    images = [
        Image.open(vqa / "val2014" / f"COCO_val2014_{q['image_id']:012d}.jpg").convert("RGB")
        for q, _ in rows
    ]
    prompts = [tasklang.answer(q["question"], "en") for q, _ in rows]
    truth = [a["multiple_choice_answer"] for _, a in rows]
    candidates = sorted(set(truth))

    def loss(pics: list[Image.Image], texts: list[str], suffixes: list[str]) -> torch.Tensor:
        enc = proc(text=["<image>" + t for t in texts], images=pics, suffix=suffixes,
                   return_tensors="pt", padding="longest")  # fmt: skip
        with torch.no_grad():
            logits = model(**enc).logits[:, :-1]
        labels = enc["labels"][:, 1:]
        ce = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), labels, ignore_index=-100, reduction="none"
        )
        return ce.sum(1) / (labels != -100).sum(1)

    grey = [Image.new("RGB", im.size, (128, 128, 128)) for im in images]
    hits = 0
    for im, prompt, right in zip(images, prompts, truth, strict=True):
        per = loss([im] * len(candidates), [prompt] * len(candidates), candidates)
        hits += candidates[int(per.argmin())] == right
    print(json.dumps({
        "questions": len(rows), "candidates": len(candidates),
        "loss_picture": round(float(loss(images, prompts, truth).mean()), 3),
        "loss_grey": round(float(loss(grey, prompts, truth).mean()), 3),
        "right_answer_first": round(hits / len(rows), 4),
    }))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--tower", required=True)
    p.add_argument("--scenes", required=True)
    p.add_argument("--px", type=int, default=32)
    p.add_argument("--limit", type=int, default=3000)
    r = sub.add_parser("rank")
    r.add_argument("--model", required=True)
    r.add_argument("--vqa", required=True)
    r.add_argument("--limit", type=int, default=60)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    {"probe": probe, "rank": rank}[args.cmd](args)


if __name__ == "__main__":
    main()
