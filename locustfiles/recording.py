"""Recording agents for plain Locust: ``locust -f locustfiles/recording.py --host URL``.

The web UI works as usual; the live statistics show each recording operation
(``POST StartCallRecording``...), its notification latency as its own row
(``NOTIFY CallRecordingStateChange Recording``; lost notifications are failures
there) and late / duplicate / unexpected notifications (``ANOMALY``). Configure with
environment variables: ``GWSLOAD_SCENARIO`` (use a scenario's stages, workload and
client settings), ``GWSLOAD_AGENTS_FILE`` or ``GWSLOAD_AGENTS`` / ``GWSLOAD_PASSWORD``,
``GWSLOAD_OUT`` (also write a run folder). See docs/running.md.

Everything lives in the installed package (``gwsload.harness.locustfile``, which
``gwsload run`` uses); this file only makes it visible to Locust.
"""

from __future__ import annotations

from gwsload.harness.locustfile import *  # noqa: F403  (the user and shape classes)
