"""The mask codec: big_vision's VQ-VAE that turns a mask into 16 ``<segDDD>`` codes and back.

PaliGemma says a mask as 16 codes on a 4x4 grid from a 128-entry codebook. The mask is cropped
to its box, resized to 64x64 (bilinear, antialiased), scaled to [-1, 1] and encoded; decoding
gives 64x64 values in about [-1, 1] that are resized into the box and thresholded at 0.

Written by hand: big_vision ships this model only in JAX inside its evaluator, and no PyTorch
library ships it. The module names follow the official ``vae-oid.npz`` (a PyTorch state dict in
npz form), so ``convert_vae_oid`` loads it without renaming; ``train_codec`` trains a small one
of the same architecture on any masks, so segmentation works offline.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from globelens.models.tasklang import SEG_CODES, SEG_TOKENS_PER_MASK, Box

MASK_SIZE = 64
GRID = math.isqrt(SEG_TOKENS_PER_MASK)
FORMAT = "globelens-maskcodec"


@dataclass(frozen=True)
class MaskCodecConfig:
    """Shapes of the codec. The defaults are the official ``vae-oid`` model's."""

    #: channels of the four stride-2 encoder convs (the decoder mirrors them)
    dims: tuple[int, ...] = (16, 32, 64, 128)
    #: width of a codebook entry (128 x 512 in third-party ports of vae-oid)
    embed_dim: int = 512
    num_codes: int = SEG_CODES
    num_res_blocks: int = 2

    def __post_init__(self) -> None:
        if MASK_SIZE // 2 ** len(self.dims) != GRID:
            raise ValueError(
                f"{len(self.dims)} stride-2 convs turn {MASK_SIZE} px into "
                f"{MASK_SIZE // 2 ** len(self.dims)}, not the {GRID}x{GRID} grid of the codes"
            )
        if self.num_codes != SEG_CODES:
            raise ValueError(f"the task language has {SEG_CODES} seg tokens, not {self.num_codes}")


class ResBlock(nn.Module):
    """3x3 conv, ReLU, 3x3 conv, ReLU, 1x1 conv, plus the input (``net.{0,2,4}`` in vae-oid)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(dim, dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(dim, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class _VQ(nn.Module):
    """Holds the codebook under the name vae-oid uses (``_vq_vae._embedding``)."""

    def __init__(self, num_codes: int, dim: int) -> None:
        super().__init__()
        self._embedding = nn.Parameter(torch.randn(num_codes, dim) / math.sqrt(dim))


class MaskCodec(nn.Module):
    """Encoder, codebook and decoder of big_vision's mask VQ-VAE."""

    def __init__(self, config: MaskCodecConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MaskCodecConfig()
        dims = list(config.dims)
        top = dims[-1]
        enc: list[nn.Module] = []
        for cin, cout in zip([1, *dims[:-1]], dims, strict=True):
            enc += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.ReLU()]
        enc += [ResBlock(top) for _ in range(config.num_res_blocks)]
        enc.append(nn.Conv2d(top, config.embed_dim, 1))
        self.encoder = nn.Sequential(*enc)
        self._vq_vae = _VQ(config.num_codes, config.embed_dim)
        dec: list[nn.Module] = [nn.Conv2d(config.embed_dim, top, 1), nn.ReLU()]
        dec += [ResBlock(top) for _ in range(config.num_res_blocks)]
        # big_vision's upsampling keeps the width at the first layer, then halves it:
        # 128 -> 128 -> 64 -> 32 -> 16 for the default dims
        ups = [top, *reversed(dims[:-1])]
        for cin, cout in zip([top, *ups[:-1]], ups, strict=True):
            dec += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.ReLU()]
        dec.append(nn.Conv2d(ups[-1], 1, 1))
        self.decoder = nn.Sequential(*dec)

    @property
    def codebook(self) -> torch.Tensor:
        return self._vq_vae._embedding

    def encode_latents(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 64, 64) in [-1, 1] -> (N, 16, embed_dim) encoder outputs, row-major grid."""
        z = self.encoder(x[:, None].to(self.codebook.dtype))
        return z.permute(0, 2, 3, 1).reshape(z.shape[0], -1, z.shape[1])

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook entry (L2) of every latent in (..., embed_dim)."""
        cb = self.codebook
        d = z.pow(2).sum(-1, keepdim=True) - 2 * z @ cb.T + cb.pow(2).sum(-1)
        return d.argmin(-1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 64, 64) float in [-1, 1] -> (N, 16) long codes."""
        return self.nearest(self.encode_latents(x))

    def decode_latents(self, q: torch.Tensor) -> torch.Tensor:
        """(N, 16, embed_dim) -> (N, 64, 64)."""
        n = q.shape[0]
        grid = q.reshape(n, GRID, GRID, -1).permute(0, 3, 1, 2)
        return self.decoder(grid)[:, 0]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, 16) long codes -> (N, 64, 64) values; > 0 is inside the mask."""
        return self.decode_latents(self.codebook[codes.long()])

    # The task language calls these two (it cannot import this module: it defines the token
    # counts this module is built on).
    def masks_to_codes(self, masks: Sequence[np.ndarray], boxes: Sequence[Box]) -> list[list[int]]:
        """The 16 codes of every (H, W) bool mask cut to its pixel box."""
        return masks_to_codes(self, masks, boxes)

    def codes_to_mask(self, codes: Sequence[int], box: Box, height: int, width: int) -> np.ndarray:
        """One (height, width) bool mask from 16 codes, pasted into its pixel box."""
        return codes_to_mask(self, codes, box, height, width)


# -- masks <-> codes ----------------------------------------------------------------------------


def box_rows_cols(box: Box, height: int, width: int) -> tuple[int, int, int, int]:
    """The pixel rectangle (r0, r1, c0, c1) of a box as big_vision's segmentation evaluator
    takes it: each coordinate truncated (``int``), not rounded; clipped to the image. It may
    be empty (r1 <= r0 or c1 <= c0): big_vision then has no mask (an invalid prediction)."""
    x0, y0, x1, y1 = box
    r0, r1 = (min(max(int(v), 0), height) for v in (y0, y1))
    c0, c1 = (min(max(int(v), 0), width) for v in (x0, x1))
    return r0, r1, c0, c1


def _crop_rows_cols(box: Box, height: int, width: int) -> tuple[int, int, int, int]:
    """The rectangle a mask is cut from for encoding: the pasting one, at least one pixel."""
    r0, r1, c0, c1 = box_rows_cols(box, height, width)
    r0, c0 = min(r0, height - 1), min(c0, width - 1)
    return r0, max(r1, r0 + 1), c0, max(c1, c0 + 1)


def crop_masks(masks: Sequence[np.ndarray], boxes: Sequence[Box]) -> torch.Tensor:
    """Masks cut to their boxes and resized to (N, 64, 64) in [-1, 1], as the encoder reads them."""
    out = torch.empty(len(masks), MASK_SIZE, MASK_SIZE)
    for i, (mask, box) in enumerate(zip(masks, boxes, strict=True)):
        m = np.asarray(mask)
        r0, r1, c0, c1 = _crop_rows_cols(box, *m.shape[:2])
        crop = torch.from_numpy(np.ascontiguousarray(m[r0:r1, c0:c1], dtype=np.float32))
        out[i] = F.interpolate(
            crop[None, None], size=(MASK_SIZE, MASK_SIZE), mode="bilinear", antialias=True
        )[0, 0]
    return out * 2 - 1


def paste_masks(
    values: torch.Tensor, boxes: Sequence[Box], height: int, width: int
) -> list[np.ndarray]:
    """Decoded (N, 64, 64) values pasted into their boxes of a height x width image, > 0.

    big_vision's rule, exactly: the box truncated to pixels (:func:`box_rows_cols`), the
    64x64 values resized to it by PIL's bilinear filter on float32, thresholded at 0; an
    empty rectangle gives an empty mask.
    """
    out = []
    for v, box in zip(values, boxes, strict=True):
        r0, r1, c0, c1 = box_rows_cols(box, height, width)
        full = np.zeros((height, width), dtype=bool)
        if r1 > r0 and c1 > c0:
            m64 = Image.fromarray(v.detach().float().cpu().numpy().astype(np.float32))
            resized = np.asarray(m64.resize((c1 - c0, r1 - r0), resample=Image.BILINEAR))
            full[r0:r1, c0:c1] = resized > 0.0
        out.append(full)
    return out


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Pixel IoU of two (H, W) bool masks at the same resolution; 0 when both are empty.

    The one definition: the evaluator's mIoU (``globelens.evaluate.genmetrics.refseg``) and
    the codec's round-trip score both use it. Two empty masks score 0, not 1: a referred
    object always has pixels, so an empty prediction is never a right answer, and an empty
    ground truth (a mask lost in decoding) must not lift a mean.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"mask shapes differ: predicted {pred.shape}, ground truth {gt.shape}")
    inter = int(np.logical_and(pred, gt).sum())
    union = int(gt.sum()) + int(pred.sum()) - inter
    return inter / union if union else 0.0


def _device(codec: MaskCodec) -> torch.device:
    return codec.codebook.device


@torch.no_grad()
def masks_to_codes(
    codec: MaskCodec, masks: Sequence[np.ndarray], boxes: Sequence[Box]
) -> list[list[int]]:
    """The 16 codes of every (H, W) bool mask cut to its pixel box (x0, y0, x1, y1)."""
    if not masks:
        return []
    x = crop_masks(masks, boxes).to(_device(codec))
    return codec.eval().encode(x).cpu().tolist()


@torch.no_grad()
def codes_to_masks(
    codec: MaskCodec, codes: Sequence[Sequence[int]], boxes: Sequence[Box], height: int, width: int
) -> list[np.ndarray]:
    """(H, W) bool masks from 16 codes each, pasted into their pixel boxes."""
    if not codes:
        return []
    c = torch.as_tensor([list(x) for x in codes], dtype=torch.long, device=_device(codec))
    return paste_masks(codec.eval().decode(c), boxes, height, width)


def mask_to_codes(codec: MaskCodec, mask_hw_bool: np.ndarray, box: Box) -> list[int]:
    """The 16 codes of one (H, W) bool mask cut to its pixel box."""
    return masks_to_codes(codec, [mask_hw_bool], [box])[0]


def codes_to_mask(
    codec: MaskCodec, codes: Sequence[int], box: Box, height: int, width: int
) -> np.ndarray:
    """One (height, width) bool mask from 16 codes, pasted into its pixel box."""
    return codes_to_masks(codec, [codes], [box], height, width)[0]


# -- files --------------------------------------------------------------------------------------


def save_codec(codec: MaskCodec, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the codec as safetensors, its config (and ``extra``, e.g. a training report) in
    the metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "config": json.dumps(asdict(codec.config))}
    if extra:
        meta["extra"] = json.dumps(extra)
    state = {k: v.detach().float().contiguous().cpu() for k, v in codec.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def load_codec(path: str | Path, device: str | torch.device = "cpu") -> MaskCodec:
    """Read a codec: a file written by ``save_codec``/``convert_vae_oid`` (safetensors), or
    big_vision's ``vae-oid.npz`` itself (read without unpickling)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no mask codec at {path}")
    if zipfile.is_zipfile(path):  # an npz is a zip archive; safetensors never is
        return codec_from_vae_oid(path).to(device).eval()
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except SafetensorError as e:
        raise ValueError(
            f"{path} is neither a mask codec (.safetensors) nor big_vision's vae-oid.npz ({e})"
        ) from e
    if meta.get("format") != FORMAT or "config" not in meta:
        raise ValueError(f"{path} is not a globelens mask codec (metadata format={FORMAT!r})")
    cfg = json.loads(meta["config"])
    config = MaskCodecConfig(**{**cfg, "dims": tuple(cfg["dims"])})
    codec = MaskCodec(config)
    state = load_file(str(path))
    _check_state(codec, state, str(path))
    codec.load_state_dict(state)
    return codec.to(device).eval()


def codec_metadata(path: str | Path) -> dict[str, Any]:
    """The ``extra`` metadata a codec file was saved with (e.g. its training report)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return json.loads(meta.get("extra", "{}"))


def _check_state(codec: MaskCodec, state: dict[str, Any], source: str) -> None:
    want = {k: tuple(v.shape) for k, v in codec.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(want) - set(have))
    unexpected = sorted(set(have) - set(want))
    wrong = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unexpected:
            parts.append(f"unexpected {unexpected}")
        if wrong:
            parts.append(
                "wrong shapes " + ", ".join(f"{k}: {have[k]} (want {want[k]})" for k in wrong)
            )
        raise ValueError(f"{source} does not match the mask codec: " + "; ".join(parts))


def _read_vae_oid(npz_path: Path) -> tuple[MaskCodec, list[str]]:
    """The codec in big_vision's npz and the names of the arrays it does not use."""
    if not npz_path.is_file():
        raise FileNotFoundError(f"no vae-oid npz at {npz_path}")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            state = {k: torch.from_numpy(np.asarray(z[k], dtype=np.float32)) for k in z.files}
    except ValueError as e:  # an object array would need unpickling: refused
        raise ValueError(f"{npz_path}: not a plain-array npz ({e})") from e
    emb = state.get("_vq_vae._embedding")
    if emb is None or emb.ndim != 2:
        raise ValueError(f"{npz_path} has no 2-d '_vq_vae._embedding' codebook")
    codec = MaskCodec(MaskCodecConfig(embed_dim=int(emb.shape[1]), num_codes=int(emb.shape[0])))
    # arrays the codec has no place for (e.g. optimizer or EMA copies saved beside the weights)
    # are left out and named; a missing or misshapen weight is still an error
    extra = sorted(set(state) - set(codec.state_dict()))
    used = {k: v for k, v in state.items() if k not in extra}
    _check_state(codec, used, str(npz_path))
    codec.load_state_dict(used)
    return codec, extra


def codec_from_vae_oid(npz_path: str | Path) -> MaskCodec:
    """The codec in big_vision's official ``vae-oid.npz`` (a PyTorch state dict in npz form,
    so the names map 1:1 onto ``MaskCodec``; the codebook width is read from
    ``_vq_vae._embedding``). ``np.load`` runs with ``allow_pickle=False``: never unpickled."""
    return _read_vae_oid(Path(npz_path))[0].eval()


def convert_vae_oid(npz_path: str | Path, out_path: str | Path) -> Path:
    """Convert big_vision's ``vae-oid.npz`` into a codec safetensors file; the arrays it
    holds beyond the codec's are named in the metadata (``ignored``)."""
    npz_path = Path(npz_path)
    codec, extra = _read_vae_oid(npz_path)
    meta = {"source": "vae-oid", "file": npz_path.name}
    if extra:
        meta["ignored"] = extra
    return save_codec(codec, out_path, extra=meta)
