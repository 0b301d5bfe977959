"""Run-folder format versions (history in docs/run-folder.md).

A reader refuses a format it does not know with one line; a folder of an older
known format reads its missing columns as absent.
"""

from __future__ import annotations

__all__ = ["FORMAT", "KNOWN_FORMATS"]

#: the format ``gwsload run`` writes; 2: events ``server_ms`` (the server's generation time)
FORMAT = 2
#: the formats this gwsload reads
KNOWN_FORMATS = (1, 2)
