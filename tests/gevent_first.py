"""pytest plugin for the gevent test process: monkey-patch before anything else.

Loaded with ``-p tests.gevent_first`` so that it runs before the plugins pytest
discovers by itself (pytest-aiohttp imports ssl and sockets at load time), the way
Locust patches on import in a real load process.
"""

from gevent import monkey

monkey.patch_all()
