"""Built-in curation steps; importing this package registers them."""

from globelens.curate.steps import balance, clipscore, dedup, langid, mix, quality, text

__all__ = ["balance", "clipscore", "dedup", "langid", "mix", "quality", "text"]
