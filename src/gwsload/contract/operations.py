"""The recording operations, as GWS names them (the ``operation`` of an events row)."""

from __future__ import annotations

__all__ = ["RECORDING_OPERATIONS"]

RECORDING_OPERATIONS = (
    "StartCallRecording",
    "StopCallRecording",
    "PauseCallRecording",
    "ResumeCallRecording",
)
