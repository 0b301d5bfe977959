"""The preflight child process: ``python -m gwsload.gws.preflight_child PLAN.json``.

Patches the standard library for gevent first (as Locust does), runs the checks of
:mod:`gwsload.gws.preflight` and writes the report as one JSON line on stdout.
Exit 0 whatever the checks say; anything else means the preflight itself broke.
"""

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from gwsload.gws.preflight import run_preflight  # noqa: E402
from gwsload.gws.preflight_checks import PreflightPlan  # noqa: E402


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    plan = PreflightPlan.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    print(run_preflight(plan).to_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
