"""``gwsload run``: the launcher of a run. Never imports gevent or Locust.

It resolves the scenario and the command line into a run configuration
(:mod:`~gwsload.launcher.runconfig`, :mod:`~gwsload.launcher.plan`), starts the
embedded simulator and the Locust processes (:mod:`~gwsload.launcher.processes`),
prints their progress (:mod:`~gwsload.launcher.progress`) and closes the run folder
(:mod:`~gwsload.launcher.orchestrate`). The Locust processes run the in-Locust package
:mod:`gwsload.harness`, which reads the configuration and writes the progress record
defined here; this package never imports it (it only names its locustfile's path).
"""
