"""A CometD (Bayeux) client for gevent: long-polling and websocket.

```python
from gwsload.cometd import CometdClient
client = CometdClient(url, transport="long-polling", headers={...}, cookies=jar)
client.handshake(timeout=10)
client.subscribe("/v2/me/calls", callback)   # callback(message: dict)
client.publish("/some/channel", {"k": 1})
client.disconnect()
```
See docs/cometd-client.md.
"""

from __future__ import annotations

from gwsload.cometd.client import CometdClient
from gwsload.cometd.errors import CometdError, CometdSettingError, TransportError
from gwsload.cometd.incident import Incident
from gwsload.cometd.transports.shared import SharedConnections

__all__ = [
    "CometdClient",
    "CometdError",
    "CometdSettingError",
    "Incident",
    "SharedConnections",
    "TransportError",
]
