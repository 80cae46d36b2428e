"""The API families the app serves; each declares its routes in ``globelens.serve.routes``."""

from globelens.serve.api import hf, native, openai, ops, page
from globelens.serve.routes import Family

#: every family, in the order their routes are matched
FAMILIES: tuple[Family, ...] = (ops.family, openai.family, hf.family, native.family, page.family)

__all__ = ["FAMILIES"]
