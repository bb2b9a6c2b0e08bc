"""The REST API. Every conversation read starts from ``apps.conversations.access`` (invisible
objects are 404), every write calls a service (a denied function is 403 from ``NotAllowed``)."""
from __future__ import annotations

from datetime import timezone as dt_timezone

from django.utils import timezone
from django.utils.translation import gettext_lazy as _lazy

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers as drf_serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.conversations import access, selectors, services
from apps.conversations.models import Channel, Contact, Conversation, Status
from apps.core.errors import IllegalTransition, NotAllowed
from apps.departments import services as department_services
from apps.departments.models import Department, Membership
from apps.roles.access import can_configure, can_manage_users, can_reassign, is_operator

from ..channels.common import contact_for_identities
from ..models import ApiToken, Integration
from ..windows import reply_window_check
from . import serializers as s
from .base import ApiMixin

User = get_user_model()

ERRORS = {400: OpenApiResponse(description="Invalid input"), 403: OpenApiResponse(description="Not allowed"),
          404: OpenApiResponse(description="Not found (or not visible to you)")}


class IsOperator(permissions.BasePermission):
    message = _("Only Operators can use this.")

    def has_permission(self, request, view):
        return is_operator(request.user)


class CanManageUsers(permissions.BasePermission):
    message = _("Only Operators can manage users and memberships.")

    def has_permission(self, request, view):
        return is_operator(request.user) and can_manage_users(request.user)


def _int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
        if value < 1 or value > 2**62:
            raise ValueError
    except ValueError:
        raise exceptions.ValidationError({name: [_("A positive whole number is required.")]}) from None
    return value


def _dt_param(request, name: str):
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise exceptions.ValidationError({name: [_("An ISO 8601 date-time is required.")]})
    # The database only takes offsets up to ±15:59: compare in UTC (a -19:17 offset is valid ISO 8601).
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(dt_timezone.utc)
    except (OverflowError, ValueError):
        raise exceptions.ValidationError({name: [_("An ISO 8601 date-time is required.")]}) from None


def _integration(request) -> Integration | None:
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return token.integration if token and token.integration_id else None


# --- contacts --------------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("q", str, description="Name, email, phone or customer number")]),
)
class ContactViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Customers. A Collaborator sees the contacts of conversations visible to them; Operators all."""

    serializer_class = s.ContactSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        qs = Contact.objects.all()
        if not is_operator(user):
            qs = qs.filter(pk__in=access.conversations_visible_to(user, "view").values("contact_id"))
        q = self.request.query_params.get("q", "").strip()
        if q:
            qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q)
                           | Q(external_ref__iexact=q))
        return qs.order_by("-id")

    def _require_operator(self):
        if not is_operator(self.request.user):
            raise NotAllowed(_("Only Operators can create or edit contacts."))

    def perform_create(self, serializer):
        self._require_operator()
        serializer.save()

    def perform_update(self, serializer):
        self._require_operator()
        serializer.save()


# --- conversations ---------------------------------------------------------------------------------

CONVERSATION_FILTERS = [
    OpenApiParameter("status", str, enum=s.STATUS_CHOICES),
    OpenApiParameter("department", int), OpenApiParameter("assignee", int), OpenApiParameter("channel", int),
    OpenApiParameter("contact", int),
    OpenApiParameter("q", str, description="Search: contact name/email/phone, subject, or a conversation id"),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME), OpenApiParameter("created_before", OpenApiTypes.DATETIME),
    OpenApiParameter("ordering", str, enum=["created_at", "-created_at", "updated_at", "-updated_at"]),
]


@extend_schema_view(
    list=extend_schema(parameters=CONVERSATION_FILTERS),
    retrieve=extend_schema(responses={200: s.ConversationSerializer, 404: ERRORS[404]}),
)
class ConversationViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Conversations the caller may see; transitions go through the conversation services."""

    serializer_class = s.ConversationSerializer

    def get_queryset(self) -> QuerySet:
        qs = access.conversations_visible_to(self.request.user, "view").select_related("contact")
        if self.action != "list":
            return qs
        p = self.request.query_params
        st = p.get("status")
        if st:
            if st not in s.STATUS_CHOICES:
                raise exceptions.ValidationError({"status": [_("Unknown status.")]})
            qs = qs.filter(status=st)
        for name in ("department", "assignee", "channel", "contact"):
            value = _int_param(self.request, name)
            if value is not None:
                qs = qs.filter(**{f"{name}_id": value})
        after, before = _dt_param(self.request, "created_after"), _dt_param(self.request, "created_before")
        if after:
            qs = qs.filter(created_at__gte=after)
        if before:
            qs = qs.filter(created_at__lt=before)
        q = p.get("q", "").strip()
        if q:
            cond = (Q(contact__name__icontains=q) | Q(contact__email__icontains=q) | Q(contact__phone__icontains=q)
                    | Q(subject__icontains=q))
            if q.isdigit() and len(q) < 18:
                cond |= Q(pk=int(q))
            qs = qs.filter(cond)
        ordering = p.get("ordering") or "-updated_at"
        if ordering not in ("created_at", "-created_at", "updated_at", "-updated_at"):
            raise exceptions.ValidationError({"ordering": [_("Unknown ordering.")]})
        return qs.order_by(ordering, "-id")

    def get_object(self) -> Conversation:
        return access.conversation_get_or_404(self.request.user, self.kwargs["pk"], "view")

    def _respond(self, conv: Conversation, code=status.HTTP_200_OK) -> Response:
        fresh = access.conversations_visible_to(self.request.user, "view").select_related("contact").filter(pk=conv.pk).first()
        if fresh is None:  # the caller handed it away and may no longer see it
            return Response({"id": conv.pk, "visible": False}, status=code)
        return Response(s.ConversationSerializer(fresh).data, status=code)

    @extend_schema(request=s.ConversationCreateSerializer, responses={201: s.ConversationSerializer, **ERRORS})
    def create(self, request):
        """Open a conversation for a contact with its first customer message (Operators and integrations)."""
        if not is_operator(request.user):
            raise NotAllowed(_("Only Operators and integrations can open conversations."))
        data = s.ConversationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        channel = Channel.objects.filter(pk=v["channel"], is_active=True).first()
        if channel is None:
            raise exceptions.ValidationError({"channel": [_("No such active channel.")]})
        if v.get("contact_id"):
            contact = Contact.objects.filter(pk=v["contact_id"]).first()
            if contact is None:
                raise exceptions.ValidationError({"contact_id": [_("No such contact.")]})
        # One transaction: a failure halfway leaves no contact or conversation without its first message
        # (the agent turn and the live signals go out on commit).
        with transaction.atomic():
            if not v.get("contact_id"):
                contact = Contact.objects.create(**v["contact"])
            conv = services.conversation_start(contact=contact, channel=channel, language=v["language"],
                                               subject=v["subject"])
            services.message_receive(channel=channel, contact=contact, body=v["body"], conversation=conv,
                                     language=v["language"])
        return self._respond(conv, status.HTTP_201_CREATED)

    @extend_schema(request=s.TransferSerializer, responses={200: s.ConversationSerializer, 409: OpenApiResponse(description="Illegal transition"), **ERRORS})
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        conv = self.get_object()
        data = s.TransferSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dept = Department.objects.filter(pk=data.validated_data["department"], is_active=True).first()
        if dept is None:
            raise exceptions.ValidationError({"department": [_("No such active department.")]})
        services.conversation_transfer(conversation=conv, department=dept, actor=request.user,
                                       reason=data.validated_data["reason"])
        return self._respond(conv)

    @extend_schema(request=s.AssignSerializer, responses={200: s.ConversationSerializer, 409: OpenApiResponse(description="Already taken"), **ERRORS})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Pick up (assignee = yourself, from a queue you handle) or, for Operators, assign/reassign."""
        conv = self.get_object()
        data = s.AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = User.objects.filter(pk=data.validated_data["assignee"], is_active=True).first()
        if assignee is None:
            raise exceptions.ValidationError({"assignee": [_("No such active user.")]})
        reason = data.validated_data["reason"]
        if assignee.pk == request.user.pk and conv.status == Status.UNASSIGNED:
            services.conversation_pickup(conversation=conv, user=request.user)
        elif not can_reassign(request.user):
            raise NotAllowed(_("Only Operators can assign conversations to someone else."))
        elif conv.status in (Status.UNASSIGNED, Status.TRANSFER):
            services.conversation_assign(conversation=conv, assignee=assignee, actor=request.user, reason=reason)
        else:
            services.conversation_reassign(conversation=conv, assignee=assignee, actor=request.user, reason=reason)
        return self._respond(conv)

    @extend_schema(request=s.ResolveSerializer, responses={200: s.ConversationSerializer, 409: OpenApiResponse(description="Illegal transition"), **ERRORS})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        conv = self.get_object()
        data = s.ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.conversation_archive(conversation=conv, actor=request.user, **data.validated_data)
        return self._respond(conv)

    @extend_schema(request=s.ReasonSerializer, responses={200: s.ConversationSerializer, 409: OpenApiResponse(description="Illegal transition"), **ERRORS})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        conv = self.get_object()
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not (is_operator(request.user) or conv.assignee_id == request.user.pk):
            raise NotAllowed(_("Only Operators or the last assignee can reopen a conversation."))
        if conv.status != Status.ARCHIVED:
            raise IllegalTransition(_("Only an archived conversation can be reopened."))
        services.conversation_reopen(conversation=conv, actor=request.user, reason=data.validated_data["reason"])
        return self._respond(conv)

    @extend_schema(methods=["GET"], parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
                   responses={200: s.PaginatedMessageSerializer, 404: ERRORS[404]})
    @extend_schema(methods=["POST"], request=s.MessageCreateSerializer,
                   responses={201: s.MessageSerializer, 409: OpenApiResponse(description="Channel window closed"), **ERRORS})
    @action(detail=True, methods=["get", "post"])
    def messages(self, request, pk=None):
        conv = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.conversation_messages(conv))
            return self.get_paginated_response(s.MessageSerializer(page, many=True).data)
        data = s.MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # The channel's messaging window (WhatsApp 24 h...) is enforced by the services' shared rule:
        # message_send_human checks it on the locked row; integration posts check the same rule here.
        if v["as_integration"]:
            integration = _integration(request)
            if integration is None:
                raise NotAllowed(_("Posting as an integration needs an integration token."))
            if not access.conversation_can(request.user, conv, "reply"):
                raise NotAllowed(_("This integration may not reply in this conversation."))
            if not v["is_internal"]:
                reply_window_check(conv, author_kind="system")
            msg = services.message_post_system(conversation=conv, body=v["body"], internal=v["is_internal"],
                                               meta={"integration": integration.pk, "integration_name": integration.name})
        else:
            msg = services.message_send_human(conversation=conv, user=request.user, body=v["body"],
                                              is_internal=v["is_internal"])
        return Response(s.MessageSerializer(msg).data, status=status.HTTP_201_CREATED)


# --- departments, users, memberships ---------------------------------------------------------------

class DepartmentViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Departments you work in (all of them for Operators)."""

    serializer_class = s.DepartmentSerializer

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        if is_operator(user):
            return Department.objects.all().order_by("name")
        return access.departments_for(user).order_by("name")


class UserViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """The operation's humans (Operators only)."""

    serializer_class = s.UserSerializer
    permission_classes = [*ApiMixin.permission_classes, IsOperator]
    queryset = User.objects.all().order_by("username")


class MembershipViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Who works in which department and what they may do there (Operators; written through
    ``apps.departments.services`` so permissions and the audit log follow)."""

    serializer_class = s.MembershipSerializer
    permission_classes = [*ApiMixin.permission_classes, CanManageUsers]
    queryset = Membership.objects.select_related("user", "department").order_by("id")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        v = serializer.validated_data
        serializer.instance = department_services.membership_set(
            user=v["user"], department=v["department"], actor=self.request.user,
            can_handle=v.get("can_handle", True), can_archive=v.get("can_archive", True),
            can_transfer=v.get("can_transfer", True), is_senior=v.get("is_senior", False))

    def perform_update(self, serializer):
        m = serializer.instance
        v = {**{f: getattr(m, f) for f in ("user", "department", "can_handle", "can_archive", "can_transfer",
                                            "is_senior")}, **serializer.validated_data}
        if v["user"] != m.user or v["department"] != m.department:
            raise exceptions.ValidationError({"user": [_("Remove the membership and add a new one instead.")]})
        serializer.instance = department_services.membership_set(
            user=m.user, department=m.department, actor=self.request.user, can_handle=v["can_handle"],
            can_archive=v["can_archive"], can_transfer=v["can_transfer"], is_senior=v["is_senior"])

    def perform_destroy(self, instance):
        department_services.membership_remove(membership=instance, actor=self.request.user)


# --- knowledge (read-only listing; the knowledge app is built in parallel) -------------------------

def knowledge_document_model():
    try:
        from apps.knowledge.models import Document
    except ImportError:
        return None
    return Document


def _knowledge_document_serializer():
    """One serializer class (a stable OpenAPI component) over the knowledge base's Document."""
    model = knowledge_document_model()
    if model is None:
        return None
    names = [f.name for f in model._meta.concrete_fields
             if f.get_internal_type() not in ("FileField", "BinaryField") and f.name not in ("text", "content", "body")]
    meta = type("Meta", (), {"model": model, "fields": names, "read_only_fields": names})
    return type("KnowledgeDocumentSerializer", (drf_serializers.ModelSerializer,), {"Meta": meta})


KnowledgeDocumentSerializer = _knowledge_document_serializer()


class KnowledgeDocumentViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Knowledge base documents (Operators)."""

    permission_classes = [*ApiMixin.permission_classes, IsOperator]

    def get_serializer_class(self):
        return KnowledgeDocumentSerializer if knowledge_document_model() is not None else s.DocumentSerializer

    def get_queryset(self):
        model = knowledge_document_model()
        return model.objects.all().order_by("-pk") if model else Contact.objects.none()


# --- tokens ------------------------------------------------------------------------------------------

class TokenCreateSerializer(drf_serializers.Serializer):
    name = drf_serializers.CharField(max_length=100)
    scope = drf_serializers.ChoiceField(choices=ApiToken.Scope.choices, default=ApiToken.Scope.READ)
    integration = drf_serializers.IntegerField(min_value=1, required=False,
                                               help_text=_lazy("Issue for an integration (Operators who configure)."))


@extend_schema_view(create=extend_schema(request=TokenCreateSerializer, responses={201: s.ApiTokenCreatedSerializer, **ERRORS}))
class ApiTokenViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your API tokens (and integrations' tokens, for Operators who configure). DELETE revokes."""

    serializer_class = s.ApiTokenSerializer
    queryset = ApiToken.objects.none()

    def get_queryset(self):
        user = self.request.user
        q = Q(user=user, integration__isnull=True)
        if can_configure(user):
            q |= Q(integration__isnull=False)
        return ApiToken.objects.filter(q).order_by("-id")

    def create(self, request):
        data = TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        integration = None
        if v.get("integration"):
            if not can_configure(request.user):
                raise NotAllowed(_("Only Operators who configure the platform can issue integration tokens."))
            integration = Integration.objects.filter(pk=v["integration"], is_active=True).first()
            if integration is None:
                raise exceptions.ValidationError({"integration": [_("No such active integration.")]})
        token, raw = ApiToken.issue(user=integration.user if integration else request.user, name=v["name"],
                                    scope=v["scope"], integration=integration)
        body = s.ApiTokenSerializer(token).data
        return Response({**body, "key": raw}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        instance.revoke()


# --- the generic API channel ---------------------------------------------------------------------------

class ChannelInboundViewSet(ApiMixin, viewsets.GenericViewSet):
    """Post a customer's message into a channel of kind "api" (integrations and Operators)."""

    serializer_class = s.InboundMessageSerializer

    def get_queryset(self):
        return Channel.objects.filter(kind=Channel.Kind.API, is_active=True)

    @extend_schema(request=s.InboundMessageSerializer, responses={201: s.InboundResultSerializer,
                                                                  200: s.InboundResultSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="inbound")
    def inbound(self, request, pk=None):
        if not (is_operator(request.user) or _integration(request)):
            raise NotAllowed(_("Only integrations and Operators can post into an API channel."))
        channel = get_object_or_404(self.get_queryset(), pk=pk)
        data = s.InboundMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        extra = v.get("contact") or {}
        contact = contact_for_identities(kind=Channel.Kind.API, values=[f"{channel.pk}:{v['identifier']}"],
                                         name=extra.get("name", ""), phone=extra.get("phone", ""),
                                         email=extra.get("email", ""))
        msg, created = services.message_receive(channel=channel, contact=contact, body=v["body"],
                                                external_id=v["external_id"] or None,
                                                meta={"identifier": v["identifier"]})
        return Response({"message": s.MessageSerializer(msg).data, "created": created},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
