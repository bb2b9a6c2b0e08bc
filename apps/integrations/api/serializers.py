from __future__ import annotations

from django.utils.translation import gettext_lazy as _lazy

from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.conversations.models import Channel, Contact, Conversation, Message, Status
from apps.departments.models import Department, Membership

from ..models import ApiToken


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "email", "phone", "external_ref", "is_vip", "language", "created_at"]
        read_only_fields = ["id", "created_at"]


class ConversationSerializer(serializers.ModelSerializer):
    contact = ContactSerializer(read_only=True)
    department = serializers.PrimaryKeyRelatedField(read_only=True)
    assignee = serializers.PrimaryKeyRelatedField(read_only=True)
    channel = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "status", "department", "assignee", "contact", "channel", "language", "subject",
                  "handoff_summary", "handoff", "resolution", "csat_score", "created_at", "updated_at",
                  "queued_at", "assigned_at", "first_human_reply_at", "last_message_at", "archived_at"]
        read_only_fields = fields


class ContactInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class ConversationCreateSerializer(serializers.Serializer):
    channel = serializers.IntegerField(min_value=1, help_text=_lazy("An active channel id (kind api or webchat)."))
    contact_id = serializers.IntegerField(min_value=1, required=False)
    contact = ContactInputSerializer(required=False)
    body = serializers.CharField(max_length=4096, help_text=_lazy("The customer's first message."))
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if not attrs.get("contact_id") and not attrs.get("contact"):
            raise serializers.ValidationError({"contact": ["Give contact_id or contact."]})
        return attrs


class TransferSerializer(serializers.Serializer):
    department = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=30, required=False, default="resolved")
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "conversation", "author_kind", "author", "body", "is_internal", "sources",
                  "delivery_status", "created_at"]
        read_only_fields = fields


class PaginatedMessageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MessageSerializer(many=True)


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=4096)
    is_internal = serializers.BooleanField(required=False, default=False)
    as_integration = serializers.BooleanField(
        required=False, default=False,
        help_text=_lazy("Post as the calling integration (an integration token is required) instead of as a human."))


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "slug", "description", "is_default", "is_active", "backup"]
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "first_name", "last_name", "email", "role", "is_active",
                  "language"]
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.filter(is_active=True))
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.filter(is_active=True))

    class Meta:
        model = Membership
        fields = ["id", "user", "department", "can_handle", "can_archive", "can_transfer", "is_senior", "created_at"]
        read_only_fields = ["id", "created_at"]


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scope", "integration", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at", "integration"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text=_lazy("Shown once; store it now."))

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class InboundMessageSerializer(serializers.Serializer):
    """The generic API channel: any source posts a customer message."""

    identifier = serializers.CharField(max_length=255, help_text=_lazy("The customer's id in your system."))
    body = serializers.CharField(max_length=4096)
    external_id = serializers.CharField(max_length=255, required=False, allow_blank=True, default="",
                                        help_text=_lazy("Your message id: a repeat is stored once."))
    contact = ContactInputSerializer(required=False)


class InboundResultSerializer(serializers.Serializer):
    message = MessageSerializer()
    created = serializers.BooleanField()


class DocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    created_at = serializers.DateTimeField(required=False)


STATUS_CHOICES = [s for s, _l in Status.choices]
CHANNEL_KINDS = [k for k, _l in Channel.Kind.choices]
