"""``bakeoff inngest serve``: functions written with Inngest's official SDKs run on the step engine.

The server speaks the dev-server side of Inngest's SDK protocol (sync, events, call requests)
and stores everything in the engine's tables. Modules: :mod:`.core` (the server), :mod:`.app`
(its HTTP routes), :mod:`.registry` (register payloads to engine functions), :mod:`.transport`
(call requests over HTTP), :mod:`.wire` (protocol values), :mod:`.background` (uvicorn in a thread).
"""

from bakeoff.backends.inngest.server.app import create_app
from bakeoff.backends.inngest.server.background import BackgroundServer
from bakeoff.backends.inngest.server.core import SERVER_APP_ID, InngestServer, SyncFailed

__all__ = ["SERVER_APP_ID", "BackgroundServer", "InngestServer", "SyncFailed", "create_app"]
