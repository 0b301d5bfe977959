"""``python -m gwsload``: the ``gwsload`` command without relying on PATH."""

from __future__ import annotations

import sys

from gwsload.cli import main

sys.exit(main())
