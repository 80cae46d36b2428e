"""Built-in curation steps; importing this package registers them."""

from globelens.curate.steps import clipscore, dedup, langid, mix, quality, text

__all__ = ["clipscore", "dedup", "langid", "mix", "quality", "text"]
