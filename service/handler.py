"""AWS Lambda entry point: `service.handler.handler`.

`lifespan="off"`: with "auto" Mangum runs startup and shutdown on every invocation;
the app needs neither because `create_app` builds everything at import, once per
container.
"""

from mangum import Mangum

from service.app import app

handler = Mangum(app, lifespan="off")
