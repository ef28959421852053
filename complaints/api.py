"""Complaints over the API: list, read, raise on a ticket, escalate, log the confirmation, close."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from complaints import services
from complaints.access import complaints_for_user, get_complaint_for_user
from complaints.filters import ComplaintFilter
from complaints.models import Complaint, ConfirmationChannel, Severity
from config.api import AwareDateTimeField, InputSerializer
from tickets.access import acting_user, get_ticket_for_user


class ComplaintOutputSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="ticket.reference", read_only=True)
    handler = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    root_cause = serializers.CharField(read_only=True, allow_null=True)  # its name, or null while unknown
    confirmation_channel = serializers.ChoiceField(
        choices=ConfirmationChannel.choices, allow_blank=True, read_only=True
    )
    flags = serializers.SerializerMethodField()

    class Meta:
        model = Complaint
        fields = [
            "id",
            "ticket",
            "reference",
            "source",
            "severity",
            "level",
            "handler",
            "status",
            "root_cause",
            "corrective_action",
            "compensation_kind",
            "compensation_amount",
            "opened_at",
            "level_since",
            "due_at",
            "closed_at",
            "escalation_count",
            "confirmation_channel",
            "confirmation_contact",
            "confirmation_note",
            "confirmed_at",
            "first_handled_at",
            "handled_at",
            "delay_due_at",
            "delayed_at",
            "appointment_at",
            "appointment_place",
            "appointment_with",
            "flags",
        ]
        read_only_fields = fields

    def get_flags(self, complaint) -> list[str]:
        return [name for name in ("buck", "perfunctory", "delay") if getattr(complaint, f"flag_{name}", False)]


class RaiseInputSerializer(InputSerializer):
    ticket = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MINOR)


class EscalateInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=2000)


class ConfirmationInputSerializer(InputSerializer):
    channel = serializers.ChoiceField(choices=ConfirmationChannel.choices)
    contact = serializers.CharField(max_length=200)
    note = serializers.CharField(max_length=5000)


class AppointmentInputSerializer(InputSerializer):
    at = AwareDateTimeField()
    place = serializers.CharField(max_length=200)
    with_whom = serializers.CharField(max_length=200)


class CloseInputSerializer(InputSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


def _output(request, complaint) -> Response:
    return Response(ComplaintOutputSerializer(get_complaint_for_user(request.user, complaint.pk)).data)


class ComplaintListCreateApi(generics.ListAPIView):
    """Complaints on the tickets you can see, with their taboo flags; POST raises one on a ticket."""

    serializer_class = ComplaintOutputSerializer
    filterset_class = ComplaintFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI generator asks for the model only
            return Complaint.objects.none()
        return complaints_for_user(self.request.user).order_by("-opened_at")

    def post(self, request: Request) -> Response:
        data = RaiseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = get_ticket_for_user(request.user, data.validated_data["ticket"], write=True)
        complaint = services.open_complaint(
            ticket=ticket, by=acting_user(request), source="raised", severity=data.validated_data["severity"]
        )
        response = _output(request, complaint)
        response.status_code = status.HTTP_201_CREATED
        return response


class ComplaintDetailApi(APIView):
    @extend_schema(responses=ComplaintOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ComplaintOutputSerializer(get_complaint_for_user(request.user, pk)).data)


class ComplaintEscalateApi(APIView):
    @extend_schema(request=EscalateInputSerializer, responses=ComplaintOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        complaint = get_complaint_for_user(request.user, pk)
        data = EscalateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _output(
            request, services.escalate_complaint(complaint=complaint, by=acting_user(request), **data.validated_data)
        )


class ComplaintConfirmationApi(APIView):
    @extend_schema(request=ConfirmationInputSerializer, responses=ComplaintOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        complaint = get_complaint_for_user(request.user, pk)
        data = ConfirmationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _output(
            request, services.log_confirmation(complaint=complaint, by=acting_user(request), **data.validated_data)
        )


class ComplaintAppointmentApi(APIView):
    """A level-2/3 complaint's appointment with the customer (seed 003: 二换场地, 三换时间)."""

    @extend_schema(request=AppointmentInputSerializer, responses=ComplaintOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        complaint = get_complaint_for_user(request.user, pk)
        data = AppointmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _output(
            request, services.set_appointment(complaint=complaint, by=acting_user(request), **data.validated_data)
        )


class ComplaintCloseApi(APIView):
    @extend_schema(request=CloseInputSerializer, responses=ComplaintOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        complaint = get_complaint_for_user(request.user, pk)
        data = CloseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _output(
            request, services.close_complaint(complaint=complaint, by=acting_user(request), **data.validated_data)
        )
