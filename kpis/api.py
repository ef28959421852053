"""Stored KPI values over the API (SPEC §5): ``GET /api/kpis/?metric=&granularity=&start=&end=&dimension=``."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from rest_framework import generics, serializers

from kpis.access import dashboard_teams
from kpis.models import Dimension, Granularity, KPIValue
from kpis.registry import KPI_CHOICES


class KPIValueFilter(django_filters.FilterSet):
    metric = django_filters.MultipleChoiceFilter(field_name="kpi", choices=KPI_CHOICES, distinct=False)
    granularity = django_filters.ChoiceFilter(choices=Granularity.choices)
    start = django_filters.DateFilter(field_name="period_start", lookup_expr="gte")
    end = django_filters.DateFilter(field_name="period_start", lookup_expr="lte")
    dimension = django_filters.ChoiceFilter(choices=Dimension.choices)
    dimension_value = django_filters.CharFilter(max_length=64)

    class Meta:
        model = KPIValue
        fields = ["metric", "granularity", "start", "end", "dimension", "dimension_value"]


class KPIValueOutputSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="kpi")

    class Meta:
        model = KPIValue
        fields = ["metric", "granularity", "period_start", "dimension", "dimension_value", "value", "numerator",
                  "negative", "denominator", "median", "p90", "computed_at"]  # fmt: skip
        read_only_fields = fields


class KPIValueListApi(generics.ListAPIView):
    """Stored KPI values with their numerator and denominator. Managers see every slice;
    a supervisor sees their teams' slices and the agents in them; others see their own agent slice."""

    serializer_class = KPIValueOutputSerializer
    filterset_class = KPIValueFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI generator asks for the model only
            return KPIValue.objects.none()
        user = self.request.user
        queryset = KPIValue.objects.order_by("kpi", "granularity", "period_start", "dimension", "dimension_value")
        teams = dashboard_teams(user)
        if teams is not None and teams.count() == teams.model.objects.count():
            return queryset
        allowed = Q(dimension=Dimension.AGENT, dimension_value=str(user.pk))
        if teams is not None:
            team_ids = [str(pk) for pk in teams.values_list("pk", flat=True)]
            agents = teams.model.members.through.objects.filter(team_id__in=team_ids).values_list("user_id", flat=True)
            allowed |= Q(dimension=Dimension.TEAM, dimension_value__in=team_ids)
            allowed |= Q(dimension=Dimension.AGENT, dimension_value__in=[str(a) for a in agents])
        return queryset.filter(allowed)
