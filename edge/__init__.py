"""Emoticon Mirror edge runtime: the stages a camera frame passes through on the Pi."""
import os

__version__ = "0.1.0"  # also in pyproject.toml

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
