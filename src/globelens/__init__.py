"""globelens: curate image-text data, train SigLIP-style models, and see who they work for."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("globelens")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
