"""python -m edge: the same as the emoticon-mirror command."""
import sys

from edge.cli import main

sys.exit(main())
