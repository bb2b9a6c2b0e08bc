from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("apps.accounts.urls")),
    path("", include("apps.conversations.urls")),
]

# Apps that grow their own pages/APIs plug in here without editing this file again.
for _app in ("knowledge", "agent", "routing", "reports", "integrations", "workspace", "copilot"):
    try:
        import_module(f"apps.{_app}.urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"apps.{_app}.urls":
            raise
        continue
    urlpatterns.append(path("", include(f"apps.{_app}.urls")))

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
