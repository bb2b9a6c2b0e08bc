from django.urls import path

from . import views

urlpatterns = [
    path("workspace/inbox/lists/", views.inbox_lists, name="workspace-inbox-lists"),
    path("workspace/conversations/<int:pk>/messages/", views.conversation_messages,
         name="workspace-conversation-messages"),
    path("workspace/monitor/", views.monitor, name="workspace-monitor"),
    path("workspace/monitor/panel/", views.monitor_panel, name="workspace-monitor-panel"),
    path("workspace/widget-demo/", views.widget_demo, name="workspace-widget-demo"),
    path("workspace/widget/strings/", views.widget_strings, name="workspace-widget-strings"),
]
