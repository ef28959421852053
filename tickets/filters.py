"""The queue filters, shared by the HTML queue and the API list."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from tickets import hooks
from tickets.access import teams_for_user
from tickets.models import OPEN_STATUSES, Category, Channel, Priority, Status, Team, Ticket
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


#: The built-in views of the queue, in the sidebar's order.
VIEWS = {
    "mine": _("My open tickets"),
    "unassigned": _("Unassigned in my teams"),
    "due_soon": _("Due soon"),
    "overdue": _("Overdue"),
    "waiting": _("Waiting for the customer"),
    "recent": _("Recently updated"),
    "all": _("All tickets"),
}
#: What the queue shows when nothing is asked for: my open tickets, the next due first.
DEFAULT_QUERY = {"view": "mine", "sort": "due"}
#: How the queue can be ordered (each a column of the list). Newest request first without one.
SORTS = {
    "due": _("Next due first"),
    "oldest": _("Oldest request first"),
    "priority": _("Most urgent first"),
    "status": _("By status"),
    "updated": _("Last changed first"),
    "reference": _("By reference"),
}
PRIORITY_RANK = Case(
    *(When(priority=value, then=Value(rank)) for rank, value in enumerate(reversed(Priority.values))),
    output_field=IntegerField(),
)
STATUS_RANK = Case(
    *(When(status=value, then=Value(rank)) for rank, value in enumerate(Status.values)), output_field=IntegerField()
)


def queue_query(data) -> str:
    """The queue's own parameters out of a query (a saved view keeps nothing else), URL-encoded."""
    kept = QueryDict(mutable=True)
    for name in TicketFilter.Meta.fields:
        values = [value for value in data.getlist(name) if value][:20]
        if values:
            kept.setlist(name, values)
    return kept.urlencode()[:1000]


def view_queryset(queryset: QuerySet[Ticket], view: str, request) -> QuerySet[Ticket]:
    """The tickets of a built-in view, out of the user's queue."""
    if view == "mine":
        return queryset.filter(assignee_id=getattr(request.user, "pk", None), status__in=OPEN_STATUSES)
    if view == "unassigned":
        return queryset.filter(assignee__isnull=True, status__in=OPEN_STATUSES)
    if view == "due_soon":
        teams = list(user_teams(request).values_list("pk", flat=True))
        return queryset.annotate(next_due=next_due()).filter(due_soon_q(teams))
    if view == "overdue":
        return queryset.filter(overdue_q())
    if view == "waiting":
        return queryset.filter(status=Status.PENDING)
    if view == "recent":
        return queryset.order_by("-updated_at", "-id")
    return queryset


class TicketFilter(django_filters.FilterSet):
    view = django_filters.ChoiceFilter(
        label=_("View"), method="filter_view", choices=list(VIEWS.items()), empty_label=None,
        widget=forms.HiddenInput,
    )  # fmt: skip
    q = django_filters.CharFilter(label=_("Search"), method="filter_text", max_length=200)
    tag = django_filters.CharFilter(
        label=_("Tag"), method="filter_tag", max_length=50, widget=forms.TextInput(attrs={"list": "tag-names"})
    )
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
        choices=list(SORTS.items()),
        empty_label=_("Newest request first"),
    )

    #: the drill-down from a KPI figure this list shows, if any (set when the list is filtered)
    drilldown = None

    class Meta:
        model = Ticket
        fields = ["view", "q", "tag", "status", "priority", "category", "channel", "team", "assignee", "overdue",
                  "due_soon", "sort"]  # fmt: skip

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

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__name__iexact=value.strip()) if value.strip() else queryset

    def filter_view(self, queryset, name, value):
        return view_queryset(queryset, value, self.request)

    def filter_sort(self, queryset, name, value):
        if value == "due":
            if "next_due" not in queryset.query.annotations:
                queryset = queryset.annotate(next_due=next_due())
            return queryset.order_by(F("next_due").asc(nulls_last=True), "id")
        if value == "oldest":
            return queryset.order_by("requested_at", "id")
        if value == "priority":
            return queryset.alias(rank=PRIORITY_RANK).order_by("rank", "-requested_at", "-id")
        if value == "status":
            return queryset.alias(rank=STATUS_RANK).order_by("rank", "-requested_at", "-id")
        if value == "updated":
            return queryset.order_by("-updated_at", "-id")
        if value == "reference":
            return queryset.order_by("reference")
        return queryset

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(overdue_q()) if value else queryset.exclude(overdue_q())
