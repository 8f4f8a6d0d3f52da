"""`service.app:app`: the ASGI app built from environment variables (uvicorn's target)."""

from service.factory import create_app_or_exit

app = create_app_or_exit()
