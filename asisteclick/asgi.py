"""ASGI entry: HTTP through Django, websockets through Channels with origin checks.

Each app that has consumers exposes ``websocket_urlpatterns`` in ``apps/<app>/routing.py``.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from django.urls import re_path  # noqa: E402

from apps.core.origins import SameOriginValidator  # noqa: E402
from asisteclick.ws_routes import public_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402

# Origin by scheme, host and port (not the host name alone): apps/core/origins.py.
staff_websockets = SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The embeddable widget is loaded by other sites: its consumer checks the channel's own
        # allowed origins. Everything else is same-origin only (ALLOWED_HOSTS / CSRF_TRUSTED_ORIGINS),
        # with session auth.
        "websocket": URLRouter([*public_websocket_urlpatterns, re_path(r"^", staff_websockets)]),
    }
)
