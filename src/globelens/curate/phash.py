"""Perceptual hash (pHash) in numpy.

scipy and imagehash are left out to keep the install small, and pHash needs only one DCT of
a 32x32 image: a precomputed DCT-II matrix does it as two matrix products. The definition is
imagehash's ``phash(hash_size=8, highfreq_factor=4)``: grayscale, resize to 32x32 (Lanczos),
2-D DCT-II (scipy.fftpack's unnormalised scaling, which matters because the median compares
the DC row and column with the rest), keep the top-left 8x8 low frequencies, set a bit where a
coefficient exceeds their median. Bits are packed row-major, first bit most significant, so the
hex form equals imagehash's ``str(hash)``.
"""

from __future__ import annotations

import itertools

import numpy as np
from PIL import Image

HASH_SIZE = 8
IMG_SIZE = HASH_SIZE * 4


def dct_matrix(n: int) -> np.ndarray:
    """Unnormalised DCT-II matrix: ``C @ x == scipy.fftpack.dct(x, type=2)``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


_DCT = dct_matrix(IMG_SIZE)
_MID = HASH_SIZE * HASH_SIZE // 2


def phash_bits(image: Image.Image) -> np.ndarray:
    """The 8x8 boolean pHash matrix of an image."""
    gray = image.convert("L").resize((IMG_SIZE, IMG_SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(gray, dtype=np.float64)
    coeffs = _DCT @ pixels @ _DCT.T
    low = coeffs[:HASH_SIZE, :HASH_SIZE]
    # np.median of the 64 values (the mean of the middle two), without its overhead
    ordered = np.sort(low, axis=None)
    return low > (ordered[_MID - 1] + ordered[_MID]) / 2


def phash(image: Image.Image) -> int:
    """The 64-bit pHash of an image as an unsigned integer."""
    return int.from_bytes(np.packbits(phash_bits(image)).tobytes(), "big")


class NearDupIndex:
    """Find hashes within ``max_distance`` bits of any hash added so far.

    Multi-index hashing: split the 64 bits into ``max_distance + 1`` bands; by the pigeonhole
    principle two hashes within that distance agree exactly on at least one band, so only
    hashes sharing a band value are compared. Exact, and near-linear for real data.
    """

    def __init__(self, max_distance: int) -> None:
        if not 0 <= max_distance < 64:
            raise ValueError(f"max_distance must be in [0, 63], got {max_distance}")
        self.max_distance = max_distance
        nbands = max_distance + 1
        edges = np.linspace(0, 64, nbands + 1).round().astype(int)
        self.bands = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)]
        self.tables: list[dict[int, list[int]]] = [{} for _ in self.bands]

    def _band_values(self, h: int) -> list[int]:
        return [(h >> lo) & ((1 << (hi - lo)) - 1) for lo, hi in self.bands]

    def find(self, h: int) -> int | None:
        """A stored hash within the distance (the first one found), or None."""
        for table, value in zip(self.tables, self._band_values(h), strict=True):
            for other in table.get(value, ()):
                if (h ^ other).bit_count() <= self.max_distance:
                    return other
        return None

    def add(self, h: int) -> None:
        for table, value in zip(self.tables, self._band_values(h), strict=True):
            table.setdefault(value, []).append(h)
