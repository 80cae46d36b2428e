"""Data layer: the Sample record, WebDataset shards, safe image decoding."""

from globelens.data.images import (
    DEFAULT_MAX_PIXELS,
    ImageDecodeError,
    decode_image,
    encode_image,
    image_size,
)
from globelens.data.problems import PROBLEM_REASONS, Problem, ReadReport
from globelens.data.sample import Sample
from globelens.data.shards import ShardWriter, expand_shards, read_shards

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PROBLEM_REASONS",
    "ImageDecodeError",
    "Problem",
    "ReadReport",
    "Sample",
    "ShardWriter",
    "decode_image",
    "encode_image",
    "expand_shards",
    "image_size",
    "read_shards",
]
