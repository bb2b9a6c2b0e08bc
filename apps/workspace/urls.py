from django.urls import path

from . import views

urlpatterns = [
    # The one screen: /inbox/ (list) and /conversations/<pk>/ (list, conversation, side panel).
    path("inbox/", views.inbox_page, name="inbox"),
    path("conversations/<int:pk>/", views.conversation_page, name="conversation-detail"),
    path("workspace/conversations/<int:pk>/labels/", views.conversation_label_add, name="workspace-label-add"),
    path("workspace/conversations/<int:pk>/labels/<int:label_id>/remove/", views.conversation_label_remove,
         name="workspace-label-remove"),
    path("workspace/conversations/<int:pk>/snooze/", views.conversation_snooze, name="workspace-snooze"),
    path("workspace/conversations/<int:pk>/unsnooze/", views.conversation_unsnooze, name="workspace-unsnooze"),
    path("workspace/attachments/<int:pk>/", views.attachment_download, name="workspace-attachment"),
    path("workspace/messages/<int:pk>/media-retry/", views.media_retry, name="workspace-media-retry"),
    path("workspace/saved-replies/", views.saved_replies, name="workspace-saved-replies"),
    path("workspace/conversations/<int:pk>/mentions/", views.mention_suggestions, name="workspace-mention-suggestions"),
    path("workspace/saved-replies/mine/", views.saved_replies_manage, name="workspace-saved-replies-manage"),
    path("workspace/inbox/lists/", views.inbox_lists, name="workspace-inbox-lists"),
    path("workspace/conversations/<int:pk>/messages/", views.conversation_messages,
         name="workspace-conversation-messages"),
    path("workspace/monitor/", views.monitor, name="workspace-monitor"),
    path("workspace/monitor/panel/", views.monitor_panel, name="workspace-monitor-panel"),
    path("workspace/widget-demo/", views.widget_demo, name="workspace-widget-demo"),
    path("workspace/widget/upload/", views.widget_upload, name="workspace-widget-upload"),
    path("workspace/widget/files/<str:token>/", views.widget_attachment, name="workspace-widget-attachment"),
    path("workspace/widget/strings/", views.widget_strings, name="workspace-widget-strings"),
]
