"""The code inside the Locust processes: the recording agents, the load shape, the
master/worker/single-process roles and the shipping of rows and histograms.

Imports gevent and Locust; started by :mod:`gwsload.launcher` (``gwsload run``) or by
plain ``locust -f locustfiles/recording.py``.
"""
