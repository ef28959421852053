"""Filters of the complaints board and the API list."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint, ComplaintStatus, Level, RootCause, Severity
from complaints.taboos import FLAGS
from tickets.filters import ANY, user_teams

FLAG_CHOICES = [("buck", _("Passing the buck")), ("perfunctory", _("Perfunctory handling")), ("delay", _("Delay"))]


class ComplaintFilter(django_filters.FilterSet):
    flag = django_filters.ChoiceFilter(label=_("Flag"), choices=FLAG_CHOICES, method="filter_flag", empty_label=ANY)
    team = django_filters.ModelChoiceFilter(
        label=_("Team"), field_name="ticket__team", queryset=user_teams, empty_label=ANY
    )
    level = django_filters.ChoiceFilter(label=_("Level"), choices=Level.choices, empty_label=ANY)
    severity = django_filters.ChoiceFilter(label=_("Severity"), choices=Severity.choices, empty_label=ANY)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=ComplaintStatus.choices, empty_label=ANY)
    root_cause = django_filters.ModelChoiceFilter(
        label=_("Root cause"), queryset=RootCause.objects.all(), empty_label=ANY
    )
    mine = django_filters.BooleanFilter(
        label=_("Mine"),
        method="filter_mine",
        widget=forms.Select(choices=[("", ANY), ("true", _("Yes")), ("false", _("No"))]),
    )

    class Meta:
        model = Complaint
        fields = ["flag", "team", "level", "severity", "status", "root_cause", "mine"]

    def filter_flag(self, queryset, name, value):
        return queryset.filter(FLAGS[value]()) if value in FLAGS else queryset

    def filter_mine(self, queryset, name, value):
        if value is None:
            return queryset
        mine = queryset.filter(handler=self.request.user)
        return mine if value else queryset.exclude(handler=self.request.user)
