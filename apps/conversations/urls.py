from django.urls import path

from . import views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("conversations/", views.conversation_list, name="conversation-list"),
    path("conversations/<int:pk>/", views.conversation_detail, name="conversation-detail"),
    path("conversations/<int:pk>/pickup/", views.conversation_pickup, name="conversation-pickup"),
    path("conversations/<int:pk>/reply/", views.conversation_reply, name="conversation-reply"),
    path("conversations/<int:pk>/archive/", views.conversation_archive, name="conversation-archive"),
    path("conversations/<int:pk>/transfer/", views.conversation_transfer, name="conversation-transfer"),
]
