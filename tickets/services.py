"""Every change to a ticket goes through one function here.

Each service locks the ticket row (``SELECT … FOR UPDATE``), checks the
transition against ``TRANSITIONS``, saves only the fields it changed, and writes
a ``TicketEvent`` in the same transaction. Views, the API, admin actions and
Celery tasks all call these; nothing else assigns ``ticket.status``.

A ``request_key`` (each form carries one) makes an action idempotent: a second call
with the same key for the same action on the same ticket changes nothing. API clients'
``Idempotency-Key`` is kept apart, per client (``config.api.idempotent``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.exceptions import ApplicationError, PreconditionFailed
from outbox.models import OutgoingEmail
from outbox.services import queue_email
from tickets import attachments as files
from tickets import hooks
from tickets.access import may_share_with
from tickets.models import (
    LIVE_CHANNELS,
    OPEN_STATUSES,
    REPEAT_WINDOW,
    CallDirection,
    CannedReply,
    Category,
    Channel,
    Customer,
    EventKind,
    LinkKind,
    SavedView,
    SLAPolicy,
    Status,
    Tag,
    Team,
    Ticket,
    TicketEvent,
    TicketLink,
)
from tickets.selectors import assignable_users
from tickets.sla import clock_for, sla_calendar, sla_policy_for
from tickets.worktime import Calendar, add_working_time, working_time_between

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from config.types import Actor

#: action → statuses it may start from, and the status it leads to (None: unchanged).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "reply": (frozenset(OPEN_STATUSES), None),
    "call": (frozenset(OPEN_STATUSES), None),
    "note": (frozenset(Status.values), None),
    "assign": (frozenset(OPEN_STATUSES), None),
    "update": (frozenset(OPEN_STATUSES), None),
    "pending": (frozenset({Status.NEW, Status.OPEN}), Status.PENDING),
    "resume": (frozenset({Status.PENDING}), Status.OPEN),
    "resolve": (frozenset(OPEN_STATUSES), Status.RESOLVED),
    "close": (frozenset({Status.RESOLVED}), Status.CLOSED),
    "reopen": (frozenset({Status.RESOLVED, Status.CLOSED}), Status.OPEN),
}

_REFUSALS = {
    "reply": gettext_lazy("Only an open ticket can be replied to; reopen it first."),
    "call": gettext_lazy(
        "Only a call on an open ticket is logged here; a follow-up call after resolution goes in the follow-up queue."
    ),
    "assign": gettext_lazy("Only an open ticket can be assigned; reopen it first."),
    "update": gettext_lazy("Only an open ticket can be edited; reopen it first."),
    "pending": gettext_lazy("Only a new or open ticket can be marked pending."),
    "resume": gettext_lazy("Only a ticket waiting for the customer can take up their answer."),
    "resolve": gettext_lazy("This ticket is already resolved or closed."),
    "close": gettext_lazy("Only a resolved ticket can be closed."),
    "reopen": gettext_lazy("Only a resolved or closed ticket can be reopened."),
}


def allowed_actions(ticket: Ticket) -> set[str]:
    """The actions whose transition starts from the ticket's current status (a merged duplicate
    takes only notes: its work goes on in the ticket it was merged into)."""
    if ticket.merged_into_id is not None:
        return {"note"}
    return {action for action, (sources, _target) in TRANSITIONS.items() if ticket.status in sources}


def _check(ticket: Ticket, action: str) -> None:
    if ticket.merged_into_id is not None and action != "note":
        raise ApplicationError(
            _("This ticket was merged into %s; work on that one.")
            % Ticket.objects.values_list("reference", flat=True).get(pk=ticket.merged_into_id)
        )
    sources, _target = TRANSITIONS[action]
    if ticket.status not in sources:
        raise ApplicationError(str(_REFUSALS[action]))


def _locked(ticket: Ticket | int) -> Ticket:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return Ticket.objects.select_for_update().get(pk=pk)


def _already_done(ticket: Ticket, request_key: str | None, kind: str) -> bool:
    """This form was already submitted: the same key, for the same action on the same ticket."""
    return (
        bool(request_key) and TicketEvent.objects.filter(ticket=ticket, request_key=_scoped(kind, request_key)).exists()
    )


def _scoped(kind: str, request_key: str | None) -> str | None:
    return f"{kind}:{request_key}"[:64] if request_key else None


def _record(
    ticket: Ticket,
    kind: str,
    by: Actor,
    *,
    at: datetime,
    body: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_key: str | None = None,
) -> TicketEvent:
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor=by,
        at=at,
        body=body,
        before=before or {},
        after=after or {},
        request_key=_scoped(kind, request_key),
    )
    hooks.event_recorded.send(event=event)
    return event


def _save(ticket: Ticket, fields: list[str], now: datetime) -> None:
    ticket.updated_at = now
    ticket.save(update_fields=[*fields, "updated_at"])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _user_key(user: Actor) -> str | None:
    return user.get_username() if user else None


def version_of(ticket: Ticket) -> str:
    """The ticket's version for optimistic concurrency: its last change, to the microsecond (the API's ETag)."""
    return str(int(ticket.updated_at.timestamp() * 1_000_000))


def format_reference(number: int, at: datetime) -> str:
    """The reference people read: SR-<local year>-<six-digit number>."""
    return f"SR-{timezone.localtime(at).year}-{number:06d}"


def next_reference(now: datetime) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('ticket_reference_seq')")
        (number,) = cursor.fetchone()
    return format_reference(number, now)


def find_or_create_customer(*, name: str, email: str = "", phone: str = "", language: str | None = None) -> Customer:
    """The customer with this e-mail (else this phone), updated with what was missing; or a new one."""
    email = (email or "").strip()
    phone = (phone or "").strip()
    name = (name or "").strip()
    customer = None
    if email:
        customer = Customer.objects.filter(email__iexact=email).first()
    if customer is None and phone:
        customer = Customer.objects.filter(phone=phone).order_by("id").first()
    if customer is None:
        if not name:
            raise ApplicationError(_("Enter the customer's name."), field="customer")
        fields = {"name": name, "email": email, "phone": phone}
        if language:
            fields["preferred_language"] = language
        try:
            with transaction.atomic():
                return Customer.objects.create(**fields)
        except IntegrityError:  # created by another request a moment ago (unique e-mail): that one is theirs too
            customer = Customer.objects.filter(email__iexact=email).first() if email else None
            if customer is None:
                raise
            return customer
    changed = []
    if email and not customer.email:
        customer.email = email
        changed.append("email")
    if phone and not customer.phone:
        customer.phone = phone
        changed.append("phone")
    if changed:
        customer.save(update_fields=changed)
    return customer


#: A reply's References header names at most this many earlier messages (the first and the latest).
REFERENCES_KEPT = 20


def email_thread(ticket: Ticket) -> tuple[str, list[str]]:
    """The customer's latest Message-ID (a reply answers it: ``In-Reply-To``) and every message of the
    ticket's conversation so far, oldest first (``References``): what the customer wrote, kept on the
    ``created`` and ``received`` events, and what the desk sent, kept in the outbox."""
    received = [
        (event.at, event.after["message_id"])
        for event in ticket.events.filter(after__has_key="message_id").only("at", "after")
        if event.after.get("message_id")
    ]
    sent = list(OutgoingEmail.objects.filter(ticket=ticket).values_list("created_at", "message_id"))
    thread = [message_id for _at, message_id in sorted(received + sent)]
    if len(thread) > REFERENCES_KEPT:
        thread = thread[:1] + thread[-(REFERENCES_KEPT - 1) :]
    latest = max(received)[1] if received else ""
    return latest, thread


def _email_customer(
    ticket: Ticket, template: str, context: dict[str, Any], attached: Sequence[Any] = (), kind: str = ""
) -> bool:
    """Queue an e-mail to the ticket's customer through the outbox, from the address they wrote to
    and threaded under their last message. False when they have no address."""
    customer = ticket.customer
    if not customer.email:
        return False
    in_reply_to, references = email_thread(ticket)
    queue_email(
        to=customer.email,
        template=template,
        context={"ticket": ticket, "customer": customer, "desk_name": settings.DESK_NAME, **context},
        language=customer.preferred_language,
        kind=kind or template,
        ticket=ticket,
        from_email=ticket.reply_address,
        in_reply_to=in_reply_to,
        references=references,
        attachments=files.for_email(attached),
    )
    return True


def _check_assignee(team: Team, assignee: Actor) -> None:
    if assignee is not None and not assignable_users(team).filter(pk=assignee.pk).exists():
        raise ApplicationError(
            _("%(user)s is not a member of team %(team)s.") % {"user": assignee, "team": team}, field="assignee"
        )


def _take(ticket: Ticket, by: Actor, now: datetime, fields: list[str]) -> None:
    """The first agent who acts on an unassigned ticket takes it, so that the work is credited to
    whoever did it: an ``assigned`` event marked ``taken``. Someone outside the team (a manager)
    acting on it leaves it for the team."""
    if ticket.assignee_id is not None or by is None or not assignable_users(ticket.team).filter(pk=by.pk).exists():
        return
    ticket.assignee = by
    fields.append("assignee")
    taken = {"assignee": _user_key(by), "taken": True}
    _record(ticket, EventKind.ASSIGNED, by, at=now, before={"assignee": None}, after=taken)


def _apply_sla(ticket: Ticket) -> Calendar:
    """Due times on the ticket's calendar (the resolution target moved out by the time paused); the
    clock they were counted on, for the durations."""
    policy = sla_policy_for(priority=ticket.priority, category_id=ticket.category_id)
    calendar = clock_for(ticket, policy)
    apply_due_times(ticket, policy, calendar)
    return calendar


def apply_due_times(ticket: Ticket, policy: SLAPolicy | None, calendar: Calendar | None) -> None:
    """Set the due times of ``policy`` on ``calendar`` (the bulk paths pass both, looked up once)."""
    if policy is None or calendar is None:
        ticket.response_due_at = ticket.resolution_due_at = None
        return
    ticket.response_due_at = add_working_time(ticket.requested_at, policy.response_delta, calendar)
    paused = timedelta(seconds=ticket.paused_seconds)
    ticket.resolution_due_at = add_working_time(ticket.requested_at, policy.resolution_delta + paused, calendar)


def working_durations(ticket: Ticket, calendar: Calendar) -> list[str]:
    """Set the first response and completion in working time (completion net of pauses); the fields set."""
    ticket.first_response_working_seconds = (
        int(working_time_between(ticket.requested_at, ticket.first_response_at, calendar).total_seconds())
        if ticket.first_response_at else None
    )  # fmt: skip
    ticket.resolution_working_seconds = (
        max(0, int(working_time_between(ticket.requested_at, ticket.resolved_at, calendar).total_seconds())
            - ticket.paused_seconds)
        if ticket.resolved_at else None
    )  # fmt: skip
    return ["first_response_working_seconds", "resolution_working_seconds"]


def counted_pause(ticket: Ticket, until: datetime, calendar: Calendar) -> tuple[int, bool]:
    """The working seconds of the current wait for the customer that stop the clock, and whether
    the wait passed ``TICKET_PAUSE_CAP_DAYS`` (after that the clock runs again)."""
    if ticket.paused_since is None:
        return 0, False
    cap = ticket.paused_since + timedelta(days=settings.TICKET_PAUSE_CAP_DAYS)
    end = min(until, cap)
    return max(0, int(working_time_between(ticket.paused_since, end, calendar).total_seconds())), until > cap


def _run_clocks(ticket: Ticket, was: str, now: datetime, after: dict[str, Any]) -> list[str]:
    """After a transition: a wait for the customer starts or ends (its working time moves the
    resolution target out), and the completion time is stored or cleared."""
    fields: list[str] = []
    policy = sla_policy_for(priority=ticket.priority, category_id=ticket.category_id)
    calendar = clock_for(ticket, policy)
    if was == Status.PENDING and ticket.status != Status.PENDING:
        paused, capped = counted_pause(ticket, now, calendar)
        ticket.paused_seconds += paused
        ticket.paused_since = None
        after["paused_minutes"] = round(paused / 60)
        if capped:
            after["pause_capped_days"] = settings.TICKET_PAUSE_CAP_DAYS
        apply_due_times(ticket, policy, calendar)
        fields += ["paused_seconds", "paused_since", "response_due_at", "resolution_due_at"]
    elif ticket.status == Status.PENDING and was != Status.PENDING:
        ticket.paused_since = now
        fields.append("paused_since")
    return fields + working_durations(ticket, calendar)


@transaction.atomic
def create_ticket(
    *,
    by: Actor,
    subject: str,
    customer: Customer,
    category: Category,
    channel: str,
    team: Team,
    priority: str = "normal",
    description: str = "",
    product: str = "",
    serial_number: str = "",
    requested_at: datetime | None = None,
    assignee: Actor = None,
    labour_cost: Decimal = Decimal("0"),
    logistics_cost: Decimal = Decimal("0"),
    other_cost: Decimal = Decimal("0"),
    request_key: str | None = None,
    complaint_source: str = "category",
    answered: bool = False,
    attachments: Sequence[files.Upload] = (),
    reply_address: str = "",
    follows: Ticket | None = None,
    message_id: str = "",
    cc: Sequence[str] = (),
) -> Ticket:
    """Open a ticket with its reference and SLA due times. Writes a ``created`` event; counts a
    returning customer on their earlier ticket; sends ``hooks.ticket_created`` (a complaint
    category opens its complaint, config/reactions.py).

    ``answered``: the agent is speaking with the customer (a call, a visit, a chat) as the ticket is
    logged. That contact is the first response, at the request time: the ticket opens with a ``call``
    event, and the agent takes it when no one else was chosen.

    An e-mailed request brings the ``message_id`` of the customer's mail (a reply threads under it),
    the desk's ``reply_address`` it was sent to, the earlier ticket it ``follows`` (written back after
    the reopening window) and its ``attachments``.

    With a ``request_key`` already used, returns the ticket that key created (a
    double submit or a client retry creates one ticket). Keys are per user."""
    files.check(attachments)
    if request_key:
        request_key = f"{by.pk if by else '-'}:{request_key}"[:64]
        existing = Ticket.objects.filter(creation_key=request_key).first()
        if existing is not None:
            return existing
    now = timezone.now()
    requested_at = requested_at or now
    if requested_at > now:
        raise ApplicationError(_("The request time cannot be in the future."), field="requested_at")
    _check_assignee(team, assignee)
    if answered and channel not in LIVE_CHANNELS:
        raise ApplicationError(
            _("Only a call, a visit or a chat is answered as the ticket is logged; this one came by %(channel)s.")
            % {"channel": Channel(channel).label},
            field="answered",
        )
    if answered and assignee is None and by is not None and assignable_users(team).filter(pk=by.pk).exists():
        assignee = by
    ticket = Ticket(
        reference=next_reference(now),
        subject=subject,
        description=description,
        customer=customer,
        product=product,
        serial_number=serial_number,
        category=category,
        channel=channel,
        priority=priority,
        status=Status.NEW,
        team=team,
        assignee=assignee,
        created_by=by,
        requested_at=requested_at,
        labour_cost=labour_cost,
        logistics_cost=logistics_cost,
        other_cost=other_cost,
        created_at=now,
        updated_at=now,
        creation_key=request_key or None,
        reply_address=reply_address,
        follows=follows,
    )
    calendar = _apply_sla(ticket)
    if answered:
        ticket.status = Status.OPEN
        ticket.first_response_at = requested_at
        ticket.public_reply_count = 1
        working_durations(ticket, calendar)
    try:
        with transaction.atomic():
            ticket.save()
    except IntegrityError:
        # The same key won a race a moment ago: that ticket is the one.
        existing = Ticket.objects.filter(creation_key=request_key).first() if request_key else None
        if existing is None:
            raise
        return existing
    created: dict[str, Any] = {"status": Status.NEW, "assignee": _user_key(assignee)}
    if message_id:
        created.update(message_id=message_id, cc=[address.lower() for address in cc])
    if follows is not None:
        created["follows"] = follows.reference
    event = _record(ticket, EventKind.CREATED, by, at=now, after=created)
    files.store(ticket=ticket, event=event, by=by, files=attachments)
    if answered:
        call = {"direction": CallDirection.INBOUND, "status": Status.OPEN, "at": _iso(requested_at)}
        _record(ticket, EventKind.CALL, by, at=now, before={"status": Status.NEW}, after=call)
    _count_repeat(ticket, by, now)
    hooks.ticket_created.send(ticket=ticket, by=by, source=complaint_source)
    return ticket


@transaction.atomic
def log_ticket(*, by: Actor, customer: dict[str, str], resolution: str = "", **fields: Any) -> Ticket:
    """What the new-ticket form and the API do: find or create the customer (name, email, phone,
    language) and open their ticket, in one transaction. With a ``resolution``, the problem was
    solved while the agent spoke with the customer: the ticket is resolved with it at once."""
    resolution = (resolution or "").strip()
    if resolution and not fields.get("answered"):
        raise ApplicationError(
            _("A ticket is resolved on the spot only when you are speaking with the customer."), field="answered"
        )
    found = find_or_create_customer(**customer)
    ticket = create_ticket(by=by, customer=found, **fields)
    if resolution and ticket.status in OPEN_STATUSES:
        ticket = resolve_ticket(ticket=ticket, by=by, note=resolution, request_key=fields.get("request_key"))
    return ticket


def _count_repeat(ticket: Ticket, by: Actor, now: datetime) -> None:
    """The same customer with the same category again within REPEAT_WINDOW: count it on the
    earlier ticket (for the repeat-problem rate) and note it in that ticket's timeline."""
    earlier = (
        Ticket.objects.select_for_update()
        .filter(
            customer_id=ticket.customer_id,
            category_id=ticket.category_id,
            requested_at__gte=ticket.requested_at - REPEAT_WINDOW,
            requested_at__lte=ticket.requested_at,
        )
        .exclude(pk=ticket.pk)
        .order_by("-requested_at", "-id")
        .first()
    )
    if earlier is None:
        return
    earlier.repeat_count += 1
    _save(earlier, ["repeat_count"], now)
    _record(earlier, EventKind.REPEATED, by, at=now, after={"repeated_by": ticket.reference})


#: Fields ``update_ticket`` may change; the others have their own service.
EDITABLE_FIELDS = (
    "subject",
    "description",
    "product",
    "serial_number",
    "category",
    "channel",
    "priority",
    "team",
    "requested_at",
    "labour_cost",
    "logistics_cost",
    "other_cost",
)


def _display(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return str(value)
    return value


@transaction.atomic
def update_ticket(
    *,
    ticket: Ticket | int,
    by: Actor,
    request_key: str | None = None,
    expected_version: str | None = None,
    note: str = "",
    **changes: Any,
) -> Ticket:
    """Change descriptive fields. Recomputes SLA due times when priority, category or
    request time change; moving to another team unassigns an agent who is not in it.
    Writes one ``updated`` event listing each field before and after, with ``note`` (why).

    ``expected_version`` (``version_of`` as the client read it): when the ticket changed
    since, ``PreconditionFailed`` is raised and nothing is saved."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    ticket = _locked(ticket)
    if _already_done(ticket, request_key, EventKind.UPDATED):
        return ticket
    if expected_version is not None and expected_version != version_of(ticket):
        raise PreconditionFailed(
            _("The ticket was changed since you read it (%(version)s is current). Read it again, then retry.")
            % {"version": version_of(ticket)}
        )
    # Cost can be booked after resolution, the rest only while the ticket is open.
    if set(changes) - {"labour_cost", "logistics_cost", "other_cost"}:
        _check(ticket, "update")
    now = timezone.now()
    if "requested_at" in changes and changes["requested_at"] > now:
        raise ApplicationError(_("The request time cannot be in the future."), field="requested_at")
    before, after, fields = {}, {}, []
    for name, value in changes.items():
        old = getattr(ticket, name)
        if old == value:
            continue
        before[name], after[name] = _display(old), _display(value)
        setattr(ticket, name, value)
        fields.append(name)
    if not fields:
        return ticket
    if {"priority", "category", "requested_at", "team"} & set(fields):
        calendar = _apply_sla(ticket)
        fields += ["response_due_at", "resolution_due_at", *working_durations(ticket, calendar)]
    if (
        "team" in fields
        and ticket.assignee
        and not assignable_users(ticket.team).filter(pk=ticket.assignee_id).exists()
    ):
        before["assignee"], after["assignee"] = _user_key(ticket.assignee), None
        ticket.assignee = None
        fields.append("assignee")
    _save(ticket, fields, now)
    _record(
        ticket, EventKind.UPDATED, by, at=now, body=(note or "").strip(), before=before, after=after,
        request_key=request_key,
    )  # fmt: skip
    if "category" in fields:
        hooks.ticket_category_changed.send(ticket=ticket, by=by)
    return ticket


@transaction.atomic
def add_reply(
    *,
    ticket: Ticket | int,
    by: Actor,
    body: str,
    request_key: str | None = None,
    attachments: Sequence[files.Upload] = (),
) -> Ticket:
    """A public reply to the customer. Sets ``first_response_at`` the first time and
    moves a new ticket to open. Writes a ``reply`` event and queues the reply, with its
    attachments, to the customer's e-mail address through the outbox (none without an address)."""
    body = (body or "").strip()
    if not body:
        raise ApplicationError(_("Write the reply first."), field="body")
    files.check(attachments)
    ticket = _locked(ticket)
    if _already_done(ticket, request_key, EventKind.REPLY):
        return ticket
    _check(ticket, "reply")
    now = timezone.now()
    before = {"status": ticket.status}
    fields = ["public_reply_count"]
    ticket.public_reply_count += 1
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        fields.append("first_response_at")
        fields += working_durations(ticket, sla_calendar(ticket))
    if ticket.status == Status.NEW:
        ticket.status = Status.OPEN
        fields.append("status")
    _take(ticket, by, now, fields)
    _save(ticket, fields, now)
    event = _record(ticket, EventKind.REPLY, by, at=now, body=body, before=before, request_key=request_key)
    attached = files.store(ticket=ticket, event=event, by=by, files=attachments)
    emailed = _email_customer(ticket, "ticket_reply", {"body": body}, attached)
    event.after = {"status": ticket.status, "emailed": emailed}
    event.save(update_fields=["after"])
    hooks.customer_contacted.send(ticket=ticket, by=by, at=now)
    return ticket


@transaction.atomic
def log_call(
    *,
    ticket: Ticket | int,
    by: Actor,
    summary: str,
    direction: str = CallDirection.OUTBOUND,
    at: datetime | None = None,
    request_key: str | None = None,
) -> Ticket:
    """A call (or visit) with the customer, logged with a short summary: a public contact like a
    reply, without an e-mail. The first one is the first response, at the call's time ``at``
    (default now). Moves a new ticket to open; writes a ``call`` event."""
    summary = (summary or "").strip()
    if not summary:
        raise ApplicationError(_("Summarise what was said on the call."), field="summary")
    if direction not in CallDirection.values:
        raise ApplicationError(_("Say who called whom."), field="direction")
    ticket = _locked(ticket)
    if _already_done(ticket, request_key, EventKind.CALL):
        return ticket
    _check(ticket, "call")
    now = timezone.now()
    at = at or now
    if at > now:
        raise ApplicationError(_("The call cannot be in the future."), field="at")
    if at < ticket.requested_at - timedelta(minutes=1):
        raise ApplicationError(_("The call cannot be before the customer's request."), field="at")
    at = max(at, ticket.requested_at)  # a time typed to the minute, in the request's own minute
    before = {"status": ticket.status}
    fields = ["public_reply_count"]
    ticket.public_reply_count += 1
    if ticket.first_response_at is None or at < ticket.first_response_at:
        ticket.first_response_at = at
        fields.append("first_response_at")
        fields += working_durations(ticket, sla_calendar(ticket))
    if ticket.status == Status.NEW:
        ticket.status = Status.OPEN
        fields.append("status")
    _take(ticket, by, now, fields)
    _save(ticket, fields, now)
    _record(
        ticket, EventKind.CALL, by, at=now, body=summary, before=before,
        after={"status": ticket.status, "direction": direction, "at": _iso(at)}, request_key=request_key,
    )  # fmt: skip
    hooks.customer_contacted.send(ticket=ticket, by=by, at=at)
    return ticket


@transaction.atomic
def add_attachments(*, ticket: Ticket | int, by: Actor, attachments: Sequence[files.Upload]) -> list[Any]:
    """Files added to the ticket on their own (the API): kept on the ticket, sent to no one."""
    files.check(attachments)
    if not attachments:
        raise ApplicationError(_("Choose at least one file."), field="attachments")
    ticket = _locked(ticket)
    _save(ticket, [], timezone.now())
    return files.store(ticket=ticket, event=None, by=by, files=attachments)


def save_view(*, by: User, name: str, query: str, team: Team | None = None) -> SavedView:
    """Save the queue's filters as ``name`` (again under the same name: replaced); shared with ``team``
    when given (its supervisor or a manager only)."""
    name = " ".join((name or "").split())
    if not name:
        raise ApplicationError(_("Name the view."), field="name")
    if team is not None and not may_share_with(by, team):
        raise ApplicationError(_("Only the team's supervisor or a manager can share a view with it."), field="team")
    defaults = {"query": query, "team": team}
    view, _created = SavedView.objects.update_or_create(owner=by, name=name[:80], defaults=defaults)
    return view


def delete_own(thing: SavedView | CannedReply, *, by: User) -> None:
    """Delete a saved view or a canned reply: only the person who wrote it may, not those it is shared with."""
    if thing.owner_id != getattr(by, "pk", None):
        raise ApplicationError(_("Only the person who wrote it can delete it."))
    thing.delete()


def save_canned_reply(*, by: User, **fields: Any) -> CannedReply:
    """Write a canned reply; shared with ``team`` only by that team's supervisor or a manager."""
    team = fields.get("team")
    if team is not None and not may_share_with(by, team):
        raise ApplicationError(_("Only the team's supervisor or a manager can share a reply with it."), field="team")
    if not (fields.get("body_zh") or "").strip():
        raise ApplicationError(_("Write the Chinese text."), field="body_zh")
    return CannedReply.objects.create(owner=by, **fields)


CUSTOMER_FIELDS = ("name", "email", "phone", "preferred_language", "note")


@transaction.atomic
def update_customer(*, ticket: Ticket | int, by: Actor, request_key: str | None = None, **changes: Any) -> Ticket:
    """Correct the customer's contact details, language or note from one of their tickets. Writes an
    ``updated`` event on that ticket with each detail before and after (the customer's e-mail must stay
    unique: another customer's address is refused)."""
    unknown = set(changes) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ApplicationError(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    ticket = _locked(ticket)
    if _already_done(ticket, request_key, EventKind.UPDATED):
        return ticket
    customer = Customer.objects.select_for_update().get(pk=ticket.customer_id)
    email = (changes.get("email") or "").strip()
    if email and Customer.objects.filter(email__iexact=email).exclude(pk=customer.pk).exists():
        raise ApplicationError(_("Another customer has the e-mail address %s.") % email, field="email")
    if "name" in changes and not (changes["name"] or "").strip():
        raise ApplicationError(_("Enter the customer's name."), field="name")
    before, after = {}, {}
    for name, value in changes.items():
        value = (value or "").strip()
        if getattr(customer, name) != value:
            before[f"customer_{name}"], after[f"customer_{name}"] = getattr(customer, name), value
            setattr(customer, name, value)
    if not after:
        return ticket
    customer.save(update_fields=[key.removeprefix("customer_") for key in after])
    now = timezone.now()
    _save(ticket, [], now)
    _record(ticket, EventKind.UPDATED, by, at=now, before=before, after=after, request_key=request_key)
    return ticket


@transaction.atomic
def link_tickets(*, ticket: Ticket | int, other: Ticket, by: Actor, kind: str = LinkKind.RELATED) -> TicketLink:
    """Link ``ticket`` to ``other`` (related, or part of the incident ``other``); a ``linked`` event on
    both. Linking twice, or a ticket to itself, is refused."""
    ticket = _locked(ticket)
    if ticket.pk == other.pk:
        raise ApplicationError(_("A ticket cannot be linked to itself."), field="reference")
    if TicketLink.objects.filter(
        Q(from_ticket=ticket, to_ticket=other) | Q(from_ticket=other, to_ticket=ticket)
    ).exists():
        raise ApplicationError(_("These tickets are already linked."), field="reference")
    now = timezone.now()
    link = TicketLink.objects.create(from_ticket=ticket, to_ticket=other, kind=kind, created_by=by, created_at=now)
    for one, two in ((ticket, other), (other, ticket)):
        _save(one, [], now)
        _record(one, EventKind.LINKED, by, at=now, after={"linked": two.reference, "link": kind})
    return link


#: What was said and written on a duplicate, moved to the ticket it is merged into.
CONVERSATION_EVENTS = (EventKind.REPLY, EventKind.CALL, EventKind.NOTE, EventKind.RECEIVED)


@transaction.atomic
def merge_tickets(*, ticket: Ticket | int, into: Ticket | int, by: Actor, note: str = "") -> Ticket:
    """Merge the duplicate ``ticket`` into ``into`` (an open ticket): the duplicate's conversation
    (replies, calls, notes, the customer's mails) and attachments move to ``into``, whose timeline
    gets a ``merged`` event with the duplicate's description; the duplicate is closed, pointing to
    ``into`` (a ``merged_into`` event), and counts in no KPI. Its contacts with the customer count
    on ``into``. ``hooks.ticket_merged`` moves what other apps keep (the survey, the complaint) or
    refuses the merge. Returns ``into``."""
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    into_pk = into.pk if isinstance(into, Ticket) else into
    if pk == into_pk:
        raise ApplicationError(_("A ticket cannot be merged into itself."), field="into")
    locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[pk, into_pk]).order_by("pk")}
    duplicate, target = locked[pk], locked[into_pk]
    if duplicate.merged_into_id is not None:
        raise ApplicationError(_("This ticket was already merged into another."), field="into")
    if target.merged_into_id is not None:
        raise ApplicationError(
            _("%(ticket)s was itself merged into another ticket; merge into that one.") % {"ticket": target.reference},
            field="into",
        )
    if duplicate.status == Status.CLOSED:
        raise ApplicationError(_("A closed ticket is not merged; link it instead."), field="into")
    if target.status not in OPEN_STATUSES:
        raise ApplicationError(
            _("Merge into an open ticket: %(ticket)s is %(status)s.")
            % {"ticket": target.reference, "status": target.get_status_display()},
            field="into",
        )
    now = timezone.now()
    moved = TicketEvent.objects.filter(ticket=duplicate, kind__in=CONVERSATION_EVENTS)
    moved_count = moved.update(ticket=target, request_key=None)
    merged = _record(
        target, EventKind.MERGED, by, at=now, body=duplicate.description,
        after={"duplicate": duplicate.reference, "duplicate_subject": duplicate.subject, "moved_events": moved_count},
    )  # fmt: skip
    # Files of the duplicate's own events move with them; those of the events it keeps (its
    # creation) hang on the merge.
    files_moved = duplicate.attachments.update(ticket=target)
    target.attachments.filter(event__ticket=duplicate).update(event=merged)
    merged.after["moved_files"] = files_moved
    merged.save(update_fields=["after"])
    hooks.ticket_merged.send(duplicate=duplicate, into=target, by=by)
    _withdraw_repeat(duplicate, now)

    target.public_reply_count += duplicate.public_reply_count
    _save(target, ["public_reply_count"], now)
    before = {"status": duplicate.status, "merged_into": None}
    duplicate.status, duplicate.merged_into = Status.CLOSED, target
    duplicate.resolved_at = duplicate.resolved_at or now
    duplicate.closed_at, duplicate.paused_since = now, None
    _save(duplicate, ["status", "merged_into", "resolved_at", "closed_at", "paused_since"], now)
    _record(duplicate, EventKind.MERGED_INTO, by, at=now, body=(note or "").strip(), before=before,
            after={"status": Status.CLOSED, "merged_into": target.reference})  # fmt: skip
    return target


def _withdraw_repeat(duplicate: Ticket, now: datetime) -> None:
    """A duplicate counted as the customer coming back (``_count_repeat``) is the same contact, not
    a return: its count comes off the earlier ticket, whose ``repeated`` event says it was merged."""
    for event in TicketEvent.objects.filter(
        ticket__customer_id=duplicate.customer_id, kind=EventKind.REPEATED, after__repeated_by=duplicate.reference
    ).exclude(after__has_key="withdrawn"):
        earlier = _locked(event.ticket_id)
        earlier.repeat_count = max(0, earlier.repeat_count - 1)
        _save(earlier, ["repeat_count"], now)
        event.after["withdrawn"] = "merged"
        event.save(update_fields=["after"])


def surviving(ticket: Ticket) -> Ticket:
    """The ticket that carries on ``ticket``: itself, or the one it was merged into (followed on)."""
    while ticket.merged_into_id is not None:
        ticket = Ticket.objects.select_related("customer").get(pk=ticket.merged_into_id)
    return ticket


#: At most this many tags on a ticket; each at most ``TAG_LENGTH`` characters.
MAX_TAGS, TAG_LENGTH = 10, 50
TAG_SEPARATORS = re.compile(r"[,，;；、\n]+")


def parse_tags(text: str) -> list[str]:
    """Tags as typed, separated by commas (either width), semicolons or 、; blanks and repeats dropped."""
    seen: dict[str, str] = {}
    for name in TAG_SEPARATORS.split(text or ""):
        name = " ".join(name.split())
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())


@transaction.atomic
def set_tags(*, ticket: Ticket | int, by: Actor, names: Sequence[str]) -> Ticket:
    """Give the ticket exactly these tags (an existing tag is reused whatever its case). Writes an
    ``updated`` event with the tags before and after."""
    if len(names) > MAX_TAGS:
        raise ApplicationError(_("At most %(n)d tags on a ticket.") % {"n": MAX_TAGS}, field="tags")
    too_long = [name for name in names if len(name) > TAG_LENGTH]
    if too_long:
        raise ApplicationError(
            _("A tag may be at most %(n)d characters: %(tag)s") % {"n": TAG_LENGTH, "tag": too_long[0]}, field="tags"
        )
    ticket = _locked(ticket)
    before = sorted(ticket.tags.values_list("name", flat=True), key=str.lower)
    tags = []
    for name in names:
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(name=name)
            except IntegrityError:  # created a moment ago by someone else
                tag = Tag.objects.get(name__iexact=name)
        tags.append(tag)
    after = sorted((tag.name for tag in tags), key=str.lower)
    if after == before:
        return ticket
    ticket.tags.set(tags)
    now = timezone.now()
    _save(ticket, [], now)
    _record(ticket, EventKind.UPDATED, by, at=now, before={"tags": ", ".join(before)}, after={"tags": ", ".join(after)})
    return ticket


def add_tag(*, ticket: Ticket | int, by: Actor, name: str) -> Ticket:
    """One more tag on the ticket (bulk work)."""
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    current = list(Ticket.objects.get(pk=pk).tags.values_list("name", flat=True))
    return set_tags(ticket=pk, by=by, names=parse_tags(", ".join([*current, name])))


def acknowledge_request(ticket: Ticket) -> bool:
    """Tell the customer that their e-mail opened ``ticket``, with its reference (an automatic reply,
    in their language). False when they have no address."""
    return _email_customer(ticket, "ticket_received", {})


def known_correspondents(ticket: Ticket) -> set[str]:
    """Addresses that may write on the ticket as the customer: theirs, and those the customer
    copied in (Cc) on their own mails to the desk about it. Lower case."""
    known = {ticket.customer.email.lower()} if ticket.customer.email else set()
    for event in ticket.events.filter(after__has_key="cc").only("after"):
        known.update(address.lower() for address in event.after.get("cc") or [])
    return known


@transaction.atomic
def receive_message(
    *,
    ticket: Ticket | int,
    body: str,
    at: datetime,
    message_id: str,
    sender: str,
    cc: Sequence[str] = (),
    reopen_days: int = 14,
    attachments: Sequence[files.Upload] = (),
    accepted_by: Actor = None,
) -> Ticket | None:
    """The customer wrote to the desk about ``ticket`` (an e-mail answering it): a ``received``
    event in the timeline, as theirs, with the attachments. A pending ticket goes back to open (its
    wait for the customer ends); a resolved or closed one reopens when it was resolved at most
    ``reopen_days`` ago. Returns None, changing nothing, when it is older: the caller opens a new
    ticket that follows it. ``accepted_by``: the agent who let through a mail from another sender.
    A mail about a merged duplicate goes to the ticket it was merged into."""
    ticket = _locked(ticket)
    if ticket.merged_into_id is not None:
        ticket = _locked(surviving(ticket))
    now = timezone.now()
    if ticket.status not in OPEN_STATUSES:
        resolved = ticket.resolved_at or ticket.closed_at
        if resolved is None or resolved < now - timedelta(days=reopen_days):
            return None
        ticket = _transition(
            ticket, "reopen", EventKind.REOPENED, None, "", None, {"resolved_at": None, "closed_at": None},
            counters=("reopen_count",),
        )  # fmt: skip
    elif ticket.status == Status.PENDING:
        ticket = _transition(ticket, "resume", EventKind.RESUMED, None, "", None, {})
    else:
        _save(ticket, [], now)
    after: dict[str, Any] = {
        "message_id": message_id, "from": sender, "cc": [a.lower() for a in cc], "received_at": _iso(min(at, now)),
    }  # fmt: skip
    if accepted_by is not None:
        after["accepted_by"] = _user_key(accepted_by)
    # In the timeline when the desk took it in: the order of the conversation as the desk saw it.
    event = _record(ticket, EventKind.RECEIVED, None, at=now, body=(body or "").strip(), after=after)
    files.store(ticket=ticket, event=event, by=None, files=attachments)
    return ticket


@transaction.atomic
def add_note(
    *,
    ticket: Ticket | int,
    by: Actor,
    body: str,
    request_key: str | None = None,
    attachments: Sequence[files.Upload] = (),
) -> Ticket:
    """An internal note, with its attachments: never sets ``first_response_at``, never reaches the customer."""
    body = (body or "").strip()
    if not body:
        raise ApplicationError(_("Write the note first."), field="body")
    files.check(attachments)
    ticket = _locked(ticket)
    if _already_done(ticket, request_key, EventKind.NOTE):
        return ticket
    now = timezone.now()
    _save(ticket, [], now)
    event = _record(ticket, EventKind.NOTE, by, at=now, body=body, request_key=request_key)
    files.store(ticket=ticket, event=event, by=by, files=attachments)
    return ticket


@transaction.atomic
def assign_ticket(*, ticket: Ticket | int, by: Actor, assignee: Actor, request_key: str | None = None) -> Ticket:
    """Give the ticket to ``assignee`` (a member or the supervisor of its team).

    Moving it from one agent to another counts a reassignment; a first assignment
    does not. Writes an ``assigned`` event."""
    ticket = _locked(ticket)
    if _already_done(ticket, request_key, EventKind.ASSIGNED):
        return ticket
    _check(ticket, "assign")
    if assignee is None:
        raise ApplicationError(_("Choose who takes the ticket."), field="assignee")
    _check_assignee(ticket.team, assignee)
    if ticket.assignee_id == assignee.pk:
        raise ApplicationError(_("The ticket is already assigned to %s.") % assignee, field="assignee")
    now = timezone.now()
    previous = ticket.assignee
    fields = ["assignee"]
    if previous is not None:
        ticket.reassign_count += 1
        fields.append("reassign_count")
    ticket.assignee = assignee
    if ticket.status == Status.NEW:
        ticket.status = Status.OPEN
        fields.append("status")
    _save(ticket, fields, now)
    _record(
        ticket,
        EventKind.ASSIGNED,
        by,
        at=now,
        before={"assignee": _user_key(previous)},
        after={"assignee": _user_key(assignee)},
        request_key=request_key,
    )
    return ticket


#: Stands for "the time of the transition" in a ``stamp`` mapping.
_NOW: Any = object()


def _transition(
    ticket: Ticket | int,
    action: str,
    kind: str,
    by: Actor,
    body: str,
    request_key: str | None,
    stamp: dict[str, datetime | None],
    counters: tuple[str, ...] = (),
) -> Ticket:
    ticket = _locked(ticket)
    if _already_done(ticket, request_key, kind):
        return ticket
    _check(ticket, action)
    now = timezone.now()
    target = TRANSITIONS[action][1]
    assert target is not None, action  # every transition through here changes the status
    before: dict[str, Any] = {"status": ticket.status}
    after: dict[str, Any] = {"status": target}
    fields = ["status"]
    ticket.status = target
    for name, value in stamp.items():
        value = now if value is _NOW else value
        before[name], after[name] = _iso(getattr(ticket, name)), _iso(value)
        setattr(ticket, name, value)
        fields.append(name)
    for name in counters:
        setattr(ticket, name, getattr(ticket, name) + 1)
        fields.append(name)
    _take(ticket, by, now, fields)
    fields += _run_clocks(ticket, before["status"], now, after)
    _save(ticket, fields, now)
    _record(ticket, kind, by, at=now, body=body, before=before, after=after, request_key=request_key)
    return ticket


@transaction.atomic
def mark_pending(*, ticket: Ticket | int, by: Actor, note: str = "", request_key: str | None = None) -> Ticket:
    """Waiting on the customer. From new or open: the resolution clock stops until the customer
    answers (``resume_ticket``) or the ticket is resolved. Writes a ``pending`` event."""
    return _transition(ticket, "pending", EventKind.PENDING, by, note.strip(), request_key, {})


@transaction.atomic
def resume_ticket(*, ticket: Ticket | int, by: Actor, note: str = "", request_key: str | None = None) -> Ticket:
    """The customer answered: back to open, the paused working time added to the resolution target.
    Writes a ``resumed`` event with the minutes paused."""
    return _transition(ticket, "resume", EventKind.RESUMED, by, (note or "").strip(), request_key, {})


@transaction.atomic
def resolve_ticket(*, ticket: Ticket | int, by: Actor, note: str, request_key: str | None = None) -> Ticket:
    """Resolved, with a resolution note. Sets ``resolved_at``. Writes a ``resolved`` event and
    sends ``hooks.ticket_resolved`` (the satisfaction survey invitation, config/reactions.py)."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError(_("Describe how the problem was resolved."), field="note")
    ticket = _transition(ticket, "resolve", EventKind.RESOLVED, by, note, request_key, {"resolved_at": _NOW})
    hooks.ticket_resolved.send(ticket=ticket, by=by)
    return ticket


@transaction.atomic
def close_ticket(*, ticket: Ticket | int, by: Actor, note: str = "", request_key: str | None = None) -> Ticket:
    """Closed after resolution. Sets ``closed_at``. Writes a ``closed`` event."""
    return _transition(ticket, "close", EventKind.CLOSED, by, (note or "").strip(), request_key, {"closed_at": _NOW})


@transaction.atomic
def reopen_ticket(*, ticket: Ticket | int, by: Actor, reason: str, request_key: str | None = None) -> Ticket:
    """Back to open from resolved or closed: counts a reopen and clears the resolution
    and closing times (the event keeps them). Writes a ``reopened`` event."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the ticket is reopened."), field="reason")
    return _transition(
        ticket,
        "reopen",
        EventKind.REOPENED,
        by,
        reason,
        request_key,
        {"resolved_at": None, "closed_at": None},
        counters=("reopen_count",),
    )
