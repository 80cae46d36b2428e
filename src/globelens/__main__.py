"""``python -m globelens`` is the ``globelens`` command."""

from globelens.cli.main import app

if __name__ == "__main__":
    app()
