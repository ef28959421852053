"""Warnings before an SLA breach and notices at the breach, in the desk and by e-mail digest.

``sweep_sla`` (Celery beat, every 5 minutes) looks at the open tickets whose targets are
near, in working time of each ticket's calendar: at ``SLA_WARNING_SHARE`` of an allowance
(75 % by default) the assignee is warned; at the breach, the assignee and the team's
supervisor are told. Each notice is a row, unique per person, ticket, kind, target and due
time, inserted with ON CONFLICT DO NOTHING: two sweeps at once never tell twice.

``send_digests`` then writes **one e-mail per person** listing what is new for them, through
the outbox, and marks those rows e-mailed in the same transaction (rows claimed with SKIP
LOCKED). A person who turned the digest off still sees everything on the notifications page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation

from notifications.models import Clock, Kind, Notification, Preference
from outbox.services import queue_email
from tickets.access import MANAGERS_GROUP
from tickets.models import EventKind, Status, Team, Ticket, TicketEvent
from tickets.sla import SlaLookup
from tickets.worktime import working_time_between

#: Look this far ahead for targets (wall time): a warning at 75 % of 48 working hours comes at most
#: a few working days before the due time.
HORIZON = timedelta(days=30)


@dataclass
class SweepResult:
    warnings: int
    breaches: int


def _candidates(now: datetime) -> QuerySet[Ticket]:
    """Open tickets with a target within the horizon: an unanswered response, or a resolution that is
    not paused (a ticket waiting for the customer has its resolution clock stopped)."""
    soon = now + HORIZON
    response = Q(first_response_at__isnull=True, response_due_at__lte=soon)
    resolution = Q(resolution_due_at__lte=soon) & ~Q(status=Status.PENDING)
    return (
        Ticket.objects.filter(status__in=[Status.NEW, Status.OPEN, Status.PENDING])
        .filter(response | resolution)
        .select_related("team")
        .only("id", "requested_at", "first_response_at", "response_due_at", "resolution_due_at", "status",
              "assignee_id", "team__supervisor_id", "team__calendar_id", "priority", "category_id")
    )  # fmt: skip


def _notices(ticket: Ticket, now: datetime, share: float, lookup: SlaLookup) -> list[Notification]:
    found = []
    calendar = lookup.clock(ticket)
    clocks = []
    if ticket.first_response_at is None and ticket.response_due_at:
        clocks.append((Clock.RESPONSE, ticket.response_due_at))
    if ticket.status != Status.PENDING and ticket.resolution_due_at:
        clocks.append((Clock.RESOLUTION, ticket.resolution_due_at))
    for clock, due in clocks:
        if now >= due:
            kind, people = Kind.BREACH, {ticket.assignee_id, ticket.team.supervisor_id}
        else:
            allowance = working_time_between(ticket.requested_at, due, calendar)
            used = working_time_between(ticket.requested_at, now, calendar)
            if allowance.total_seconds() <= 0 or used < allowance * share:
                continue
            kind, people = Kind.WARNING, {ticket.assignee_id or ticket.team.supervisor_id}
        found += [Notification(recipient_id=person, ticket_id=ticket.pk, kind=kind, clock=clock, due_at=due,
                               created_at=now) for person in people if person]  # fmt: skip
    return found


def sweep_sla(now: datetime | None = None) -> SweepResult:
    """Warn and tell about the targets of the open tickets (see the module's docstring)."""
    now = now or timezone.now()
    share = settings.SLA_WARNING_SHARE
    lookup = SlaLookup()  # no query per ticket: policies and clocks once per kind
    notices = [notice for ticket in _candidates(now).iterator(chunk_size=2000)
               for notice in _notices(ticket, now, share, lookup)]  # fmt: skip
    counts = Notification.objects.filter(emailed_at__isnull=True).values_list("kind")
    before = {kind: counts.filter(kind=kind).count() for kind in Kind.values}
    Notification.objects.bulk_create(notices, batch_size=1000, ignore_conflicts=True)
    after = {kind: counts.filter(kind=kind).count() for kind in Kind.values}
    return SweepResult(warnings=after[Kind.WARNING] - before[Kind.WARNING],
                       breaches=after[Kind.BREACH] - before[Kind.BREACH])  # fmt: skip


def send_digests(limit: int = 5000) -> int:
    """One e-mail per person for their notices not e-mailed yet; returns how many e-mails were queued."""
    sent = 0
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(emailed_at__isnull=True)
            .select_related("recipient", "ticket")
            .order_by("created_at")[:limit]
        )
        if not rows:
            return 0
        muted = set(Preference.objects.filter(email_digest=False).values_list("user_id", flat=True))
        by_person: dict[int, list[Notification]] = {}
        for row in rows:
            by_person.setdefault(row.recipient_id, []).append(row)
        now = timezone.now()
        for person, notices in by_person.items():
            recipient = notices[0].recipient
            if person not in muted and recipient.email and recipient.is_active:
                with translation.override(settings.LANGUAGE_CODE):
                    queue_email(
                        to=recipient.email,
                        template="sla_digest",
                        context={
                            "person": recipient,
                            "notices": notices,
                            "url": settings.SITE_URL + reverse("notifications:list"),
                            "desk_name": settings.DESK_NAME,
                        },
                        language=settings.LANGUAGE_CODE,
                        kind="sla_digest",
                    )
                sent += 1
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(emailed_at=now)
    return sent


#: ``@name`` in a note: a colleague's login.
MENTION = re.compile(r"(?<![\w.@])@([\w.+-]{1,150})")


def _people_on(ticket: Ticket) -> QuerySet:
    """Who works on the ticket's team (members and supervisor) and the managers: who may be told about it."""
    return (
        get_user_model()
        .objects.filter(
            Q(desk_teams=ticket.team_id) | Q(supervised_teams=ticket.team_id) | Q(groups__name=MANAGERS_GROUP),
            is_active=True,
        )
        .distinct()
    )


def notify_about_event(*, event: TicketEvent) -> None:
    """Tell people what happened on a ticket (``tickets.hooks.event_recorded``): the agent a ticket was
    given to by someone else, the assignee (else the supervisor) when the customer wrote, and the
    colleagues a note names with ``@login``. Never the person who did it."""
    ticket = event.ticket
    people: set[int] = set()
    kind = None
    if event.kind == EventKind.ASSIGNED and not event.after.get("taken"):
        kind = Kind.ASSIGNED
        assignee = event.after.get("assignee")
        if assignee:
            people = set(_people_on(ticket).filter(username=assignee).values_list("pk", flat=True))
    elif event.kind == EventKind.RECEIVED:
        kind = Kind.CUSTOMER
        person = ticket.assignee_id or Team.objects.filter(pk=ticket.team_id).values_list("supervisor", flat=True)[0]
        people = {person} if person else set()
    elif event.kind == EventKind.NOTE and "@" in event.body:
        kind = Kind.MENTION
        names = set(MENTION.findall(event.body))
        if names:
            people = set(_people_on(ticket).filter(username__in=names).values_list("pk", flat=True))
    people.discard(event.actor_id)
    if kind and people:
        Notification.objects.bulk_create(
            [Notification(recipient_id=person, ticket=ticket, kind=kind, event=event, created_at=event.at)
             for person in people],
            ignore_conflicts=True,
        )  # fmt: skip


def mark_all_read(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def set_digest(user, on: bool) -> None:
    Preference.objects.update_or_create(user=user, defaults={"email_digest": on})


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
