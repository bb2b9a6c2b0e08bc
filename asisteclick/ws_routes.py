"""Websocket routes collected from each app's ``routing.py`` (apps own their consumers).

``websocket_urlpatterns``: staff sockets (session auth, ALLOWED_HOSTS origin check).
``public_websocket_urlpatterns``: sockets embedded in other sites (the web chat widget), which
check their own per-channel origins and never see the staff session.
"""
from importlib import import_module

websocket_urlpatterns: list = []
public_websocket_urlpatterns: list = []
for _app in ("apps.workspace", "apps.conversations"):
    try:
        _module = import_module(f"{_app}.routing")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_app}.routing":
            raise
        continue
    websocket_urlpatterns += _module.websocket_urlpatterns
    public_websocket_urlpatterns += getattr(_module, "public_websocket_urlpatterns", [])
