"""Stored KPI values over the API (SPEC §5): ``GET /api/kpis/?metric=&granularity=&start=&end=&dimension=``."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from rest_framework import generics, serializers

from kpis.access import dashboard_teams
from kpis.engine.quantiles import RELATIVE_ERROR, Histogram
from kpis.models import Dimension, Granularity, KPIValue
from kpis.registry import KPI_CHOICES
from kpis.selectors import DURATIONS, median_and_p90


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
    median = serializers.SerializerMethodField(help_text="Hours; approximate, within `relative_error`.")
    p90 = serializers.SerializerMethodField(help_text="Hours; approximate, within `relative_error`.")
    approximate = serializers.SerializerMethodField(help_text="Whether median and p90 are approximate.")
    relative_error = serializers.SerializerMethodField(
        help_text="The bound of median and p90: within this fraction of the exact percentile_cont."
    )

    class Meta:
        model = KPIValue
        fields = ["metric", "granularity", "period_start", "dimension", "dimension_value", "value", "numerator",
                  "negative", "denominator", "median", "p90", "approximate", "relative_error",
                  "computed_at"]  # fmt: skip
        read_only_fields = fields

    def _quantiles(self, row: KPIValue) -> tuple[float | None, float | None]:
        if row.hist_keys is None:
            return None, None
        if not hasattr(row, "_quantiles"):
            histogram = Histogram()
            histogram.add(row.hist_keys, row.hist_counts)
            row._quantiles = median_and_p90(histogram)  # type: ignore[attr-defined]
        return row._quantiles  # type: ignore[attr-defined]

    def get_median(self, row: KPIValue) -> float | None:
        return self._quantiles(row)[0]

    def get_p90(self, row: KPIValue) -> float | None:
        return self._quantiles(row)[1]

    def get_approximate(self, row: KPIValue) -> bool:
        return row.kpi in DURATIONS

    def get_relative_error(self, row: KPIValue) -> float | None:
        return RELATIVE_ERROR if row.kpi in DURATIONS else None


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
