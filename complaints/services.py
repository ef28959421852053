"""Every change to a complaint: opening, the escalation ladder, the remedy, the closing loop.

Each service locks the complaint row, checks who may act, saves, writes a
``ComplaintEvent``, and queues e-mail through the outbox. Tickets are touched only
through ``tickets.services`` (a note in the ticket's timeline on escalation; closing the
loop resolves the ticket).

Handling (a contact with the customer, a remedy recorded, an appointment made, the
confirmation asked for or logged) restarts the delay clock (拖延); an escalation or an
automatic change does not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from complaints.access import can_act, can_escalate
from complaints.models import (
    MAX_COMPENSATION,
    CompensationKind,
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
    ConfirmationChannel,
    Level,
    RootCause,
    Severity,
    Source,
    policy_for,
    severity_for_answer,
)
from complaints.taboos import delay_q
from config.exceptions import ApplicationError, Conflict, NotAllowed
from outbox.services import queue_email
from surveys.models import SurveyResponse
from tickets import services as ticket_services
from tickets.access import MANAGERS_GROUP, tickets_for_user
from tickets.calendars import calendar_for
from tickets.models import OPEN_STATUSES, RESOLVED_STATUSES, Ticket
from tickets.worktime import add_working_time

User = get_user_model()

if TYPE_CHECKING:
    from config.types import Actor, Viewer


def handler_for(ticket: Ticket, level: int, *, by: Actor = None) -> Actor:
    """Level 1: the ticket's agent; 2: the team's supervisor; 3: a manager."""
    if level == Level.AGENT:
        return ticket.assignee or by or ticket.team.supervisor
    if level == Level.SUPERVISOR and ticket.team.supervisor and ticket.team.supervisor.is_active:
        return ticket.team.supervisor
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name=MANAGERS_GROUP) | Q(is_superuser=True))
        .order_by("-groups__name", "id")
        .first()
    )


def _record(
    complaint: Complaint, kind: str, by: Actor, *, at: datetime, reason: str = "",
    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> ComplaintEvent:  # fmt: skip
    return ComplaintEvent.objects.create(
        complaint=complaint, kind=kind, actor=by, at=at, reason=reason, before=before or {}, after=after or {}
    )


def _locked(complaint: Complaint | int) -> Complaint:
    pk = complaint.pk if isinstance(complaint, Complaint) else complaint
    return Complaint.objects.select_for_update(of=("self",)).select_related("ticket", "ticket__team").get(pk=pk)


def _delay_due(complaint: Complaint, since: datetime) -> datetime:
    """When the complaint counts as delayed unless handled again: its severity's update window after
    ``since``, in working time of the ticket's calendar."""
    return add_working_time(since, policy_for(complaint.severity)[2], calendar_for(complaint.ticket))


def _handled(complaint: Complaint, now: datetime) -> list[str]:
    """A handling action happened now: the delay clock starts again. The fields changed."""
    complaint.handled_at = now
    fields = ["handled_at", "delay_due_at"]
    if complaint.delayed_at is None and complaint.delay_due_at is not None and complaint.delay_due_at < now:
        complaint.delayed_at = complaint.delay_due_at  # late all the same: the sweep had not seen it yet
        fields.append("delayed_at")
    if complaint.first_handled_at is None:
        complaint.first_handled_at = now
        fields.append("first_handled_at")
    complaint.delay_due_at = _delay_due(complaint, now)
    return fields


def record_customer_contact(*, ticket: Ticket, by: Actor, at: datetime, **kwargs: Any) -> None:
    """``tickets.hooks.customer_contacted``: a reply or a call on the ticket handles its open complaint."""
    complaint = (
        Complaint.objects.select_for_update(of=("self",)).select_related("ticket").filter(ticket=ticket)
        .exclude(status=ComplaintStatus.CLOSED).first()
    )  # fmt: skip
    if complaint is None:
        return
    fields = _handled(complaint, at)
    complaint.updated_at = timezone.now()
    complaint.save(update_fields=[*fields, "updated_at"])


_NOT_CLOSED = frozenset({ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS, ComplaintStatus.AWAITING_CONFIRMATION})

#: action → statuses it may start from, and the status it leads to (None: unchanged).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "escalate": (_NOT_CLOSED, None),
    "update": (_NOT_CLOSED, None),  # an open complaint moves to in progress with its first edit
    "mark_delayed": (_NOT_CLOSED, None),
    "request_confirmation": (frozenset({ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS}),
                             ComplaintStatus.AWAITING_CONFIRMATION),
    "log_confirmation": (_NOT_CLOSED, None),
    "close": (_NOT_CLOSED, ComplaintStatus.CLOSED),
    "appointment": (_NOT_CLOSED, None),
}  # fmt: skip

_REFUSALS = {
    "request_confirmation": gettext_lazy("The customer has already been asked to confirm the fix."),
}


def allowed_actions(complaint: Complaint) -> set[str]:
    """The actions whose transition starts from the complaint's current status."""
    return {action for action, (sources, _target) in TRANSITIONS.items() if complaint.status in sources}


def _check(complaint: Complaint, action: str) -> None:
    sources, _target = TRANSITIONS[action]
    if complaint.status not in sources:
        if complaint.status == ComplaintStatus.CLOSED:
            raise ApplicationError(_("This complaint is closed."))
        raise ApplicationError(str(_REFUSALS[action]))


def _check_handler(user: Actor, complaint: Complaint) -> None:
    if not can_act(user, complaint):
        raise NotAllowed(_("Only the complaint's current handler or a manager can do this."))


@transaction.atomic
def open_complaint(
    *, ticket: Ticket, by: Actor, source: str = Source.CATEGORY, severity: str = Severity.MINOR
) -> Complaint:
    """The ticket's complaint, opened at level 1 with its SLA due time; the existing one if any."""
    existing = Complaint.objects.filter(ticket=ticket).first()
    if existing is not None:
        return existing
    now = timezone.now()
    resolve_within, level_window, update_window = policy_for(severity)
    calendar = calendar_for(ticket)
    try:
        with transaction.atomic():
            complaint = Complaint.objects.create(
                ticket=ticket,
                source=source,
                severity=severity,
                level=Level.AGENT,
                handler=handler_for(ticket, Level.AGENT, by=by),
                opened_at=now,
                level_since=now,
                level_due_at=add_working_time(now, level_window, calendar),
                updated_at=now,
                due_at=add_working_time(now, resolve_within, calendar),
                delay_due_at=add_working_time(now, update_window, calendar),
            )
    except IntegrityError:  # raised by someone else a moment ago: theirs is the ticket's complaint
        return Complaint.objects.get(ticket=ticket)
    _record(complaint, ComplaintEventKind.OPENED, by, at=now, after={"severity": severity, "source": source})
    return complaint


def open_missing_complaints() -> int:
    """A complaint record for every ticket of a complaint category that lacks one (tickets loaded
    in bulk, as the demo data are): opened when the ticket was, closed with a closed ticket."""
    follow_ups = set(SurveyResponse.objects.filter(follow_up__isnull=False).values_list("follow_up_id", flat=True))
    complaints = []
    lacking = Ticket.objects.filter(category__is_complaint=True, complaint__isnull=True, merged_into__isnull=True)
    for ticket in lacking.iterator():  # (a merged duplicate's complaint went with it to the other ticket)
        closed = ticket.status == "closed"
        complaints.append(Complaint(
            ticket=ticket, source=Source.SURVEY if ticket.pk in follow_ups else Source.CATEGORY,
            severity=Severity.MINOR, level=Level.AGENT, handler_id=ticket.assignee_id, opened_at=ticket.created_at,
            level_since=ticket.created_at, updated_at=ticket.updated_at,
            due_at=ticket.created_at + policy_for(Severity.MINOR)[0],
            status=ComplaintStatus.CLOSED if closed else ComplaintStatus.OPEN,
            closed_at=ticket.closed_at if closed else None,
        ))  # fmt: skip
    Complaint.objects.bulk_create(complaints, batch_size=1000)
    return len(complaints)


def open_complaint_for_category(*, ticket: Ticket, by: Actor, source: str = Source.CATEGORY) -> None:
    """``tickets.hooks``: every ticket of a complaint category has its complaint record."""
    if ticket.category.is_complaint:
        open_complaint(ticket=ticket, by=by, source=source)


def move_complaint_on_merge(*, duplicate: Ticket, into: Ticket, by: Actor) -> None:
    """``tickets.hooks.ticket_merged``: the duplicate's complaint moves to the ticket it is merged into
    (an ``updated`` event says from where). Refused while both have a complaint and the duplicate's is
    still open: one complaint is closed first, or the tickets are linked instead."""
    complaint = Complaint.objects.select_for_update().filter(ticket=duplicate).first()
    if complaint is None:
        return
    if Complaint.objects.filter(ticket=into).exists():
        if complaint.status != ComplaintStatus.CLOSED:
            raise ApplicationError(
                _("Both tickets have a complaint, and %(ticket)s's is still open: close one complaint first, or "
                  "link the tickets instead.") % {"ticket": duplicate.reference},
                field="into",
            )  # fmt: skip
        return
    complaint.ticket = into
    complaint.updated_at = timezone.now()
    complaint.save(update_fields=["ticket", "updated_at"])
    _record(complaint, ComplaintEventKind.UPDATED, by, at=complaint.updated_at,
            before={"ticket": duplicate.reference}, after={"ticket": into.reference})  # fmt: skip


def complaint_panel(*, ticket: Ticket, user: Viewer) -> tuple[str, dict]:
    """The complaint panel on the ticket's page: the complaint, or a form to raise one; and the
    customer's other complaints still open (on tickets of the user's teams)."""
    others = (
        Complaint.objects.filter(ticket__customer_id=ticket.customer_id, ticket__in=tickets_for_user(user))
        .exclude(ticket=ticket)
        .exclude(status=ComplaintStatus.CLOSED)
        .select_related("ticket")
        .order_by("-id")[:5]
    )
    return "complaints/_partials/ticket_panel.html", {
        "complaint": Complaint.objects.filter(ticket=ticket).first(),
        "customer_open": list(others),
    }


@transaction.atomic
def escalate_complaint(*, complaint: Complaint | int, by: Actor, reason: str, automatic: bool = False) -> Complaint:
    """One level up (agent → supervisor → manager) to that level's handler. Writes an
    ``escalated`` event and a note in the ticket's timeline, and e-mails the new handler."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the complaint is escalated."), field="reason")
    complaint = _locked(complaint)
    _check(complaint, "escalate")
    if not automatic and not can_escalate(by, complaint):
        raise NotAllowed(_("Only the handler, the team's supervisor or a manager can escalate this complaint."))
    if complaint.level >= Level.MANAGER:
        raise ApplicationError(_("The complaint is already with a manager, the highest level."))
    now = timezone.now()
    before = {"level": complaint.level, "handler": complaint.handler.get_username() if complaint.handler else None}
    complaint.level += 1
    complaint.handler = handler_for(complaint.ticket, complaint.level)
    complaint.level_since = complaint.updated_at = now
    complaint.level_due_at = add_working_time(now, policy_for(complaint.severity)[1], calendar_for(complaint.ticket))
    complaint.escalation_count += 1
    complaint.save(update_fields=["level", "handler", "level_since", "level_due_at", "updated_at", "escalation_count"])
    after = {
        "level": complaint.level,
        "handler": complaint.handler.get_username() if complaint.handler else None,
        "automatic": automatic,
    }
    _record(complaint, ComplaintEventKind.ESCALATED, by, at=now, reason=reason, before=before, after=after)
    with override(settings.LANGUAGE_CODE):
        note = _("Complaint escalated to level %(level)s (%(handler)s): %(reason)s") % {
            "level": complaint.get_level_display(),
            "handler": after["handler"] or "—",
            "reason": reason,
        }
    ticket_services.add_note(ticket=complaint.ticket, by=by, body=note)
    if complaint.handler and complaint.handler.email:
        queue_email(
            to=complaint.handler.email,
            template="complaint_escalated",
            context={
                "complaint": complaint,
                "ticket": complaint.ticket,
                "reason": reason,
                "handler": complaint.handler,
                "url": settings.SITE_URL + reverse("complaints:detail", args=[complaint.pk]),
                "desk_name": settings.DESK_NAME,
            },
            language=settings.LANGUAGE_CODE,
            kind="complaint_escalated",
            ticket=complaint.ticket,
        )
    return complaint


EDITABLE = ("severity", "root_cause", "corrective_action", "compensation_kind", "compensation_amount")


@transaction.atomic
def update_complaint(
    *, complaint: Complaint | int, by: Actor, expected_version: int | None = None, **changes: Any
) -> Complaint:
    """Severity, root cause, corrective action, compensation. Moves an open complaint to in progress.

    ``expected_version`` is the version the editor's form was read at: when someone saved an edit
    meanwhile, ``Conflict`` is raised and nothing is saved (the form shows both texts)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ApplicationError(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    complaint = _locked(complaint)
    _check(complaint, "update")
    _check_handler(by, complaint)
    if expected_version is not None and expected_version != complaint.version:
        raise Conflict(
            _("Someone else saved this complaint while you were editing it. Their version is shown beside "
              "your text, which is kept: check both, then save again.")
        )  # fmt: skip
    root_cause = changes.get("root_cause", complaint.root_cause)
    if root_cause is not None and not RootCause.objects.filter(pk=root_cause.pk, active=True).exists():
        raise ApplicationError(_("Choose a root cause from the list."), field="root_cause")
    kind = changes.get("compensation_kind", complaint.compensation_kind)
    amount = Decimal(changes.get("compensation_amount", complaint.compensation_amount))
    if kind not in CompensationKind.values:
        raise ApplicationError(_("Choose a kind of compensation from the list."), field="compensation_kind")
    if amount < 0 or amount > MAX_COMPENSATION:
        raise ApplicationError(_("The compensation must be between 0 and 1,000,000."), field="compensation_amount")
    if kind == CompensationKind.NONE and amount > 0:
        raise ApplicationError(_("Say what kind of compensation this amount is."), field="compensation_kind")
    if changes.get("severity", complaint.severity) not in Severity.values:
        raise ApplicationError(_("Choose a severity from the list."), field="severity")
    now = timezone.now()
    before, after, fields = {}, {}, []
    for name, value in changes.items():
        old = getattr(complaint, name)
        if old != value:
            before[name], after[name] = str(old) if old is not None else None, str(value) if value is not None else None
            setattr(complaint, name, value)
            fields.append(name)
    if "severity" in fields:
        complaint.due_at = add_working_time(
            complaint.opened_at, policy_for(complaint.severity)[0], calendar_for(complaint.ticket)
        )
        complaint.delay_due_at = _delay_due(complaint, complaint.handled_at or complaint.opened_at)
        fields += ["due_at", "delay_due_at"]
    if {"corrective_action", "compensation_kind", "compensation_amount"} & set(fields):
        fields += _handled(complaint, now)
    if complaint.status == ComplaintStatus.OPEN:
        complaint.status = ComplaintStatus.IN_PROGRESS
        fields.append("status")
    if not fields:
        return complaint
    complaint.updated_at = now
    complaint.version += 1
    complaint.save(update_fields=[*fields, "updated_at", "version"])
    _record(complaint, ComplaintEventKind.UPDATED, by, at=now, before=before, after=after)
    return complaint


@transaction.atomic
def request_confirmation(*, complaint: Complaint | int, by: Actor) -> Complaint:
    """The fix is done: wait for the customer to confirm. Needs the corrective action written down."""
    complaint = _locked(complaint)
    _check(complaint, "request_confirmation")
    _check_handler(by, complaint)
    if not complaint.corrective_action.strip():
        raise ApplicationError(_("Write down the corrective action first."), field="corrective_action")
    now = timezone.now()
    complaint.status, complaint.updated_at = ComplaintStatus.AWAITING_CONFIRMATION, now
    complaint.save(update_fields=["status", "updated_at", *_handled(complaint, now)])
    _record(complaint, ComplaintEventKind.AWAITING, by, at=now)
    return complaint


@transaction.atomic
def log_confirmation(*, complaint: Complaint | int, by: Actor, channel: str, contact: str, note: str) -> Complaint:
    """The customer confirmed the fix: who, how (phone, e-mail, in person) and what they said."""
    complaint = _locked(complaint)
    _check(complaint, "log_confirmation")
    _check_handler(by, complaint)
    if channel not in ConfirmationChannel.values:
        raise ApplicationError(_("Say how the customer confirmed."), field="channel")
    if not (contact or "").strip() or not (note or "").strip():
        raise ApplicationError(_("Say who confirmed and what they said."), field="note")
    now = timezone.now()
    complaint.confirmation_channel, complaint.confirmation_contact = channel, contact.strip()
    complaint.confirmation_note, complaint.confirmed_at, complaint.confirmed_by = note.strip(), now, by
    complaint.updated_at = now
    complaint.save(
        update_fields=[
            "confirmation_channel",
            "confirmation_contact",
            "confirmation_note",
            "confirmed_at",
            "confirmed_by",
            "updated_at",
            *_handled(complaint, now),
        ]
    )
    _record(
        complaint,
        ComplaintEventKind.CONFIRMATION,
        by,
        at=now,
        reason=note.strip(),
        after={"channel": channel, "contact": contact.strip()},
    )
    return complaint


def satisfied_survey_after_fix(complaint: Complaint) -> SurveyResponse | None:
    """A satisfied answer (overall 4–5) to the survey of the complaint's ticket, given after its resolution."""
    ticket = complaint.ticket
    if ticket.status not in RESOLVED_STATUSES or ticket.resolved_at is None:
        return None
    return SurveyResponse.objects.filter(ticket=ticket, overall__gte=4, submitted_at__gte=ticket.resolved_at).first()


@transaction.atomic
def close_complaint(*, complaint: Complaint | int, by: Actor, note: str = "") -> Complaint:
    """Closed only when the loop is closed (seed 001): a logged confirmation from the customer,
    or a satisfied survey answer after the fix. Writes a ``closed`` event; a ticket still open
    (the follow-up of an unhappy answer, a complaint call) is resolved with the confirmation."""
    complaint = _locked(complaint)
    _check(complaint, "close")
    _check_handler(by, complaint)
    survey = satisfied_survey_after_fix(complaint)
    if complaint.confirmed_at is None and survey is None:
        raise ApplicationError(
            _(
                "A complaint closes only when the customer confirms the fix: log their confirmation, "
                "or wait for a satisfied survey answer after the ticket is resolved."
            )
        )
    now = timezone.now()
    complaint.status, complaint.closed_at, complaint.updated_at = ComplaintStatus.CLOSED, now, now
    complaint.save(update_fields=["status", "closed_at", "updated_at"])
    _record(
        complaint,
        ComplaintEventKind.CLOSED,
        by,
        at=now,
        reason=(note or "").strip(),
        after={"confirmed_by": "survey" if complaint.confirmed_at is None else complaint.confirmation_channel},
    )
    ticket = complaint.ticket
    if ticket.status in OPEN_STATUSES:
        with override(settings.LANGUAGE_CODE):
            if complaint.confirmed_at is not None:
                resolution = _("Complaint closed; the customer confirmed the fix (%(contact)s): %(note)s") % {
                    "contact": complaint.confirmation_contact, "note": complaint.confirmation_note,
                }  # fmt: skip
            else:
                resolution = _("Complaint closed; the customer answered the survey satisfied after the fix.")
        ticket_services.resolve_ticket(ticket=ticket, by=by, note=resolution)
    return complaint


@transaction.atomic
def set_appointment(*, complaint: Complaint | int, by: Actor, at: datetime, place: str, with_whom: str) -> Complaint:
    """Seed 003's ladder above level 1: a new place (二换场地) and a new time (三换时间) — an
    appointment with the customer, when, where and with whom. Handling; the handler is reminded
    ``COMPLAINT_APPOINTMENT_REMINDER_HOURS`` before it."""
    complaint = _locked(complaint)
    _check(complaint, "appointment")
    _check_handler(by, complaint)
    if complaint.level < Level.SUPERVISOR:
        raise ApplicationError(
            _("An appointment belongs to a complaint escalated to a supervisor or a manager; escalate it first.")
        )
    place, with_whom = (place or "").strip(), (with_whom or "").strip()
    now = timezone.now()
    if at is None or at <= now:
        raise ApplicationError(_("The appointment must be in the future."), field="appointment_at")
    if not place:
        raise ApplicationError(_("Say where the meeting takes place."), field="appointment_place")
    if not with_whom:
        raise ApplicationError(_("Say who meets the customer."), field="appointment_with")
    before = {"appointment_at": complaint.appointment_at.isoformat() if complaint.appointment_at else None}
    complaint.appointment_at, complaint.appointment_place, complaint.appointment_with = at, place, with_whom
    complaint.appointment_reminded_at = None
    complaint.updated_at = now
    complaint.save(update_fields=["appointment_at", "appointment_place", "appointment_with",
                                  "appointment_reminded_at", "updated_at", *_handled(complaint, now)])  # fmt: skip
    after = {"appointment_at": at.isoformat(), "place": place, "with": with_whom}
    _record(complaint, ComplaintEventKind.APPOINTMENT, by, at=now, before=before, after=after)
    return complaint


def remind_appointments(now: datetime | None = None) -> int:
    """The beat job: one e-mail to each handler whose appointment is less than
    ``COMPLAINT_APPOINTMENT_REMINDER_HOURS`` away. Claimed with SKIP LOCKED: sent once."""
    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.COMPLAINT_APPOINTMENT_REMINDER_HOURS)
    sent = 0
    with transaction.atomic():
        due = (
            Complaint.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("ticket", "ticket__customer", "handler")
            .filter(appointment_at__gt=now, appointment_at__lte=horizon, appointment_reminded_at__isnull=True)
            .exclude(status=ComplaintStatus.CLOSED)
        )
        for complaint in due:
            complaint.appointment_reminded_at = now
            complaint.save(update_fields=["appointment_reminded_at"])
            if complaint.handler and complaint.handler.email:
                queue_email(
                    to=complaint.handler.email,
                    template="complaint_appointment",
                    context={
                        "complaint": complaint,
                        "ticket": complaint.ticket,
                        "handler": complaint.handler,
                        "url": settings.SITE_URL + reverse("complaints:detail", args=[complaint.pk]),
                        "desk_name": settings.DESK_NAME,
                    },
                    language=settings.LANGUAGE_CODE,
                    kind="complaint_appointment",
                    ticket=complaint.ticket,
                )
                sent += 1
    return sent


def grade_survey_complaint(*, response: SurveyResponse, **kwargs: Any) -> None:
    """``surveys.hooks.follow_up_opened``: the complaint of an unhappy answer takes the severity the
    rules give the answer (an admin edits them: complaints → severity rules)."""
    severity = severity_for_answer(response.overall, response.nps)
    complaint = Complaint.objects.select_for_update(of=("self",)).filter(ticket=response.follow_up_id).first()
    if complaint is None or complaint.severity == severity:
        return
    before = {"severity": complaint.severity}
    complaint.severity = severity
    complaint.due_at = add_working_time(complaint.opened_at, policy_for(severity)[0], calendar_for(complaint.ticket))
    complaint.level_due_at = add_working_time(
        complaint.level_since, policy_for(severity)[1], calendar_for(complaint.ticket)
    )
    complaint.delay_due_at = _delay_due(complaint, complaint.handled_at or complaint.opened_at)
    complaint.save(update_fields=["severity", "due_at", "level_due_at", "delay_due_at"])
    with override(settings.LANGUAGE_CODE):
        reason = _("Severity from the survey answer (overall %(overall)s, recommendation %(nps)s).") % {
            "overall": response.overall if response.overall is not None else "—",
            "nps": response.nps if response.nps is not None else "—",
        }
    _record(complaint, ComplaintEventKind.UPDATED, None, at=timezone.now(), reason=reason, before=before,
            after={"severity": severity})  # fmt: skip


def mark_delayed(now: datetime) -> int:
    """Note, once, each complaint that has gone without handling longer than its severity allows
    (the delay taboo, 拖延处理): ``delayed_at`` (its time of delay) and a ``delayed`` event in its
    history. The flag does not wait for this: ``delay_q`` holds from the moment the window passed."""
    with transaction.atomic():
        found = list(
            Complaint.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(delay_q(), delayed_at__isnull=True)
            .values_list("pk", "delay_due_at", "handled_at", "opened_at")
        )
        Complaint.objects.filter(pk__in=[row[0] for row in found]).update(delayed_at=F("delay_due_at"), updated_at=now)
        ComplaintEvent.objects.bulk_create([
            ComplaintEvent(complaint_id=pk, kind=ComplaintEventKind.DELAYED, actor=None, at=now,
                           after={"last_handled": (handled or opened).isoformat()})
            for pk, _due, handled, opened in found
        ])  # fmt: skip
    return len(found)


def escalate_overdue(now: datetime | None = None) -> int:
    """The beat job: note when complaints first went without an update for too long (the delay
    taboo), and escalate each open complaint below level 3 that breached its SLA at its
    current level, or stayed at one level longer than its severity allows. Rows are claimed
    with SKIP LOCKED, so two sweepers never escalate the same complaint twice."""
    now = now or timezone.now()
    mark_delayed(now)
    escalated = 0
    for severity in Severity.values:
        _resolve, level_window, _update = policy_for(severity)
        stayed = Q(level_due_at__lt=now) | Q(level_due_at__isnull=True, level_since__lt=now - level_window)
        due = stayed | Q(due_at__lt=now, level_since__lt=F("due_at"))
        with transaction.atomic():
            candidates = list(
                Complaint.objects.select_for_update(skip_locked=True)
                .filter(due, severity=severity, level__lt=Level.MANAGER)
                .exclude(status=ComplaintStatus.CLOSED)
                .values_list("pk", "level_since", "due_at")
            )
            for pk, level_since, due_at in candidates:
                breached = due_at is not None and due_at < now and level_since < due_at
                with override(settings.LANGUAGE_CODE):
                    reason = (
                        _("Automatic: the complaint passed its deadline.")
                        if breached
                        else _("Automatic: the complaint stayed at one level too long.")
                    )
                escalate_complaint(complaint=pk, by=None, reason=reason, automatic=True)
                escalated += 1
    return escalated
