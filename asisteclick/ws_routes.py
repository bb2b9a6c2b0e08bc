"""Websocket routes collected from each app's ``routing.py`` (apps own their consumers)."""
from importlib import import_module

websocket_urlpatterns: list = []
for _app in ("apps.workspace", "apps.conversations"):
    try:
        websocket_urlpatterns += import_module(f"{_app}.routing").websocket_urlpatterns
    except ModuleNotFoundError as exc:
        if exc.name != f"{_app}.routing":
            raise
