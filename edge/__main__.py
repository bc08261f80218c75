"""python -m edge: the same as the emoticon-mirror command."""
import sys

from edge.cli import main

if __name__ == "__main__":  # not again in the perceiving process (edge/perceive/process.py spawns it)
    sys.exit(main())
