"""The dashboard's period and team choice, and the drill-down parameters."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kpis.models import Dimension
from kpis.registry import KPI_CHOICES

PERIODS = [
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("month", _("This month")),
    ("custom", _("Custom range")),
]


class DashboardForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False, initial="30d")
    start = forms.DateField(label=_("From date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False, empty_label=_("All teams"))

    def __init__(self, *args, teams, all_teams_allowed: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        if not all_teams_allowed:  # no "all teams"; without a choice, their first team (views._scope)
            self.fields["team"].empty_label = None

    def clean(self):
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("Give both dates of a custom range."))
            if end < start:
                raise forms.ValidationError(_("The range ends before it starts."))
            if (end - start).days > 3 * 366:
                raise forms.ValidationError(_("Choose a range of at most three years."))
        return data

    def date_range(self) -> tuple[date, date]:
        """Local days [start, end) of the chosen period."""
        today = timezone.localdate()
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        period = data.get("period") or "30d"
        if period == "today":
            return today, today + timedelta(days=1)
        if period == "7d":
            return today - timedelta(days=6), today + timedelta(days=1)
        if period == "month":
            return today.replace(day=1), today + timedelta(days=1)
        if period == "custom":
            return data["start"], data["end"] + timedelta(days=1)
        return today - timedelta(days=29), today + timedelta(days=1)


class DrilldownForm(forms.Form):
    """?kpi=…&part=num|neg|den&start=…&end=…&dimension=…&value=… on the ticket queue."""

    kpi = forms.ChoiceField(choices=KPI_CHOICES)
    part = forms.ChoiceField(choices=[("num", "num"), ("neg", "neg"), ("den", "den")], initial="den")
    start = forms.DateField()
    end = forms.DateField()
    dimension = forms.ChoiceField(choices=Dimension.choices, required=False)
    value = forms.CharField(max_length=64, required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("The range ends before it starts."))
        return data
