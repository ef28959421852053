"""Filters of the survey response list, shared by the page and the API."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from surveys.models import DETRACTOR_Q, SurveyResponse
from tickets.filters import ANY, user_teams


class SurveyResponseFilter(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        label=_("Team"), field_name="ticket__team", queryset=user_teams, empty_label=ANY
    )
    overall = django_filters.ChoiceFilter(
        label=_("Overall satisfaction"), choices=[(n, str(n)) for n in range(5, 0, -1)], empty_label=ANY
    )
    detractor = django_filters.BooleanFilter(
        label=_("Unhappy customers only"), method="filter_detractor",
        widget=forms.Select(choices=[("", ANY), ("true", _("Yes")), ("false", _("No"))]),
    )  # fmt: skip
    submitted_after = django_filters.DateFilter(
        label=_("Answered from"), field_name="submitted_at", lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    submitted_before = django_filters.DateFilter(
        label=_("Answered until"), field_name="submitted_at", lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip

    class Meta:
        model = SurveyResponse
        fields = ["team", "overall", "detractor", "submitted_after", "submitted_before"]

    def filter_detractor(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(DETRACTOR_Q) if value else queryset.exclude(DETRACTOR_Q)
