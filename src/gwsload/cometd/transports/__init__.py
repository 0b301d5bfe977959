"""Transports of the CometD client: long-polling, websocket, and in-memory (tests)."""
