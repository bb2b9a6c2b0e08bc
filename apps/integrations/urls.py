from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("webhooks/whatsapp/", views.whatsapp_webhook, name="integrations-whatsapp-webhook"),
    path("webhooks/messenger/", views.messenger_webhook, name="integrations-messenger-webhook"),
    path("webhooks/instagram/", views.instagram_webhook, name="integrations-instagram-webhook"),
    path("webhooks/email/<int:channel_id>/", views.email_inbound, name="integrations-email-inbound"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("apps.integrations.api.urls")),
]
