from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("contacts", views.ContactViewSet, basename="api-contact")
router.register("conversations", views.ConversationViewSet, basename="api-conversation")
router.register("departments", views.DepartmentViewSet, basename="api-department")
router.register("users", views.UserViewSet, basename="api-user")
router.register("memberships", views.MembershipViewSet, basename="api-membership")
router.register("tokens", views.ApiTokenViewSet, basename="api-token")
router.register("channels", views.ChannelInboundViewSet, basename="api-channel")
if views.knowledge_document_model() is not None:
    router.register("knowledge/documents", views.KnowledgeDocumentViewSet, basename="api-knowledge-document")
# Reports: the reports app registers its own routes.
urlpatterns = router.urls
