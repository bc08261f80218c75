"""Emoticon Mirror edge runtime: the stages a camera frame passes through on the Pi."""
import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
