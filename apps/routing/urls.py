from django.urls import path

from . import views

urlpatterns = [
    path("routing/notifications/", views.notification_list, name="routing-notifications"),
    path("routing/notifications/read/", views.notification_read, name="routing-notifications-read"),
    path("routing/presence/", views.presence, name="routing-presence"),
    # Reassigning goes through routing (the reply timer follows the new assignment at once).
    path("conversations/<int:pk>/reassign/", views.conversation_reassign, name="conversation-reassign"),
]
