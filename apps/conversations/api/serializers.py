from rest_framework import serializers

from ..models import Contact, Conversation, Message


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "email", "phone", "external_ref", "is_vip", "language"]


class ConversationSerializer(serializers.ModelSerializer):
    contact = ContactSerializer(read_only=True)
    department = serializers.PrimaryKeyRelatedField(read_only=True)
    assignee = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "status", "department", "assignee", "contact", "channel", "language", "subject",
                  "handoff_summary", "handoff", "resolution", "csat_score", "created_at", "updated_at",
                  "queued_at", "assigned_at", "first_human_reply_at", "archived_at"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "author_kind", "author", "body", "is_internal", "sources", "created_at"]
        read_only_fields = fields
