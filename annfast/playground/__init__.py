"""``python -m annfast playground``: TensorFlow Playground's exercises on annfast.

A local web page trains small networks on 2-D data with annfast's compiled
kernels and shows them learning; see ``server.py`` for the API.
"""

from annfast.playground.server import main, serve

__all__ = ["main", "serve"]
