"""``globelens serve``: the models over HTTP (OpenAI- and Hugging Face-shaped routes, native
routes, dynamic batching, limits) and a web page."""

from globelens.serve.app import build_app, create_app
from globelens.serve.config import BatchConfig, Limits, ServeConfig
from globelens.serve.models import ModelSpec, Serving, discover
from globelens.serve.server import BackgroundServer, ServeError, run_forever
from globelens.serve.state import ServerState

__all__ = [
    "BackgroundServer",
    "BatchConfig",
    "Limits",
    "ModelSpec",
    "ServeConfig",
    "ServeError",
    "ServerState",
    "Serving",
    "build_app",
    "create_app",
    "discover",
    "run_forever",
]
