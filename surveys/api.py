"""Survey responses over the API: read-only, scoped like the ticket queue."""

from __future__ import annotations

from rest_framework import generics, serializers

from surveys.access import responses_for_user
from surveys.filters import SurveyResponseFilter
from surveys.models import SurveyResponse


class SurveyResponseOutputSerializer(serializers.ModelSerializer):
    ticket = serializers.PrimaryKeyRelatedField(read_only=True)
    reference = serializers.CharField(source="ticket.reference", read_only=True)
    team = serializers.IntegerField(source="ticket.team_id", read_only=True)
    follow_up = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    is_detractor = serializers.BooleanField(read_only=True)
    template_version = serializers.IntegerField(source="template.version", read_only=True)
    answers = serializers.DictField(read_only=True)
    taken_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = SurveyResponse
        fields = [
            "id", "ticket", "reference", "team", "submitted_at", "overall", "nps", "is_detractor", "answers",
            "contact_name", "contact_details", "template", "template_version", "follow_up", "channel", "taken_by",
        ]  # fmt: skip
        read_only_fields = fields


class SurveyResponseListApi(generics.ListAPIView):
    """Answers to the satisfaction survey about the tickets you can see, newest first."""

    serializer_class = SurveyResponseOutputSerializer
    filterset_class = SurveyResponseFilter

    def get_queryset(self):
        return responses_for_user(self.request.user).select_related("template")
