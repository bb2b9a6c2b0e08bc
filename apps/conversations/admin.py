from django.contrib import admin

from apps.core.admin import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import Channel, Contact, ContactIdentity, Conversation, ConversationEvent, Message


@admin.register(Channel)
class ChannelAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "default_department", "is_active")
    list_filter = ("kind", "is_active")


class IdentityInline(admin.TabularInline):
    model = ContactIdentity
    extra = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "phone", "external_ref", "is_vip")
    search_fields = ("name", "email", "phone", "external_ref")
    list_filter = ("is_vip",)
    inlines = [IdentityInline]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ("created_at", "author_kind", "author", "body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Read-only here: state changes go through the conversation services (pages and API)."""

    list_display = ("id", "contact", "status", "department", "assignee", "channel", "created_at")
    list_filter = ("status", "department", "channel__kind")
    search_fields = ("contact__name", "id")
    list_select_related = ("contact", "department", "assignee", "channel")
    inlines = [MessageInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Conversation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConversationEvent)
class ConversationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "conversation", "kind", "actor_kind", "actor", "from_status", "to_status", "reason")
    list_filter = ("kind", "actor_kind")
    list_select_related = ("actor", "conversation")
