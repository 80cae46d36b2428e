"""Hugging Face PaliGemma (1 and 2) behind the ``Generator`` protocol.

Its family is an entry of :data:`globelens.models.families.FAMILIES`, like the dual encoders'.
Generation is ``transformers``' own ``generate`` (KV cache, greedy and beam search) on batches
padded on the left; this module adds what it lacks for the task language: one call over many
(image, prompt) pairs in input order, and the sequence log-probability of each answer under the
model's raw distribution (the detection score), for greedy and beam search alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from globelens.data.images import DEFAULT_MAX_PIXELS, decode_image
from globelens.models.base import Generation
from globelens.models.families import FAMILIES, GeneratorFamily, generator_family
from globelens.models.hf import check_model_dir, config_model_type, model_fingerprint
from globelens.models.maskcodec import load_codec
from globelens.models.vlm import (
    CODEC_FILE,
    GEMMA_PRESETS,
    IMAGE,
    build_paligemma,
    build_vlm_tokenizer,
    save_generator,
)

__all__ = [
    "GEMMA_PRESETS",
    "HFGenerator",
    "build_paligemma",
    "build_vlm_tokenizer",
    "default_dtype",
    "is_generator_dir",
    "load_generator",
    "load_images",
    "save_generator",
]


def default_dtype(device: str | torch.device) -> torch.dtype:
    """bf16 on CUDA (PaliGemma's training precision), float32 elsewhere."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def is_generator_dir(path: str | os.PathLike) -> bool:
    """True for a directory whose ``config.json`` names a registered generative family."""
    return isinstance(FAMILIES.get(config_model_type(path) or ""), GeneratorFamily)


def load_images(items: Sequence[str | os.PathLike | bytes], max_pixels: int | None = None) -> list:
    """Decode paths or encoded bytes with the project's safe decoder (pixel limit, EXIF, RGB).

    Raises ``ImageDecodeError`` (with a ``reason``) on the first bad image.
    """
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    out = []
    for item in items:
        data = item if isinstance(item, bytes) else Path(item).read_bytes()
        out.append(decode_image(data, max_pixels=limit))
    return out


class HFGenerator:
    """A transformers PaliGemma with its processor, as a :class:`Generator`.

    ``logprob`` of each :class:`Generation` is the sum of the log-probabilities (softmax of the
    raw logits, before any logits processor) of every generated token including the closing
    ``<eos>``; for beam search it is the returned beam's, which beam search ranks by that sum
    divided by the length.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        codec: str | os.PathLike | None = None,
    ) -> None:
        from transformers import AutoProcessor

        p = check_model_dir(path)
        try:
            family = generator_family(config_model_type(p))
        except ValueError as e:
            raise ValueError(f"{p}: {e}") from e
        dtype = dtype or default_dtype(device)
        model = family.model_class().from_pretrained(
            p, local_files_only=True, use_safetensors=True, dtype=dtype
        )
        processor = AutoProcessor.from_pretrained(p, local_files_only=True)
        self._setup(model.to(device), processor, _find_codec(p, codec))
        self.path = str(p)
        self.fingerprint = model_fingerprint(p)

    def _setup(self, model: Any, processor: Any, codec: Any | None) -> None:
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.codec = codec
        self.device = next(model.parameters()).device
        size = processor.image_processor.size
        self.image_size = int(size.get("height") or size.get("shortest_edge"))
        tok = self.tokenizer
        self._stop_ids = {tok.eos_token_id, tok.pad_token_id}

    @classmethod
    def from_loaded(
        cls, model: Any, processor: Any, codec: Any | None = None, fingerprint: str = "live"
    ) -> HFGenerator:
        """Wrap an in-memory model (e.g. during training); the caller restores train mode."""
        self = cls.__new__(cls)
        self._setup(model, processor, codec)
        self.path, self.fingerprint = "", fingerprint
        return self

    def inputs(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> Any:
        """Processor outputs for one batch, padded on the left (for generation)."""
        texts = [IMAGE + p for p in prompts]
        enc = self.processor(
            images=list(images),
            text=texts,
            padding="longest",
            padding_side="left",
            return_tensors="pt",
        )
        enc = enc.to(self.device)
        if "pixel_values" in enc:
            enc["pixel_values"] = enc["pixel_values"].to(self.model.dtype)
        return enc

    @torch.no_grad()
    def generate(
        self,
        images: Sequence[Image.Image],
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 32,
        num_beams: int = 1,
        batch_size: int = 16,
        **generate_kwargs: Any,
    ) -> list[Generation]:
        """One :class:`Generation` per (image, prompt), in input order.

        Pairs are batched by prompt length (less padding); ``generate_kwargs`` go to
        ``model.generate`` (e.g. ``use_cache=False``, ``min_new_tokens``).
        """
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        if max_new_tokens < 1 or num_beams < 1 or batch_size < 1:
            raise ValueError("max_new_tokens, num_beams and batch_size must be >= 1")
        lengths = [len(self.tokenizer(p)["input_ids"]) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
        results: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = self._generate_batch(
                [images[i] for i in idx],
                [prompts[i] for i in idx],
                max_new_tokens,
                num_beams,
                generate_kwargs,
            )
            for i, g in zip(idx, batch, strict=True):
                results[i] = g
        return [g for g in results if g is not None]

    def _generate_batch(
        self,
        images: Sequence[Image.Image],
        prompts: Sequence[str],
        max_new_tokens: int,
        num_beams: int,
        generate_kwargs: dict[str, Any],
    ) -> list[Generation]:
        enc = self.inputs(images, prompts)
        tok = self.tokenizer
        chosen = ChosenTokenLogProbs(self._stop_ids, max_new_tokens)
        hook = self.model.register_forward_hook(chosen, with_kwargs=True)
        try:
            out = self.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=False,
                num_return_sequences=1,
                return_dict_in_generate=True,  # beam_indices, without any step's logits
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
                **generate_kwargs,
            )
        finally:
            hook.remove()
        new = out.sequences[:, enc["input_ids"].shape[1] :]
        steps = min(chosen.forwards, new.shape[1])
        if steps == 0:
            return [Generation("", (), 0.0) for _ in range(new.shape[0])]
        chosen.finish(new[:, steps - 1])
        # (B, steps) rows of the logits each chosen token was read from: the item itself for
        # greedy, the beam it came from for beam search (-1 after that beam finished)
        beams = getattr(out, "beam_indices", None)
        rows = (
            beams[:, :steps].long()
            if num_beams > 1 and beams is not None
            else torch.arange(new.shape[0], device=new.device)[:, None].expand(-1, steps)
        )
        token_logp = torch.stack(
            [chosen.logp(t, rows[:, t].clamp(min=0), new[:, t]) for t in range(steps)], dim=1
        )
        return [self._one(new[i, :steps], rows[i], token_logp[i], tok) for i in range(new.shape[0])]

    def _one(
        self, new: torch.Tensor, rows: torch.Tensor, logp: torch.Tensor, tok: Any
    ) -> Generation:
        """One answer: its tokens up to the first stop token (scored), their summed logp."""
        ids: list[int] = []
        logprob = 0.0
        for t in range(new.shape[0]):
            if int(rows[t]) < 0:
                break
            logprob += float(logp[t])
            token = int(new[t])
            if token in self._stop_ids:  # <eos> (scored) or padding after it
                break
            ids.append(token)
        text = tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        return Generation(text=text, token_ids=tuple(ids), logprob=logprob)


class ChosenTokenLogProbs:
    """The log-probability of every token generation chooses, under the raw logits (before
    any logits processor), kept as generation goes: a forward hook on the model.

    ``output_logits=True`` would keep every step's (rows, vocabulary) logits until the end:
    with PaliGemma's 257,216-entry vocabulary that is ~1 MB per row and step, gigabytes at
    the evaluator's batch sizes. Here only the last forward's logits are referenced; when the
    next forward shows which tokens were fed (chosen), their columns are kept — for every
    row, because beam search may continue a beam from another row (``beam_indices`` says
    which) — together with the stop tokens, which end a beam without being fed again.

    What is kept goes into buffers allocated once, at the first forward: small tensors
    allocated at every step between the large per-step logits fragment glibc's heap, which
    then kept ~1 GB more than generation itself at beam width 3 (measured).
    """

    #: sorts after every token id: fills the unused columns of a step's id row
    PAD_ID = 1 << 62

    def __init__(self, stop_ids: set[int], max_steps: int) -> None:
        self.stop = torch.tensor(sorted(i for i in stop_ids if i is not None), dtype=torch.long)
        self.max_steps = max_steps
        # the last forward's (rows, V) logits (the model's own tensor, not a copy) and their
        # (rows,) logsumexp: log p = logit - logsumexp, read for the chosen columns only
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None
        self.ids: torch.Tensor | None = None  # (steps, columns) token ids, sorted per step
        self.table: torch.Tensor | None = None  # (steps, rows, columns) their log-probs
        self.kept = 0
        self.forwards = 0

    def __call__(self, module: Any, args: Any, kwargs: dict[str, Any], output: Any) -> None:
        ids = kwargs.get("input_ids")
        if ids is None and args:
            ids = args[0]
        if self.last is not None and ids is not None:
            self._keep(ids[:, -1])
        logits = output.logits[:, -1, :]
        if self.table is None:
            rows, cols, dev = logits.shape[0], logits.shape[0] + len(self.stop), logits.device
            # on the logits' device: no host sync per step on a GPU
            self.ids = torch.full((self.max_steps, cols), self.PAD_ID, dtype=torch.long, device=dev)
            self.table = torch.zeros(self.max_steps, rows, cols, dtype=torch.float32, device=dev)
        self.last = (logits, torch.logsumexp(logits.float(), dim=-1))
        self.forwards += 1

    def _keep(self, fed: torch.Tensor) -> None:
        assert self.last is not None and self.ids is not None and self.table is not None
        if self.kept < self.max_steps:
            logits, lse = self.last
            ids = torch.unique(torch.cat([fed.long(), self.stop.to(fed.device)]))  # sorted
            n = len(ids)
            self.ids[self.kept, :n] = ids
            self.table[self.kept, : logits.shape[0], :n] = logits[:, ids].float() - lse[:, None]
            self.kept += 1
        self.last = None

    def finish(self, last_tokens: torch.Tensor) -> None:
        """Keep the last forward's columns of the tokens it chose (no forward follows)."""
        if self.last is not None and self.kept < self.forwards:
            self._keep(last_tokens)

    def logp(self, step: int, rows: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """(B,) log-probabilities of ``tokens`` at ``step``, read from logits rows ``rows``."""
        assert self.ids is not None and self.table is not None
        ids, table = self.ids[step].cpu(), self.table[step].cpu()
        tokens = tokens.long().cpu().contiguous()
        pos = torch.searchsorted(ids, tokens).clamp(max=len(ids) - 1)
        values = table[rows.cpu(), pos]
        return torch.where(ids[pos] == tokens, values, torch.full_like(values, float("nan")))


#: where a model directory may hold its mask codec: globelens' own file, or big_vision's
#: ``vae-oid.npz`` put beside the weights as downloaded (no release ships either)
CODEC_FILES = (CODEC_FILE, "vae-oid.npz")


def _find_codec(model_dir: Path, codec: str | os.PathLike | None) -> Any | None:
    """The mask codec: ``codec`` (a codec file or the official npz) or the model
    directory's own (:data:`CODEC_FILES`); None when there is none (masks are then not
    decoded, their boxes are kept)."""
    if codec is not None:
        return load_codec(codec)
    found = next((model_dir / f for f in CODEC_FILES if (model_dir / f).is_file()), None)
    return load_codec(found) if found is not None else None


def load_generator(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    codec: str | os.PathLike | None = None,
) -> HFGenerator:
    """Load a PaliGemma 1/2 directory (safetensors only) or Hub id as a ``Generator``; bf16
    on CUDA unless ``dtype`` says otherwise. ``codec``: a mask codec (``.safetensors`` or
    big_vision's ``vae-oid.npz``) instead of the one in the directory."""
    return HFGenerator(path, device=device, dtype=dtype, codec=codec)
