"""Training data: a deterministic stream of batches that is a pure function of (seed, step).

Shards are indexed once (tar headers only: the offset and size of every member), so a sample
is an address that can be read directly. Each source's stream visits its shards in a seeded
order per epoch through a shuffle buffer of addresses; a recipe (phases of source mixtures)
says how many samples of each source every step takes. The batch of step ``s`` is therefore
computable without replaying steps ``0..s-1``: data order, shuffle buffer and loader position
never need saving, and resuming from a checkpoint gives the same batches bit for bit.
Bad samples (corrupt images, missing captions) are counted by reason and left out of their
batch; they never stop training.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from globelens.data import ImageDecodeError, Sample, decode_image, expand_shards
from globelens.data.index import Ref, ShardFiles, index_shard, read_indexed
from globelens.data.shards import SampleProblem
from globelens.models.families import TextConvention
from globelens.models.preprocess import ImageTransform
from globelens.train.config import DataConfig, PhaseConfig, SourceConfig


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any parts, stable across processes and Python versions."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class SourceStream:
    """An endless, seeded, buffer-shuffled sequence of sample addresses from one source."""

    def __init__(self, source: SourceConfig, seed: int, shuffle_buffer: int) -> None:
        self.source = source
        self.paths = expand_shards(source.pattern)
        indexed = [index_shard(p, i) for i, p in enumerate(self.paths)]
        self.shards = [refs for refs, _ in indexed]
        #: what indexing could not use, by reason (counted once per run, not per epoch)
        self.problems: Counter[str] = sum((c for _, c in indexed), Counter())
        self.size = sum(len(s) for s in self.shards)
        if self.size == 0:
            raise ValueError(f"source {source.name!r} ({source.pattern}) holds no samples")
        self.seed = seed
        self.buffer = max(1, shuffle_buffer)
        self._orders: dict[int, list[Ref]] = {}  # the two most recent epochs

    def _epoch_order(self, epoch: int) -> list[Ref]:
        rng = random.Random(derive_seed(self.seed, self.source.name, epoch))
        order = list(range(len(self.shards)))
        rng.shuffle(order)
        out: list[Ref] = []
        buf: list[Ref] = []
        for s in order:
            for ref in self.shards[s]:
                if len(buf) < self.buffer:
                    buf.append(ref)
                    continue
                j = rng.randrange(len(buf))
                out.append(buf[j])
                buf[j] = ref
        rng.shuffle(buf)
        out.extend(buf)
        return out

    def take(self, start: int, count: int) -> list[Ref]:
        """Addresses ``start .. start+count`` of the endless stream."""
        out = []
        for pos in range(start, start + count):
            epoch, i = divmod(pos, self.size)
            order = self._orders.get(epoch)
            if order is None:
                if len(self._orders) >= 2:
                    del self._orders[min(self._orders)]
                order = self._orders[epoch] = self._epoch_order(epoch)
            out.append(order[i])
        return out


def _split_counts(mix: dict[str, float], total: int) -> dict[str, int]:
    """Largest-remainder split of ``total`` samples by weights (the same every step)."""
    wsum = sum(mix.values())
    if wsum <= 0:
        raise ValueError(f"phase mixture {mix} has no positive weight")
    exact = {k: total * w / wsum for k, w in mix.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    rest = total - sum(counts.values())
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[:rest]:
        counts[k] += 1
    return counts


class Plan:
    """Which samples of which source each step takes (phases x mixtures)."""

    def __init__(
        self, sources: Sequence[str], phases: Sequence[PhaseConfig], steps: int, batch: int
    ) -> None:
        if not phases:
            phases = [PhaseConfig(until=1.0, mix={s: 1.0 for s in sources})]
        for ph in phases:
            unknown = sorted(set(ph.mix) - set(sources))
            if unknown:
                raise ValueError(
                    f"phase mixes unknown source(s) {unknown}; sources: {list(sources)}"
                )
        self.phases = sorted(phases, key=lambda p: p.until)
        self.steps, self.batch = steps, batch
        self.counts = [_split_counts(p.mix, batch) for p in self.phases]
        # Cumulative position of every source at the start of every step (cheap: O(steps)).
        self.starts: list[dict[str, int]] = []
        pos = dict.fromkeys(sources, 0)
        for step in range(steps):
            self.starts.append(dict(pos))
            for name, n in self.counts[self.phase_of(step)].items():
                pos[name] += n

    def phase_of(self, step: int) -> int:
        frac = step / max(self.steps, 1)
        for i, ph in enumerate(self.phases):
            if frac < ph.until:
                return i
        return len(self.phases) - 1


def crop_box(
    width: int,
    height: int,
    rng: random.Random,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """A random-resized-crop box (left, top, right, bottom): random area share and aspect."""
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw = round(math.sqrt(target * aspect))
        ch = round(math.sqrt(target / aspect))
        if 0 < cw <= width and 0 < ch <= height:
            top = rng.randint(0, height - ch)
            left = rng.randint(0, width - cw)
            return left, top, left + cw, top + ch
    s = min(width, height)  # fall back to a centre crop of the largest square
    top, left = (height - s) // 2, (width - s) // 2
    return left, top, left + s, top + s


def augment_image(
    im: Image.Image,
    size: int,
    rng: random.Random | None,
    scale: tuple[float, float],
    flip: bool,
) -> np.ndarray:
    """uint8 (size, size, 3): a random resized crop (+ flip) with ``rng``, else a plain resize.

    Crop and resize are one antialiased PIL call on 8-bit pixels: the cheapest way to do it
    per image on a CPU, so decoding and augmenting stay a small fraction of a training step.
    """
    box = None if rng is None else crop_box(im.width, im.height, rng, scale)
    if box is not None or im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR, box=box)
    arr = np.asarray(im)
    if rng is not None and flip and rng.random() < 0.5:
        arr = arr[:, ::-1]
    return arr


class DecodedCache:
    """Decoded pictures by address, with what the collator read beside them (a caption),
    filled until ``max_bytes`` of pixels and never evicted: a multi-epoch run over a small
    dataset reads and decodes each sample once, and a large one keeps the first samples it
    met (the hit rate is the share that fits)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.bytes = max_bytes, 0
        self._items: dict[tuple[str, int, int], tuple[Any, Image.Image]] = {}

    def get(self, key: tuple[str, int, int]) -> tuple[Any, Image.Image] | None:
        """(what the collator read, or None when it is not kept; the picture), or None."""
        return self._items.get(key)

    def put(self, key: tuple[str, int, int], raw: Any, im: Image.Image) -> None:
        size = im.width * im.height * len(im.getbands())
        if self.bytes + size <= self.max_bytes:
            im.load()
            self._items[key] = (raw, im)
            self.bytes += size


class SampleError(ValueError):
    """A sample that cannot be used; its message is the reason it is counted under."""


class Collator(Protocol):
    """What a trainer reads from each sample, and how a micro-batch is assembled.

    ``read`` takes what it needs from the shard (caption, metadata) through the dataset's
    ``_read``; ``prepare`` turns it and the decoded picture into one training item, with an
    ``rng`` that is a function of (seed, step, position) only; ``collate`` stacks the items
    and the augmented uint8 pictures into tensors. Raising :class:`SampleError` leaves the
    sample out of its batch, counted under the error's reason. It travels to DataLoader
    workers, so it must pickle.
    """

    #: decode JPEGs at reduced size (``draft``) when the picture is far larger than needed
    draft: bool
    #: hand ``collate`` the randomly cropped/flipped (``data.augment``) uint8 pictures; a
    #: collator that preprocesses the decoded pictures itself gets an empty list
    augments: bool
    #: keep what ``read`` returned with the decoded picture, not read it again (for small
    #: values that ``prepare`` does not change)
    keeps_raw: bool

    def read(self, dataset: BatchDataset, source: str, ref: Ref) -> Any: ...

    def prepare(self, raw: Any, image: Image.Image, rng: random.Random) -> Any: ...

    def collate(self, images: list[np.ndarray], items: list[Any]) -> dict[str, Any]: ...


class CaptionCollator:
    """Contrastive pairs: the caption (``.txt`` or a metadata field) tokenised to
    ``text_len`` as the model was trained (its :class:`TextConvention`), and the normalised
    picture."""

    draft = True
    augments = True
    #: a caption is a small immutable string: kept with its decoded picture
    keeps_raw = True

    def __init__(
        self,
        tokenizer: Any,
        transform: ImageTransform,
        image_size: int,
        text_len: int,
        text: TextConvention,
    ) -> None:
        self.tokenizer, self.transform = tokenizer, transform
        self.image_size, self.text_len, self.text = image_size, text_len, text

    def read(self, dataset: BatchDataset, source: str, ref: Ref) -> str:
        return dataset._caption(source, ref)

    def prepare(self, raw: str, image: Image.Image, rng: random.Random) -> str:
        return raw

    def collate(self, images: list[np.ndarray], items: list[str]) -> dict[str, Any]:
        if not images:
            ids = torch.zeros(0, self.text_len, dtype=torch.long)
            return {
                "pixel_values": torch.zeros(0, 3, self.image_size, self.image_size),
                "input_ids": ids,
                "attention_mask": ids,
            }
        enc = self.text.encode(self.tokenizer, items, self.text_len)
        return {
            "pixel_values": self.transform.normalize(torch.from_numpy(np.stack(images))),
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
        }


class BatchDataset(torch.utils.data.Dataset):
    """Item ``i`` is micro-batch ``i % accum`` of step ``start + i // accum`` for this rank."""

    def __init__(
        self,
        config: DataConfig,
        streams: dict[str, SourceStream],
        plan: Plan,
        collator: Collator,
        image_size: int,
        seed: int,
        start_step: int,
        rank: int = 0,
        world: int = 1,
        accum: int = 1,
    ) -> None:
        if plan.batch % (world * accum):
            raise ValueError(
                f"batch size {plan.batch} must divide by ranks x accumulation ({world} x {accum})"
            )
        self.config, self.streams, self.plan = config, streams, plan
        self.collator, self.image_size = collator, image_size
        self.seed, self.start_step = seed, start_step
        self.rank, self.world, self.accum = rank, world, accum
        self.local = plan.batch // world
        self.micro = self.local // accum
        self._files = ShardFiles()
        self._decoded = DecodedCache(config.decoded_cache_mb * 2**20)

    def __len__(self) -> int:
        return (self.plan.steps - self.start_step) * self.accum

    def step_refs(self, step: int) -> list[tuple[str, Ref]]:
        """The global batch of ``step`` as (source, address), mixed across sources."""
        refs: list[tuple[str, Ref]] = []
        counts = self.plan.counts[self.plan.phase_of(step)]
        for name in sorted(counts):
            start = self.plan.starts[step][name]
            refs.extend((name, r) for r in self.streams[name].take(start, counts[name]))
        random.Random(derive_seed(self.seed, "mix", step)).shuffle(refs)
        return refs

    def _read(self, source: str, ref: Ref, member: tuple[int, int]) -> bytes:
        return self._files.read(self.streams[source].paths[ref.shard], member)

    def sample(self, source: str, ref: Ref, require_caption: bool = False) -> Sample:
        """The sample at ``ref``, read as the data layer reads every shard (raises
        ``SampleProblem`` with its reasons: ``malformed_json``, ``missing_caption``, ...)."""
        path = self.streams[source].paths[ref.shard]
        return read_indexed(self._files, path, ref, require_caption=require_caption)

    def _caption(self, source: str, ref: Ref) -> str:
        field = self.streams[source].source.caption_field
        if field is None:  # the .txt member, checked by the data layer
            caption = self.sample(source, ref, require_caption=True).caption
            assert caption is not None
            return caption
        value = self.sample(source, ref).meta.get(field)
        if not isinstance(value, str):
            raise SampleError(f"missing_{field}")
        if not value.strip():
            raise SampleError("empty_caption")
        return value

    def load(self, step: int, micro: int) -> dict[str, Any]:
        refs = self.step_refs(step)
        lo = self.rank * self.local + micro * self.micro
        images, items, bad = [], [], Counter()
        draft = self.image_size if self.collator.draft else None
        for i, (source, ref) in enumerate(refs[lo : lo + self.micro]):
            try:
                if ref.image is None:
                    raise SampleError("missing_image")
                key = (source, ref.shard, ref.image[0])
                cached = self._decoded.get(key)
                if cached is None:
                    raw = self.collator.read(self, source, ref)
                    pil = decode_image(self._read(source, ref, ref.image), target_size=draft)
                    self._decoded.put(key, raw if self.collator.keeps_raw else None, pil)
                else:
                    raw, pil = cached
                    if raw is None:  # not kept: read it again
                        raw = self.collator.read(self, source, ref)
                item = self.collator.prepare(
                    raw, pil, random.Random(derive_seed(self.seed, "target", step, lo + i))
                )
            except ImageDecodeError as e:
                bad[e.reason] += 1
                continue
            except SampleError as e:
                bad[str(e)] += 1
                continue
            except SampleProblem as e:
                bad[e.reason] += 1
                continue
            except (ValueError, UnicodeDecodeError, OSError):
                bad["unreadable_sample"] += 1
                continue
            items.append(item)
            if not self.collator.augments:
                continue
            rng = (
                random.Random(derive_seed(self.seed, step, lo + i)) if self.config.augment else None
            )
            images.append(
                augment_image(pil, self.image_size, rng, self.config.crop_scale, self.config.flip)
            )
        return {
            "step": step,
            "micro": micro,
            **self.collator.collate(images, items),
            "bad": dict(bad),
        }

    def __getitem__(self, i: int) -> dict[str, Any]:
        step, micro = divmod(i, self.accum)
        return self.load(self.start_step + step, micro)


def _worker_init(_: int) -> None:
    # Decoding is single-threaded per worker; extra intra-op threads would fight the step.
    torch.set_num_threads(1)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def make_loader(dataset: BatchDataset, workers: int, prefetch: int) -> torch.utils.data.DataLoader:
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs = dict(
            prefetch_factor=prefetch, worker_init_fn=_worker_init, persistent_workers=False
        )
    return torch.utils.data.DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=workers, **kwargs
    )


def sample_captions(streams: dict[str, SourceStream], limit: int) -> tuple[list[str], list[str]]:
    """Up to ``limit`` captions (and their ``language`` metadata) spread over all sources."""
    captions, languages = [], []
    per_source = max(1, limit // max(len(streams), 1))
    for name, stream in streams.items():
        ds = BatchDataset.__new__(BatchDataset)
        ds.streams, ds._files = streams, ShardFiles()
        for ref in stream.take(0, min(per_source, stream.size)):
            try:
                caption = ds._caption(name, ref)
                meta = ds.sample(name, ref).meta
            except (ValueError, OSError):  # SampleError, SampleProblem: not a usable caption
                continue
            captions.append(caption)
            languages.append(str(meta.get("language", "und")))
        ds._files.close()
    return captions, languages
