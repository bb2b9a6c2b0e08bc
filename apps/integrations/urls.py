from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from . import views

# The API docs pages are third-party React apps that style elements inline and run Redoc's search
# in a blob: worker; their scripts stay 'self' (Swagger's start-up script is served as a file).
_docs_csp = csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

urlpatterns = [
    path("webhooks/whatsapp/", views.whatsapp_webhook, name="integrations-whatsapp-webhook"),
    path("webhooks/messenger/", views.messenger_webhook, name="integrations-messenger-webhook"),
    path("webhooks/instagram/", views.instagram_webhook, name="integrations-instagram-webhook"),
    path("webhooks/email/<int:channel_id>/", views.email_inbound, name="integrations-email-inbound"),
    path("api/docs/", _docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", _docs_csp(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("api/v1/", include("apps.integrations.api.urls")),
]
