"""gwsload: load and soak testing harness for the GWS Voice API call-recording operations."""

from __future__ import annotations

__version__ = "0.1.0"
