"""Reads that feed the ticket screens and the API (who may see what is in ``tickets.access``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Case, F, Q, QuerySet, When
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from tickets.access import tickets_for_user
from tickets.calendars import calendars_by_team
from tickets.models import OPEN_STATUSES, CannedReply, Customer, EventKind, Status, Tag, Team, Ticket
from tickets.sla import sla_calendar
from tickets.templatetags.desk import person
from tickets.worktime import add_working_time, working_time_between

User = get_user_model()


def overdue_q(now=None) -> Q:
    """Open tickets past their resolution due time (not while waiting for the customer: that clock is
    stopped), or past their response due time unanswered."""
    now = now or timezone.now()
    return Q(status__in=OPEN_STATUSES) & (
        (Q(resolution_due_at__lt=now) & ~Q(status=Status.PENDING))
        | Q(first_response_at__isnull=True, response_due_at__lt=now)
    )


#: "Due soon": the next target falls within this much working time.
DUE_SOON = timedelta(hours=2)


def next_due() -> Coalesce:
    """The ticket's next target: the response due time while unanswered, else the resolution's."""
    return Coalesce(
        Case(When(first_response_at__isnull=True, then=F("response_due_at")), default=None),
        F("resolution_due_at"),
    )


def due_soon_q(team_ids: list[int], now: datetime | None = None) -> Q:
    """Open tickets, not overdue, whose next target falls within ``DUE_SOON`` of working time on their
    team's calendar (one threshold per team: no per-row computation)."""
    now = now or timezone.now()
    q = Q(pk__in=[])
    for team, calendar in calendars_by_team(team_ids).items():
        q |= Q(team_id=team, next_due__lte=add_working_time(now, DUE_SOON, calendar))
    return Q(status__in=[Status.NEW, Status.OPEN], next_due__gte=now) & q


#: A whole reference as the desk writes them (SR-2026-000123), in any case.
WHOLE_REFERENCE = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+-[0-9]{6,}$")


def text_search_q(text: str) -> Q:
    """Reference, subject, or the customer's name, e-mail or phone contains ``text``; a whole
    reference (read out on the phone) finds its own ticket exactly.

    Written as ILIKE per column so that trigram GIN indexes (created where the server has
    pg_trgm) serve each branch, and the branches as a UNION of ids: an OR across the columns
    hides how few rows match from the planner, which then walks the whole queue in date order.
    A whole reference goes to the reference's unique index instead: the trigrams every reference
    shares ("SR-", "-20"…) make the trigram index read a posting list per ticket.
    """
    text = text.strip()
    customers = Customer.objects.filter(
        Q(name__icontains=text) | Q(email__icontains=text) | Q(phone__icontains=text)
    ).values("id")
    tickets = Ticket.objects.order_by()
    if WHOLE_REFERENCE.match(text):
        by_reference = tickets.filter(reference=text.upper()).values("id")
    else:
        by_reference = tickets.filter(reference__icontains=text).values("id")
    by_subject = tickets.filter(subject__icontains=text).values("id")
    by_customer = tickets.filter(customer_id__in=customers).values("id")
    matches = by_reference.union(by_subject, by_customer)
    return Q(id__in=matches)


def queue_for_user(user) -> QuerySet[Ticket]:
    """The ticket queue: the user's tickets, newest request first, with what a row shows."""
    return (
        tickets_for_user(user)
        .select_related("customer", "category", "team", "assignee")
        .order_by("-requested_at", "-id")
    )


def assignable_users(team: Team) -> QuerySet:
    """Who a ticket of ``team`` may be assigned to: its members and its supervisor."""
    return (
        User.objects.filter(Q(desk_teams=team) | Q(supervised_teams=team), is_active=True)
        .distinct()
        .order_by("username")
    )


TICKET_FIELDS = {field.name for field in Ticket._meta.get_fields() if field.concrete}


#: A customer's details, recorded in a ticket's timeline as ``customer_<field>``.
CUSTOMER_FIELDS = {f"customer_{field.name}" for field in Customer._meta.get_fields()}


def _model_field(name: str) -> Any:
    if name.startswith("customer_") and name in CUSTOMER_FIELDS:
        return Customer._meta.get_field(name.removeprefix("customer_"))
    return Ticket._meta.get_field(name)


def _field_label(name: str) -> str:
    try:
        field = _model_field(name)
    except FieldDoesNotExist:
        return name
    label = str(field.verbose_name)
    return _("customer's %(detail)s") % {"detail": label} if field.model is Customer else label


def _field_value(name: str, value: Any) -> Any:
    """A recorded value as people read it: choice labels instead of keys."""
    try:
        field = _model_field(name)
    except FieldDoesNotExist:
        return value
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        return date_format(timezone.localtime(datetime.fromisoformat(value)), "Y-m-d H:i")
    return dict(field.choices or ()).get(value, value)


def timeline_for(ticket: Ticket) -> list:
    """The ticket's events, oldest first, each with ``changes``: (label, before, after)."""
    events = list(ticket.events.select_related("actor").prefetch_related("attachments").order_by("at", "id"))
    for event in events:
        event.changes = [
            (_field_label(name), _field_value(name, event.before.get(name)), _field_value(name, value))
            for name, value in event.after.items()
            if (name in TICKET_FIELDS or name in CUSTOMER_FIELDS) and event.before.get(name) != value
        ]
        call_at = event.after.get("at") if event.kind == EventKind.CALL else None
        event.call_at = parse_datetime(call_at) if call_at else None
    return events


def working_duration(value: timedelta) -> str:
    """A span of working time as people read it: "1 h 20 min" / "1 小时 20 分"."""
    minutes = max(0, int(value.total_seconds() // 60))
    return _("%(hours)d h %(minutes)02d min") % {"hours": minutes // 60, "minutes": minutes % 60}


def sla_clock(ticket: Ticket, now=None) -> list[dict]:
    """The response and resolution targets with their state — met, missed, overdue, running or paused
    (waiting for the customer) — and the working time left or past, on the ticket's calendar."""
    now = now or timezone.now()
    calendar = sla_calendar(ticket)
    clock = []
    for key, label, due, done in (
        ("response", _("First response"), ticket.response_due_at, ticket.first_response_at),
        ("resolution", _("Resolution"), ticket.resolution_due_at, ticket.resolved_at),
    ):
        if due is None:
            continue
        if done is not None:
            state = "met" if done <= due else "missed"
        elif ticket.status == "closed":
            state = "missed" if due < now else "met"
        elif key == "resolution" and ticket.paused_since is not None:
            state = "paused"
        else:
            state = "overdue" if due < now else "running"
        item = {"key": key, "label": label, "due": due, "done": done, "state": state}
        if state == "running":
            item["left"] = working_duration(working_time_between(now, due, calendar))
        elif state == "overdue":
            item["late"] = working_duration(working_time_between(due, now, calendar))
        clock.append(item)
    return clock


#: The placeholders a canned reply may use.
PLACEHOLDERS = re.compile(r"\{(customer|reference|agent|due)\}")


def canned_text(canned, ticket: Ticket, agent) -> str:
    """A canned reply for this ticket, in its customer's language, with its placeholders filled in."""
    english = ticket.customer.preferred_language == "en" and canned.body_en.strip()
    text = canned.body_en if english else canned.body_zh
    due = ticket.response_due_at if ticket.first_response_at is None else ticket.resolution_due_at
    values = {
        "customer": ticket.customer.name,
        "reference": ticket.reference,
        "agent": person(agent, ""),
        "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M") if due else "",
    }
    return PLACEHOLDERS.sub(lambda match: values[match.group(1)], text)


def tag_suggestions() -> QuerySet:
    """The tag names offered as one types a tag (a queue's filter, a ticket's tags)."""
    return Tag.objects.order_by("name").values_list("name", flat=True)[:200]


def find_canned_reply(replies: QuerySet[CannedReply], words: str) -> CannedReply | None:
    """The canned reply an agent means by ``words``: the one of that name, else the first (by name)
    whose name, else whose text in either language, contains them."""
    for q in (
        Q(name__iexact=words),
        Q(name__icontains=words),
        Q(body_zh__icontains=words) | Q(body_en__icontains=words),
    ):
        found = replies.filter(q).order_by("name", "id").first()
        if found is not None:
            return found
    return None


#: A phone number as people type it: digits, spaces, +, - and brackets.
PHONE_LIKE = re.compile(r"^[\d\s+()-]{3,}$")
CUSTOMER_MATCHES = 8


def find_customers(text: str) -> QuerySet[Customer]:
    """Customers as an agent types: by the start of the phone number, of the e-mail address, or by
    any part of the name. At most ``CUSTOMER_MATCHES``, each served by an index."""
    text = " ".join((text or "").split())[:100]
    if len(text) < 2:
        return Customer.objects.none()
    # Each in the order of the index that finds it: the first matches are read, never sorted.
    if PHONE_LIKE.match(text):
        prefix = re.sub(r"[\s()-]", "", text)
        return Customer.objects.filter(phone__startswith=prefix).order_by("phone", "id")[:CUSTOMER_MATCHES]
    if "@" in text:
        matches = Customer.objects.alias(address=Lower("email")).filter(address__startswith=text.lower())
        return matches.order_by("address", "id")[:CUSTOMER_MATCHES]
    return Customer.objects.filter(name__icontains=text).order_by("name", "id")[:CUSTOMER_MATCHES]
