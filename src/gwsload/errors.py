"""Errors shared by every command.

``ConfigError`` is bad input from the user (scenario file, agents file, CLI option,
SLO file, run folder): the CLI prints its message on one line and exits with 2.
Every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INCONCLUSIVE", "EXIT_OK", "ConfigError"]

#: the run or check met its criteria
EXIT_OK = 0
#: the run or check failed its criteria (SLO breach, regression, lost notifications)
EXIT_FAILED = 1
#: bad input or configuration
EXIT_BAD_INPUT = 2
#: gwsload compare: nothing conclusively worse, but some verdicts inconclusive (the
#: measuring side differed, or the runs were too noisy): re-run before deciding
EXIT_INCONCLUSIVE = 3


class ConfigError(ValueError):
    """Bad user input. The message names what was wrong and what was expected."""
