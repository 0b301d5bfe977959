"""``python -m gwsload.simulator [options]``: the same as ``gwsload simulate``."""

from __future__ import annotations

import sys

from gwsload.simulator.cli import standalone

if __name__ == "__main__":
    sys.exit(standalone())
