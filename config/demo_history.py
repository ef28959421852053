"""The demo's after-sales history beyond the tickets themselves (``manage.py seed_demo``): follow-up
calls to customers without e-mail, the follow-up tickets of unhappy answers, and complaints worked the
way a department that keeps seed 003's rules works them — handled within hours, escalated where the
ladder says so, closed with the customer's confirmation and a root cause, a few left too long.

Everything is written as past events in bulk, and in the state the desk's own sweeps would have left
it: the first escalation sweep after seeding has nothing to catch up on.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from complaints.models import (
    CompensationKind,
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
    ConfirmationChannel,
    Level,
    RootCause,
    Severity,
    SeverityRule,
    policy_for,
    severity_for_answer,
)
from complaints.services import handler_for
from surveys.models import CallOutcome, FollowUpCall, SurveyChannel, SurveyResponse, SurveyTemplate, detractor
from tickets.calendars import calendar_for
from tickets.models import Category, Channel, EventKind, Priority, Status, Ticket, TicketEvent
from tickets.services import apply_due_times, format_reference, working_durations
from tickets.sla import SlaLookup
from tickets.worktime import add_working_time

SCALE_KEYS = ("attitude", "speed", "professionalism", "problem_solving", "helpfulness")
#: root cause (English name) → share of complaints, and what was done about it
CAUSES = {
    "Service attitude": (22, "向客户当面道歉,对当事客服进行服务礼仪辅导"),
    "Slow response or handling": (20, "优先派单,承诺 24 小时内上门,并每日回电告知进度"),
    "Repair quality": (18, "安排高级技师二次上门免费返修"),
    "Product quality": (14, "为客户更换新机,故障件返厂分析"),
    "Parts and logistics": (10, "加急调配配件,顺丰到付"),
    "Prices and charges": (8, "核对收费标准,退还多收费用"),
    "Poor communication": (6, "指定专人跟进,每次上门前电话确认时间"),
    "Other": (2, "与客户沟通后按客户意见处理"),
}
CONFIRMATIONS = ["问题已解决,对处理结果满意", "师傅重新上门后已修好,谢谢", "接受道歉和补偿方案", "新机运行正常,满意"]


def answers_for(rng: random.Random, overall: int) -> dict:
    nps = min(10, max(0, {5: 9, 4: 8, 3: 6, 2: 3, 1: 1}[overall] + rng.choice([-1, 0, 0, 1])))
    scale = {key: min(5, max(1, overall + rng.choice([-1, 0, 0, 0, 1]))) for key in SCALE_KEYS}
    return {**scale, "overall": overall, "nps": nps}


def phone_follow_ups(rng: random.Random, teams, template: SurveyTemplate, now: datetime) -> tuple[int, int]:
    """Follow-up calls (电话回访) to customers without an e-mail address: most answer on the first or
    second call; some never pick up, refuse or gave a wrong number. Recent ones still wait in the queue."""
    tickets = list(
        Ticket.objects.filter(team__in=teams, resolved_at__lt=now - timedelta(days=2), customer__email="")
        .filter(survey_responses__isnull=True, follow_up_calls__isnull=True)
        .select_related("team")
        .prefetch_related("team__members")
    )
    calls, responses = [], []
    for ticket in tickets:
        agents = list(ticket.team.members.all())
        if ticket.resolved_at is None or not agents:
            continue
        at = ticket.resolved_at + timedelta(days=1)
        for _attempt in range(3):
            at = timezone.localtime(at).replace(hour=rng.randrange(9, 17), minute=rng.randrange(60))
            if at >= now:
                break
            agent = rng.choice(agents)
            outcome = rng.choices(list(CallOutcome), weights=[70, 20, 6, 4])[0]
            calls.append(FollowUpCall(ticket=ticket, agent=agent, at=at, outcome=outcome))
            if outcome == CallOutcome.ANSWERED:
                overall = rng.choices([5, 4, 3, 2, 1], weights=[50, 32, 10, 5, 3])[0]
                answers = answers_for(rng, overall)
                responses.append(SurveyResponse(
                    ticket=ticket, template=template, submitted_at=at, overall=overall, nps=answers["nps"],
                    answers=answers, channel=SurveyChannel.PHONE, taken_by=agent,
                ))  # fmt: skip
            if outcome != CallOutcome.NO_ANSWER:
                break
            at += timedelta(days=rng.choice([1, 1, 2]))
    FollowUpCall.objects.bulk_create(calls, batch_size=1000)
    SurveyResponse.objects.bulk_create(responses, batch_size=1000)
    return len(calls), len(responses)


def follow_up_tickets(sla: SlaLookup, teams, now: datetime) -> int:
    """The service-recovery ticket (闭环) of every unhappy answer without one: a complaint for the
    team's supervisor, as ``surveys.services.open_follow_up`` opens it."""
    unhappy = [
        r for r in SurveyResponse.objects.filter(ticket__team__in=teams, follow_up__isnull=True)
        .filter(Q(overall__lte=2) | Q(nps__lte=6)).select_related("ticket", "ticket__team", "ticket__customer")
        if detractor(r.overall, r.nps)
    ]  # fmt: skip
    if not unhappy:
        return 0
    category = Category.objects.get(slug="complaint")
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('ticket_reference_seq') FROM generate_series(1, %s)", [len(unhappy)])
        numbers = [row[0] for row in cursor.fetchall()]
    made = []
    for response, number in zip(unhappy, numbers, strict=True):
        original, at = response.ticket, response.submitted_at + timedelta(minutes=1)
        ticket = Ticket(
            reference=format_reference(number, at),
            subject=f"客户回访不满意:{original.reference} {original.subject}"[:200],
            description=f"客户对 {original.reference} 的满意度回访给出了不满意的评价(总体 {response.overall or '—'}/5,"
            f"推荐 {response.nps if response.nps is not None else '—'}/10)。",
            customer=original.customer, category=category, channel=Channel.WEB, priority=Priority.HIGH,
            team=original.team, assignee=original.team.supervisor, requested_at=at, created_at=at, updated_at=at,
            status=Status.NEW,
        )  # fmt: skip
        policy = sla.policy(ticket)
        apply_due_times(ticket, policy, sla.clock(ticket, policy))
        made.append((response, ticket))
    Ticket.objects.bulk_create([ticket for _, ticket in made], batch_size=500)
    TicketEvent.objects.bulk_create([
        TicketEvent(ticket=ticket, kind=EventKind.CREATED, actor=None, at=ticket.created_at,
                    after={"status": Status.NEW, "assignee": ticket.assignee.username if ticket.assignee else None})
        for _, ticket in made
    ])  # fmt: skip
    for response, ticket in made:
        response.follow_up = ticket
    SurveyResponse.objects.bulk_update([response for response, _ in made], ["follow_up"], batch_size=500)
    return len(made)


def _lognormal_hours(rng: random.Random, median: float, spread: float = 0.8) -> timedelta:
    return timedelta(hours=rng.lognormvariate(math.log(median), spread))


def complaint_history(rng: random.Random, now: datetime) -> dict[str, int]:
    """Every complaint without a history gets one: its severity (by the rules for unhappy answers),
    a first handling within hours, the ladder climbed exactly where the sweep would have climbed it,
    and — for those old enough — a close with the customer's confirmation, a root cause and a remedy."""
    causes = {cause.name_en: cause for cause in RootCause.objects.filter(active=True)}
    weights = [CAUSES.get(name, (1, ""))[0] for name in causes]
    answers = {r.follow_up_id: r for r in SurveyResponse.objects.filter(follow_up__isnull=False)}
    complaints = list(
        Complaint.objects.filter(first_handled_at__isnull=True)
        .select_related("ticket", "ticket__team", "ticket__team__supervisor", "ticket__customer", "ticket__assignee")
    )  # fmt: skip
    rules = list(SeverityRule.objects.all())
    manager = handler_for(complaints[0].ticket, Level.MANAGER) if complaints else None  # the same for every ticket
    events: list[ComplaintEvent] = []
    resolve: list[tuple[Ticket, datetime, str]] = []
    counts = {"closed": 0, "escalated": 0, "delayed": 0}
    for complaint in complaints:
        ticket, opened = complaint.ticket, complaint.opened_at
        answer = answers.get(ticket.pk)
        complaint.severity = (
            severity_for_answer(answer.overall, answer.nps, rules) if answer
            else rng.choices([Severity.MINOR, Severity.MAJOR, Severity.CRITICAL], weights=[70, 25, 5])[0]
        )  # fmt: skip
        resolve_within, level_window, update_window = policy_for(complaint.severity)
        calendar = calendar_for(ticket)
        complaint.due_at = add_working_time(opened, resolve_within, calendar)
        handler: dict[int, Any] = {
            Level.AGENT: handler_for(ticket, Level.AGENT), Level.SUPERVISOR: handler_for(ticket, Level.SUPERVISOR),
            Level.MANAGER: manager,
        }  # fmt: skip
        complaint.handler = handler[Level.AGENT]
        holders = [(opened, complaint.handler)]  # who handled it from when on
        events.append(ComplaintEvent(complaint=complaint, kind=ComplaintEventKind.OPENED, actor=None, at=opened,
                                     after={"severity": complaint.severity, "source": complaint.source}))  # fmt: skip
        first = opened + _lognormal_hours(rng, {"critical": 0.5, "major": 1.5}.get(complaint.severity, 3))
        first = min(first, now - timedelta(minutes=5))
        slow = rng.random() < 0.07  # the handler let it lie: the delay taboo
        age = now - opened
        closes = age > timedelta(days=4) and rng.random() < 0.97
        # (bulk-opened complaints of closed tickets start closed: the history below decides)
        complaint.status, complaint.closed_at = ComplaintStatus.OPEN, None
        if not closes and ticket.status in (Status.RESOLVED, Status.CLOSED):
            complaint.status = ComplaintStatus.AWAITING_CONFIRMATION  # fixed; the customer has not confirmed
        closed_at = None
        if closes:  # most within one level's window; some climb the ladder first; a few overrun the deadline
            windows = rng.choices([(0.15, 0.9), (1.05, 1.9), (2.05, 2.8), (3.05, 3.6)], weights=[80, 12, 6, 2])[0]
            closed_at = add_working_time(opened, level_window * rng.uniform(*windows), calendar)
            closed_at = max(min(closed_at, now - timedelta(hours=1)), first + timedelta(minutes=30))
        end = closed_at or now
        # The ladder, as escalate_overdue climbs it: a level held too long, or the deadline passed.
        complaint.level, complaint.level_since, complaint.escalation_count = Level.AGENT, opened, 0
        while complaint.level < Level.MANAGER:
            level_due = add_working_time(complaint.level_since, level_window, calendar)
            at = min(level_due, complaint.due_at) if complaint.level_since < complaint.due_at else level_due
            if rng.random() < 0.06 and complaint.level == Level.AGENT:  # escalated by hand, early
                at = min(at, first + timedelta(hours=1))
            if at >= end:
                break
            before = {"level": complaint.level, "handler": _name(complaint.handler)}
            complaint.level += 1
            complaint.handler = handler[complaint.level]
            holders.append((at, complaint.handler))
            complaint.level_since, complaint.escalation_count = at, complaint.escalation_count + 1
            automatic = at in (level_due, complaint.due_at)
            events.append(ComplaintEvent(
                complaint=complaint, kind=ComplaintEventKind.ESCALATED, actor=None if automatic else complaint.handler,
                at=at, reason="自动升级:在本级停留超时。" if automatic else "客户要求更换处理人员(一换当事人)。",
                before=before, after={"level": complaint.level, "handler": _name(complaint.handler),
                                      "automatic": automatic},
            ))  # fmt: skip
        complaint.level_due_at = add_working_time(complaint.level_since, level_window, calendar)
        if complaint.level > Level.AGENT:
            counts["escalated"] += 1
        complaint.first_handled_at = first
        handled = first
        if not closes:  # still being worked: handled lately, unless this is one of the slow ones
            recent = now - update_window * rng.uniform(0.05, 0.7)
            handled = max(first, recent) if not slow else first
        complaint.handled_at = handled
        complaint.delay_due_at = add_working_time(handled, update_window, calendar)
        if slow or (not closes and complaint.delay_due_at < now):
            late = add_working_time(first, update_window, calendar)
            if late < end:
                complaint.delayed_at = late
                counts["delayed"] += 1
                events.append(ComplaintEvent(complaint=complaint, kind=ComplaintEventKind.DELAYED, actor=None,
                                             at=late, after={"last_handled": first.isoformat()}))  # fmt: skip
        if closes or rng.random() < 0.6:
            name = rng.choices(list(causes), weights=weights)[0]
            complaint.root_cause = causes[name]
            complaint.corrective_action = CAUSES.get(name, (0, "已按客户意见处理"))[1]
            if rng.random() < 0.3:
                complaint.compensation_kind = rng.choice([CompensationKind.VOUCHER, CompensationKind.FREE_SERVICE,
                                                          CompensationKind.REFUND])  # fmt: skip
                complaint.compensation_amount = Decimal(rng.choice([50, 100, 200, 300]))
            noted = first + timedelta(minutes=20)
            events.append(ComplaintEvent(complaint=complaint, kind=ComplaintEventKind.UPDATED,
                                         actor=[who for since, who in holders if since <= noted][-1], at=noted,
                                         after={"root_cause": str(complaint.root_cause),
                                                "corrective_action": complaint.corrective_action}))  # fmt: skip
            if complaint.status == ComplaintStatus.OPEN:
                complaint.status = ComplaintStatus.IN_PROGRESS
        if closed_at is not None:
            counts["closed"] += 1
            confirmed = closed_at - timedelta(minutes=rng.randrange(5, 60))
            complaint.confirmation_channel = rng.choices(list(ConfirmationChannel), weights=[75, 10, 15])[0]
            complaint.confirmation_contact = f"{ticket.customer.name}本人"
            complaint.confirmation_note = rng.choice(CONFIRMATIONS)
            complaint.confirmed_at, complaint.confirmed_by = confirmed, complaint.handler
            complaint.status, complaint.closed_at, complaint.handled_at = ComplaintStatus.CLOSED, closed_at, confirmed
            events += [
                ComplaintEvent(complaint=complaint, kind=ComplaintEventKind.CONFIRMATION, actor=complaint.handler,
                               at=confirmed, reason=complaint.confirmation_note,
                               after={"channel": complaint.confirmation_channel,
                                      "contact": complaint.confirmation_contact}),
                ComplaintEvent(complaint=complaint, kind=ComplaintEventKind.CLOSED, actor=complaint.handler,
                               at=closed_at, after={"confirmed_by": complaint.confirmation_channel}),
            ]  # fmt: skip
            if ticket.status in (Status.NEW, Status.OPEN, Status.PENDING) or ticket.resolved_at is None:
                resolve.append((ticket, closed_at, complaint.confirmation_note))
        complaint.updated_at = max(e.at for e in events if e.complaint is complaint)
    Complaint.objects.bulk_update(complaints, [
        "severity", "due_at", "handler", "level", "level_since", "level_due_at", "escalation_count",
        "first_handled_at", "handled_at", "delay_due_at", "delayed_at", "root_cause", "corrective_action",
        "compensation_kind", "compensation_amount", "status", "confirmation_channel", "confirmation_contact",
        "confirmation_note", "confirmed_at", "confirmed_by", "closed_at", "updated_at",
    ], batch_size=500)  # fmt: skip
    ComplaintEvent.objects.filter(complaint__in=complaints).delete()
    ComplaintEvent.objects.bulk_create(events, batch_size=1000)
    _resolve(resolve)
    return {"complaints": len(complaints), **counts}


def _resolve(resolve: list[tuple[Ticket, datetime, str]]) -> None:
    """The tickets whose complaint closed the loop, resolved with the confirmation (as closing does)."""
    sla = SlaLookup()
    events = []
    for ticket, at, note in resolve:
        before = ticket.status
        if ticket.first_response_at is None:
            ticket.first_response_at = min(at, ticket.requested_at + timedelta(minutes=30))
            ticket.public_reply_count = max(ticket.public_reply_count, 1)
        ticket.status, ticket.resolved_at, ticket.updated_at = Status.RESOLVED, at, at
        ticket.paused_since = None
        working_durations(ticket, sla.clock(ticket))
        events.append(TicketEvent(ticket=ticket, kind=EventKind.RESOLVED, actor=ticket.assignee, at=at,
                                  body=f"投诉已关闭;客户已确认问题解决:{note}", before={"status": before},
                                  after={"status": Status.RESOLVED}))  # fmt: skip
    Ticket.objects.bulk_update(
        [ticket for ticket, _, _ in resolve],
        ["status", "resolved_at", "updated_at", "first_response_at", "public_reply_count", "paused_since",
         "first_response_working_seconds", "resolution_working_seconds"], batch_size=500,
    )  # fmt: skip
    TicketEvent.objects.bulk_create(events, batch_size=1000)


def _name(user) -> str | None:
    return user.get_username() if user else None
