"""AWS Lambda entry point: `service.handler.handler`.

A Lambda container serves one request at a time, so the app runs blocking work
inline (no thread-pool hop). `lifespan="off"`: with "auto" Mangum runs startup and
shutdown on every invocation; the app needs neither because `create_app` builds
everything at import, once per container.
"""

from mangum import Mangum

from service.factory import create_app

app = create_app(inline=True)
handler = Mangum(app, lifespan="off")
