"""The queue filters, shared by the HTML queue and the API list."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from tickets import hooks
from tickets.access import teams_for_user
from tickets.models import Category, Channel, Priority, Status, Team, Ticket
from tickets.selectors import due_soon_q, next_due, overdue_q, text_search_q
from tickets.templatetags.desk import person

User = get_user_model()
ANY = _("All")


def user_teams(request):
    return teams_for_user(request.user) if request is not None else Team.objects.none()


def user_assignees(request):
    if request is None:
        return User.objects.none()
    teams = user_teams(request)
    return (
        User.objects.filter(Q(desk_teams__in=teams) | Q(supervised_teams__in=teams))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class FetchedChoiceIterator(django_filters.fields.ModelChoiceIterator):
    """A select's choices in one plain query. Django streams a model select's choices through a
    server-side cursor (DECLARE, FETCH, CLOSE): three round trips for a dozen teams or people, on
    every view of the queue."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        for obj in self.queryset:  # a plain evaluation, not .iterator()
            yield self.choice(obj)


class FetchedChoiceField(django_filters.fields.ModelChoiceField):
    iterator = FetchedChoiceIterator


class FetchedChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = FetchedChoiceField


class PersonChoiceField(FetchedChoiceField):
    """Colleagues by the names they go by, as the lists show them."""

    def label_from_instance(self, obj):
        return person(obj)


class PersonChoiceFilter(FetchedChoiceFilter):
    field_class = PersonChoiceField


class TicketFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_text", max_length=200)
    # a column of the ticket itself: no join, so no DISTINCT (django-filter adds one by default)
    status = django_filters.MultipleChoiceFilter(label=_("Status"), choices=Status.choices, distinct=False)
    priority = django_filters.MultipleChoiceFilter(label=_("Priority"), choices=Priority.choices, distinct=False)
    category = FetchedChoiceFilter(
        label=_("Category"), queryset=Category.objects.all(), to_field_name="slug", empty_label=ANY
    )
    channel = django_filters.ChoiceFilter(label=_("Channel"), choices=Channel.choices, empty_label=ANY)
    team = FetchedChoiceFilter(label=_("Team"), queryset=user_teams, empty_label=ANY)
    assignee = PersonChoiceFilter(
        label=_("Assignee"), queryset=user_assignees, to_field_name="username", empty_label=ANY
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue"),
        method="filter_overdue",
        widget=forms.Select(choices=[("", ANY), ("true", _("Yes")), ("false", _("No"))]),
    )

    due_soon = django_filters.BooleanFilter(
        label=_("Due within 2 working hours"),
        method="filter_due_soon",
        widget=forms.Select(choices=[("", ANY), ("true", _("Yes"))]),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Order"),
        method="filter_sort",
        choices=[("due", _("Next due first"))],
        empty_label=_("Newest request first"),
    )

    #: the drill-down from a KPI figure this list shows, if any (set when the list is filtered)
    drilldown = None

    class Meta:
        model = Ticket
        fields = ["q", "status", "priority", "category", "channel", "team", "assignee", "overdue", "due_soon", "sort"]

    def filter_queryset(self, queryset):
        """The filters above, then what a link narrows the list to (the drill-down from a KPI figure)."""
        queryset = super().filter_queryset(queryset)
        self.drilldown = None
        for narrowed in hooks.queue_narrowing.send(data=self.data, queryset=queryset):
            if narrowed is not None:
                queryset, self.drilldown = narrowed
        return queryset

    def filter_text(self, queryset, name, value):
        return queryset.filter(text_search_q(value)) if value.strip() else queryset

    def filter_due_soon(self, queryset, name, value):
        if not value:
            return queryset
        teams = list(user_teams(self.request).values_list("pk", flat=True))
        return queryset.annotate(next_due=next_due()).filter(due_soon_q(teams))

    def filter_sort(self, queryset, name, value):
        if value != "due":
            return queryset
        return queryset.annotate(next_due=next_due()).order_by(F("next_due").asc(nulls_last=True), "id")

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(overdue_q()) if value else queryset.exclude(overdue_q())
