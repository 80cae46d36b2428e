"""Pictures named on the command line, decoded in batches with progress; bad ones counted.

Shared by ``classify`` and ``ask``: a picture that cannot be read or decoded is reported with
its reason and skipped, so one bad file never stops a long list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from globelens.data.images import ImageDecodeError, decode_image

#: lists at least this long show a progress bar (on stderr)
PROGRESS_FROM = 8


@dataclass
class ImageErrors:
    """Pictures that were skipped, with a reason each (``missing``, ``corrupt_image`` ...)."""

    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: str, reason: str, detail: str) -> None:
        self.items.append({"image": path, "reason": reason, "detail": detail})

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item["reason"]] = out.get(item["reason"], 0) + 1
        return out


def decoded_batches(
    paths: Sequence[Path], batch_size: int, errors: ImageErrors, desc: str
) -> Iterator[list[tuple[int, str, Image.Image]]]:
    """Batches of (index in ``paths``, path, RGB image); undecodable pictures go to
    ``errors`` instead."""
    from tqdm import tqdm

    bar: Any = tqdm(total=len(paths), desc=desc, unit="img", disable=len(paths) < PROGRESS_FROM)
    try:
        for start in range(0, len(paths), batch_size):
            batch = []
            for i, path in enumerate(paths[start : start + batch_size], start):
                try:
                    batch.append((i, str(path), decode_image(Path(path).read_bytes())))
                except FileNotFoundError as e:
                    errors.add(str(path), "missing", str(e))
                except IsADirectoryError as e:
                    errors.add(str(path), "not_a_file", str(e))
                except ImageDecodeError as e:
                    errors.add(str(path), e.reason, e.detail)
            if batch:
                yield batch
            bar.update(len(paths[start : start + batch_size]))
    finally:
        bar.close()
