"""The tickets REST API: one view per operation, explicit input and output serializers.

Domain refusals raise ``ApplicationError``, which ``config.api.exception_handler``
turns into a 400 with field errors. Another team's ticket is a 404.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, pagination, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import IDEMPOTENCY_HEADER as IDEMPOTENCY_HEADER_NAME
from config.api import AwareDateTimeField, InputSerializer, idempotent
from tickets import attachments, services
from tickets.access import acting_user, get_ticket_for_user, teams_for_user, ticket_by_reference_for_user
from tickets.filters import TicketFilter
from tickets.models import Attachment, CallDirection, Category, Channel, Priority, Team, Ticket
from tickets.selectors import queue_for_user

User = get_user_model()

IDEMPOTENCY_HEADER = OpenApiParameter(
    IDEMPOTENCY_HEADER_NAME,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Repeat the same key on a retry: the action is carried out once and the first answer is given again. "
        "A key is yours alone and names one request; sent with another request it answers 409."
    ),
)


IF_MATCH_HEADER = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the ticket as you read it: a change made since answers 412 and nothing is saved.",
)


class NulSafeSlugRelatedField(serializers.SlugRelatedField):
    """A category slug or a username. One with a NUL character names nothing (PostgreSQL can
    neither store nor compare it): a 400 like any unknown name, not a database error."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


TICKET_FIELDS = (
    "id", "reference", "subject", "description", "customer", "product", "serial_number", "category", "channel",
    "priority", "status", "team", "assignee", "requested_at", "first_response_at", "resolved_at", "closed_at",
    "response_due_at", "resolution_due_at", "reopen_count", "reassign_count", "labour_cost", "logistics_cost",
    "other_cost", "created_at", "updated_at", "paused_since", "paused_seconds", "first_response_working_seconds",
    "resolution_working_seconds", "merged_into",
)  # fmt: skip


class TicketInputSerializer(InputSerializer):
    """Input about a ticket: its other fields are named as read-only when sent."""

    read_only_names = frozenset(TICKET_FIELDS)


class CustomerSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs.get("email") and not attrs.get("phone"):
            raise serializers.ValidationError({"email": ["Give an e-mail address or a phone number."]})
        return attrs


class TicketOutputSerializer(serializers.ModelSerializer):
    customer = serializers.SerializerMethodField()
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    team = serializers.PrimaryKeyRelatedField(read_only=True)
    merged_into = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="A merged duplicate: the id of the ticket it was merged into; else null."
    )

    class Meta:
        model = Ticket
        fields = TICKET_FIELDS
        read_only_fields = fields
        extra_kwargs = {
            "response_due_at": {"help_text": "First response due, in working time of the ticket's service calendar."},
            "resolution_due_at": {
                "help_text": "Resolution due, in working time, moved out by the working time paused."
            },
            "paused_since": {"help_text": "Waiting for the customer since (the resolution clock is stopped); null."},
            "paused_seconds": {"help_text": "Working time paused so far while waiting for the customer, in seconds."},
            "first_response_working_seconds": {
                "help_text": "Request to first response in working time, in seconds; null until answered."
            },
            "resolution_working_seconds": {
                "help_text": "Request to resolution in working time less the pauses, in seconds; null until resolved."
            },
        }

    @extend_schema_field(CustomerSerializer)
    def get_customer(self, ticket: Ticket) -> dict[str, str]:
        return {"name": ticket.customer.name, "email": ticket.customer.email, "phone": ticket.customer.phone}


class _TeamScopedSerializer(TicketInputSerializer):
    """Limits ``team`` to the requesting user's teams and ``assignee`` to active users."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if "team" in self.fields:
            self.fields["team"].queryset = teams_for_user(request.user) if request else Team.objects.none()


class TicketCreateInputSerializer(_TeamScopedSerializer):
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    customer = CustomerSerializer()
    product = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    serial_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    category = NulSafeSlugRelatedField(slug_field="slug", queryset=Category.objects.filter(active=True))
    channel = serializers.ChoiceField(choices=Channel.choices)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.none())
    assignee = NulSafeSlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
    )
    requested_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    answered = serializers.BooleanField(
        default=False,
        help_text="true: the agent is speaking with the customer (phone, walk-in, chat); the contact is the first "
        "response, at requested_at.",
    )
    resolution = serializers.CharField(
        max_length=20000, required=False, allow_blank=True, default="",
        help_text="Solved during the call (needs answered): the ticket is resolved with this note at once.",
    )  # fmt: skip


class TicketUpdateInputSerializer(_TeamScopedSerializer):
    subject = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    product = serializers.CharField(max_length=200, required=False, allow_blank=True)
    serial_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    category = NulSafeSlugRelatedField(slug_field="slug", queryset=Category.objects.filter(active=True), required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.none(), required=False)
    requested_at = AwareDateTimeField(required=False)
    labour_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    logistics_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    other_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)


class AttachmentsField(serializers.ListField):
    """Files sent as multipart/form-data (the same name repeated), within the per-file and
    per-message limits; cleaned into ``tickets.attachments.Upload``s."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.FileField(allow_empty_file=True))
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", list)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        uploaded = super().to_internal_value(data)
        uploads = [attachments.Upload(name=f.name, content=f, size=f.size) for f in uploaded]
        reasons = attachments.too_large(uploads)
        if reasons:
            raise serializers.ValidationError(reasons)
        return uploads


class ReplyInputSerializer(TicketInputSerializer):
    body = serializers.CharField(max_length=20000)
    internal = serializers.BooleanField(default=False, help_text="true: an internal note, never sent to the customer.")
    attachments = AttachmentsField(help_text="Files sent with the reply (multipart/form-data), kept on the ticket.")


class AttachmentInputSerializer(TicketInputSerializer):
    attachments = AttachmentsField(min_length=1, help_text="One or more files (multipart/form-data).")


class AttachmentOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Download (the ticket's access rule applies).")
    thumbnail_url = serializers.SerializerMethodField(help_text="A picture's thumbnail; null for other files.")

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "event", "created_at", "url", "thumbnail_url"]
        read_only_fields = fields

    def get_url(self, attached: Attachment) -> str:
        return reverse("tickets:attachment", args=[attached.ticket_id, attached.pk])

    def get_thumbnail_url(self, attached: Attachment) -> str | None:
        return reverse("tickets:thumbnail", args=[attached.ticket_id, attached.pk]) if attached.thumbnail else None


class CallInputSerializer(TicketInputSerializer):
    summary = serializers.CharField(max_length=5000)
    direction = serializers.ChoiceField(choices=CallDirection.choices, default=CallDirection.OUTBOUND)
    at = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="When the call took place (now).")


class AssignInputSerializer(TicketInputSerializer):
    assignee = NulSafeSlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))


class NoteInputSerializer(TicketInputSerializer):
    note = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")


class ResolveInputSerializer(TicketInputSerializer):
    note = serializers.CharField(max_length=20000)


class MergeInputSerializer(TicketInputSerializer):
    into = serializers.CharField(max_length=20, help_text="The reference of the ticket to merge this one into.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReopenInputSerializer(TicketInputSerializer):
    reason = serializers.CharField(max_length=2000)


def _output(ticket: Ticket, status_code: int = status.HTTP_200_OK) -> Response:
    ticket = Ticket.objects.select_related("customer", "category", "assignee").get(pk=ticket.pk)
    response = Response(TicketOutputSerializer(ticket).data, status=status_code)
    response["ETag"] = f'"{services.version_of(ticket)}"'
    return response


def _if_match(request: Request) -> str | None:
    """The version named by ``If-Match`` ("*" or none: any version)."""
    value = request.headers.get("If-Match", "").strip()
    if not value or value == "*":
        return None
    return value.removeprefix("W/").strip('"')


class TicketPagination(pagination.CursorPagination):
    """Pages of the ticket list, newest request first. Without ``page`` or ``sort``: a cursor, carried by
    the ``next`` link, which never counts the whole list. With ``page=N`` or a ``sort``: numbered pages
    with ``count``, as the list always offered."""

    ordering = ("-requested_at", "-id")
    page_size = 50

    def _numbered(self, request: Request) -> bool:
        return "page" in request.query_params or bool(request.query_params.get("sort"))

    def paginate_queryset(self, queryset, request, view=None):
        self.numbered = pagination.PageNumberPagination() if self._numbered(request) else None
        if self.numbered is not None:
            return self.numbered.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.numbered is not None:
            return self.numbered.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        numbered = pagination.PageNumberPagination().get_paginated_response_schema(schema)
        numbered["required"] = ["results"]
        numbered["properties"]["count"]["description"] = "Only with page=N or a sort: the number of tickets."
        return numbered

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            *pagination.PageNumberPagination().get_schema_operation_parameters(view),
        ]


class TicketListCreateApi(generics.ListAPIView):
    """List the tickets you can see (filters as on the queue), or log a new one."""

    serializer_class = TicketOutputSerializer
    filterset_class = TicketFilter
    pagination_class = TicketPagination

    def get_queryset(self):
        return queue_for_user(self.request.user)

    @extend_schema(
        request=TicketCreateInputSerializer, responses={201: TicketOutputSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        data = TicketCreateInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        ticket = services.log_ticket(by=acting_user(request), **values)
        return _output(ticket, status.HTTP_201_CREATED)


class TicketDetailApi(APIView):
    """Read one ticket, or change its descriptive fields (PATCH)."""

    @extend_schema(responses=TicketOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _output(get_ticket_for_user(request.user, pk))

    @extend_schema(
        request=TicketUpdateInputSerializer,
        responses=TicketOutputSerializer,
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER],
    )
    def patch(self, request: Request, pk: int) -> Response:
        return idempotent(request, lambda: self._update(request, pk))

    def _update(self, request: Request, pk: int) -> Response:
        ticket = get_ticket_for_user(request.user, pk, write=True)
        data = TicketUpdateInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        ticket = services.update_ticket(
            ticket=ticket, by=acting_user(request), expected_version=_if_match(request), **data.validated_data
        )
        return _output(ticket)


class _TicketActionApi(APIView):
    input_serializer: type[serializers.Serializer]

    def act(self, request: Request, ticket: Ticket, data: dict) -> Ticket:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        return idempotent(request, lambda: self._act(request, pk))

    def _act(self, request: Request, pk: int) -> Response:
        ticket = get_ticket_for_user(request.user, pk, write=True)
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _output(self.act(request, ticket, dict(data.validated_data)))


def _action_schema(serializer: type[serializers.Serializer]):
    return extend_schema(request=serializer, responses=TicketOutputSerializer, parameters=[IDEMPOTENCY_HEADER])


class TicketReplyApi(_TicketActionApi):
    """A public reply to the customer, or an internal note (``internal: true``)."""

    input_serializer = ReplyInputSerializer

    @_action_schema(ReplyInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        service = services.add_note if data["internal"] else services.add_reply
        return service(ticket=ticket, by=acting_user(request), body=data["body"], attachments=data["attachments"])


class TicketAttachmentsApi(APIView):
    """The ticket's files (a customer's e-mail's, a reply's, a note's), or add files to it."""

    @extend_schema(responses=AttachmentOutputSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        ticket = get_ticket_for_user(request.user, pk)
        return Response(AttachmentOutputSerializer(ticket.attachments.order_by("id"), many=True).data)

    @extend_schema(
        request={"multipart/form-data": AttachmentInputSerializer},
        responses={201: AttachmentOutputSerializer(many=True)},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        return idempotent(request, lambda: self._add(request, pk))

    def _add(self, request: Request, pk: int) -> Response:
        ticket = get_ticket_for_user(request.user, pk, write=True)
        data = AttachmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        added = services.add_attachments(
            ticket=ticket, by=acting_user(request), attachments=data.validated_data["attachments"]
        )
        return Response(AttachmentOutputSerializer(added, many=True).data, status=status.HTTP_201_CREATED)


class TicketCallApi(_TicketActionApi):
    """Log a call or visit with the customer: a public contact (the first one is the first response)."""

    input_serializer = CallInputSerializer

    @_action_schema(CallInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        return services.log_call(ticket=ticket, by=acting_user(request), **data)


class TicketAssignApi(_TicketActionApi):
    """Assign the ticket to a member or the supervisor of its team."""

    input_serializer = AssignInputSerializer

    @_action_schema(AssignInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        return services.assign_ticket(ticket=ticket, by=acting_user(request), assignee=data["assignee"])


class TicketPendingApi(_TicketActionApi):
    """Mark the ticket as waiting on the customer."""

    input_serializer = NoteInputSerializer

    @_action_schema(NoteInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        return services.mark_pending(ticket=ticket, by=acting_user(request), note=data["note"])


class TicketResumeApi(_TicketActionApi):
    """The customer answered a pending ticket: open again; the working time it waited is added to its
    resolution target."""

    input_serializer = NoteInputSerializer

    @_action_schema(NoteInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        return services.resume_ticket(ticket=ticket, by=acting_user(request), note=data["note"])


class TicketResolveApi(_TicketActionApi):
    """Resolve the ticket with a resolution note."""

    input_serializer = ResolveInputSerializer

    @_action_schema(ResolveInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        return services.resolve_ticket(ticket=ticket, by=acting_user(request), note=data["note"])


class TicketCloseApi(_TicketActionApi):
    """Close a resolved ticket."""

    input_serializer = NoteInputSerializer

    @_action_schema(NoteInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        return services.close_ticket(ticket=ticket, by=acting_user(request), note=data["note"])


class TicketReopenApi(_TicketActionApi):
    """Reopen a resolved or closed ticket (counts a reopen)."""

    input_serializer = ReopenInputSerializer

    @_action_schema(ReopenInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        return services.reopen_ticket(ticket=ticket, by=acting_user(request), reason=data["reason"])


class TicketMergeApi(_TicketActionApi):
    """Merge the ticket, a duplicate, into another open one (``into``: its reference): its
    conversation, files and survey move there, and it is closed, counted in no KPI. Answers with the
    ticket it was merged into."""

    input_serializer = MergeInputSerializer

    @_action_schema(MergeInputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)

    def act(self, request, ticket, data):
        into = ticket_by_reference_for_user(request.user, data["into"], field="into")
        return services.merge_tickets(ticket=ticket, into=into, by=acting_user(request), note=data["note"])
