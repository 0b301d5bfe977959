"""Reports on run folders: ``gwsload report | compare | check``.

Reads only the run-folder format (docs/run-folder.md); needs neither gevent nor
Locust. Modules, from input to output:

- ``load``: read and check a run folder into compact columns (``RunFolder``);
- ``hdr``: HDR histograms as numpy counts, the ``latency.hlog`` reader;
- ``metrics``, ``accounting``, ``validity``, ``slo``, ``capacity``, ``drift``,
  ``compare``: pure functions from a run (or two) to tables and findings;
- ``summary``: everything a report says, and its JSON / Markdown forms;
- ``plots`` (``plot_*(data, *, ax=None) -> Axes``), ``render``, ``render_compare``: HTML;
- ``report``: the only module that writes files;
- ``cli_report``, ``cli_check``, ``cli_compare``: the commands;
- ``synthetic``: run folders with known properties, for tests and benchmarks.

The methods and the ``summary.json`` keys are described in docs/reports.md.
"""
