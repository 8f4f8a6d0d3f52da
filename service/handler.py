"""AWS Lambda entry point: `service.handler.handler`.

A Lambda container serves one request at a time, so the app runs blocking work
inline (no thread-pool hop). `lifespan="off"`: with "auto" Mangum runs startup and
shutdown on every invocation; the app needs neither because `create_app` builds
everything at import, once per container. Each invocation's metrics line carries
the container's own facts (`service.invocation`). Under SnapStart the runtime hooks
of `service.snapstart` run before the snapshot and after each restore.
"""

import time

_init_started = time.perf_counter()

from mangum import Mangum  # noqa: E402

from service.factory import create_app_or_exit  # noqa: E402
from service.invocation import InstrumentedHandler  # noqa: E402
from service.snapstart import register  # noqa: E402

app = create_app_or_exit(inline=True)
handler = InstrumentedHandler(app, Mangum(app, lifespan="off"), _init_started)
register(handler, app.state.settings)  # runs only under SnapStart
