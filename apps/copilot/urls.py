from django.urls import path

from . import views

urlpatterns = [
    path("copilot/conversations/<int:pk>/", views.panel, name="copilot-panel"),
    path("copilot/conversations/<int:pk>/suggest/", views.suggest, name="copilot-suggest"),
    path("copilot/conversations/<int:pk>/search/", views.search, name="copilot-search"),
    path("copilot/conversations/<int:pk>/summary/", views.summary, name="copilot-summary"),
    path("copilot/conversations/<int:pk>/rewrite/", views.rewrite, name="copilot-rewrite"),
    path("copilot/conversations/<int:pk>/send/", views.send, name="copilot-send"),
]
