"""`service.app:app`: the ASGI app built from environment variables (uvicorn's target)."""

from service.factory import create_app

app = create_app()
