"""Websocket routes of the workspace (collected by ``asisteclick/ws_routes.py``).

``websocket_urlpatterns`` sit behind the session auth stack and the ALLOWED_HOSTS origin check.
``public_websocket_urlpatterns`` (the embeddable widget) are reached from other sites: the
consumer checks the channel's own ``allowed_origins`` instead.
"""
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/staff/", consumers.StaffConsumer.as_asgi()),
]

public_websocket_urlpatterns = [
    path("ws/widget/", consumers.WidgetConsumer.as_asgi()),
]
