"""The run-folder contract: the one home of the rules shared by the harness, the
analysis and (for agent naming only) the simulator.

Pure: stdlib and pyarrow only; never gevent, Locust, aiohttp or pandas.
"""
