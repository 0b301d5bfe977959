"""The embedded GWS 8.5 simulator: REST Voice API + CometD notifications, in its own process.

Importing this package imports nothing else (no aiohttp), so a gevent process can use
``gwsload.simulator.process.SimulatorProcess`` to start one.
"""
