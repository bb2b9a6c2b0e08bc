from django.db.models import QuerySet
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import access, selectors
from .serializers import ConversationSerializer, MessageSerializer


class ConversationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Conversations the caller may see (the visibility module decides; invisible ones are 404)."""

    serializer_class = ConversationSerializer

    def get_queryset(self) -> QuerySet:
        qs = access.conversations_visible_to(self.request.user, "view").select_related("contact")
        status = self.request.query_params.get("status")
        if status:
            qs = qs.filter(status=status)
        return qs.order_by("-updated_at", "-id")

    @action(detail=True, methods=["get"])
    def messages(self, request, pk=None):
        conv = access.conversation_get_or_404(request.user, pk, "view")
        return Response(MessageSerializer(selectors.conversation_messages(conv), many=True).data)
