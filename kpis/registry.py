"""The one list of KPIs (seed 004; SPEC §4). The engine's SQL, the drill-down lists, the
dashboard, the export, the API and the tests all read these definitions.

A KPI counts rows of a *source* (tickets by request time, survey answers by answer
time, survey invitations by sending time, or tickets open at a period's end), sliced
by period and dimension. Its numerator and denominator are Django ``Q`` objects on
that source: the engine compiles them into ``FILTER (WHERE …)`` clauses, and the
drill-down applies the very same ``Q`` to the ticket list. Adding a KPI is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Q
from django.utils.translation import gettext as _

from complaints.taboos import buck_q, delay_q, perfunctory_q
from config.i18n import in_language

RESOLVED = ("resolved", "closed")


@dataclass(frozen=True)
class KPI:
    key: str
    name_zh: str
    name_en: str
    #: percent, hours, count or money
    unit: str
    #: "higher", "lower", or None for a trend without a target
    better: str | None
    #: default target (admin → KPI targets overrides it, per team if wanted)
    target: float | None
    #: tickets, responses, invitations or backlog (see SOURCES)
    source: str
    #: ratio: 100·num/den · duration: mean of ``measure`` (hours) over den · nps: 100·(num − negative)/den.
    #: A duration's measure is (end, start) timestamps, or one field that holds seconds (working time,
    #: stored on the ticket when it happens).
    #: sum: Σ ``measure`` over den · count: den
    kind: str
    denominator: Q = field(default_factory=Q)
    numerator: Q | None = None
    negative: Q | None = None
    #: duration: (end field, start field); sum: the fields added up
    measure: tuple[str, ...] = ()
    #: what the figure counts, in words, on its tile (where two figures could be mistaken for each other)
    note_zh: str = ""
    note_en: str = ""

    @property
    def note(self) -> str:
        return in_language(self.note_zh, self.note_en)

    @property
    def name(self) -> str:
        return in_language(self.name_zh, self.name_en)

    @property
    def has_numerator(self) -> bool:
        return self.numerator is not None


@dataclass(frozen=True)
class Source:
    model: str
    #: the time that places a row in a period
    anchor: str
    #: how to reach the ticket's fields from this source ("" for tickets)
    ticket_path: str
    #: how to reach this source from a ticket, for the drill-down list ("" for tickets)
    from_ticket: str
    #: slices only this source has: (dimension, field on the source)
    extra_dimensions: tuple[tuple[str, str], ...] = ()


SOURCES = {
    "tickets": Source("tickets.Ticket", "requested_at", "", ""),
    "responses": Source(
        "surveys.SurveyResponse", "submitted_at", "ticket__", "survey_responses__", (("via", "channel"),)
    ),
    "invitations": Source("surveys.SurveyInvitation", "created_at", "ticket__", "survey__"),
    "backlog": Source("tickets.Ticket", "requested_at", "", ""),
    "complaints": Source(
        "complaints.Complaint", "opened_at", "ticket__", "complaint__", (("root_cause", "root_cause_id"),)
    ),
}

#: dimension → the ticket field it slices by (every source has these)
DIMENSION_FIELDS = {
    "team": "team_id",
    "agent": "assignee_id",
    "category": "category_id",
    "channel": "channel",
    "priority": "priority",
}
#: the source-specific dimensions, as reached from a ticket (for the drill-down lists)
EXTRA_DIMENSION_TICKET_FIELDS = {"root_cause": "complaint__root_cause_id", "via": "survey_responses__channel"}


def source_dimensions(source_key: str) -> dict[str, str]:
    """dimension → path from the source's rows, in GROUPING() order."""
    source = SOURCES[source_key]
    dimensions = {name: source.ticket_path + field for name, field in DIMENSION_FIELDS.items()}
    dimensions.update(dict(source.extra_dimensions))
    return dimensions


_resolved = Q(status__in=RESOLVED)

KPIS: list[KPI] = [
    KPI("first_response_time", "服务响应时间(工作时间)", "First response time (working time)", "hours", "lower", 2,
        "tickets", "duration", denominator=Q(first_response_working_seconds__isnull=False),
        measure=("first_response_working_seconds",)),
    KPI("resolution_rate", "服务解决率", "Resolution rate", "percent", "higher", 90, "tickets", "ratio",
        numerator=_resolved),
    KPI("csat", "客户满意度(回访答卷)", "Customer satisfaction (CSAT, of answers)", "percent", "higher", 95,
        "responses", "ratio", denominator=Q(overall__isnull=False), numerator=Q(overall__gte=4),
        note_zh="满意的答卷 ÷ 回答了满意度问题的答卷(邮件与电话回访);未回答的客户不计入",
        note_en="satisfied answers ÷ answers to the satisfaction question (e-mail and phone); "
                "customers who did not answer are left out"),
    KPI("csat_served", "客户满意度(服务客户数)", "Customer satisfaction (of customers served)", "percent", "higher",
        None, "tickets", "ratio", denominator=_resolved, numerator=_resolved & Q(survey_responses__overall__gte=4),
        note_zh="满意客户数 ÷ 服务客户数(已解决工单);未回答回访的客户计为不确定——两者之差由客户响应率解释",
        note_en="satisfied customers ÷ customers served (resolved tickets), seed 004's definition; customers "
                "who did not answer count as not known satisfied — the response rate explains the gap"),
    KPI("completion_time", "服务完成时间(工作时间)", "Completion time (working time)", "hours", "lower", 48,
        "tickets", "duration", denominator=Q(resolution_working_seconds__isnull=False),
        measure=("resolution_working_seconds",)),
    KPI("response_sla", "响应时限达标率", "Response SLA compliance", "percent", "higher", 95, "tickets", "ratio",
        denominator=Q(first_response_at__isnull=False, response_due_at__isnull=False),
        numerator=Q(first_response_at__lte=F("response_due_at"))),
    KPI("resolution_sla", "解决时限达标率", "Resolution SLA compliance", "percent", "higher", 90, "tickets", "ratio",
        denominator=Q(resolved_at__isnull=False, resolution_due_at__isnull=False),
        numerator=Q(resolved_at__lte=F("resolution_due_at"))),
    KPI("first_contact_resolution", "首次解决率", "First-contact resolution", "percent", "higher", 70, "tickets",
        "ratio", denominator=_resolved, numerator=Q(public_reply_count__lte=1, reopen_count=0)),
    KPI("repeat_rate", "重复问题率", "Repeat-problem rate", "percent", "lower", 5, "tickets", "ratio",
        denominator=_resolved, numerator=Q(reopen_count__gt=0) | Q(repeat_count__gt=0)),
    KPI("complaint_rate", "客户投诉率", "Complaint rate", "percent", "lower", 2, "tickets", "ratio",
        numerator=Q(category__is_complaint=True)),
    KPI("backlog_rate", "问题滞留率", "Backlog rate", "percent", "lower", 10, "backlog", "ratio"),
    KPI("survey_response_rate", "客户响应率", "Survey response rate", "percent", "higher", 30, "invitations",
        "ratio", numerator=Q(answered_at__isnull=False)),
    KPI("nps", "净推荐值", "Net promoter score (NPS)", "score", "higher", 30, "responses", "nps",
        denominator=Q(nps__isnull=False), numerator=Q(nps__gte=9), negative=Q(nps__lte=6)),
    KPI("follow_up_rate", "服务回访率", "Follow-up rate", "percent", "higher", 95, "tickets", "ratio",
        denominator=_resolved, numerator=_resolved & (Q(survey__isnull=False) | Q(survey_responses__channel="phone")),
        note_zh="已发送回访问卷或已电话回访(客户作答)的已解决工单 ÷ 已解决工单",
        note_en="resolved tickets whose customer was sent the survey or answered it on a follow-up call ÷ "
                "resolved tickets"),
    KPI("complaints_closed_in_sla", "投诉按时关闭率", "Complaints closed in time", "percent", "higher", 90,
        "complaints", "ratio", denominator=Q(status="closed"), numerator=Q(closed_at__lte=F("due_at"))),
    KPI("complaint_time_to_close", "投诉关闭时长", "Time to close a complaint", "hours", "lower", None,
        "complaints", "duration", denominator=Q(status="closed"), measure=("closed_at", "opened_at")),
    KPI("complaints_escalated", "投诉升级至主管比例", "Complaints escalated to a supervisor", "percent", "lower", None,
        "complaints", "ratio", numerator=Q(level__gte=2)),
    KPI("complaints_to_manager", "投诉升级至经理比例", "Complaints escalated to a manager", "percent", "lower", None,
        "complaints", "ratio", numerator=Q(level=3)),
    KPI("complaints_buck_passing", "推卸责任占比", "Complaints passed from hand to hand", "percent", "lower", None,
        "complaints", "ratio", numerator=buck_q()),
    KPI("complaints_perfunctory", "敷衍了事占比", "Complaints handled perfunctorily", "percent", "lower", None,
        "complaints", "ratio", numerator=perfunctory_q()),
    KPI("complaints_delayed", "拖延处理占比", "Complaints left without handling too long", "percent", "lower",
        None, "complaints", "ratio", numerator=delay_q()),
    KPI("complaint_reaction_time", "客诉反应时间", "Complaint reaction time", "hours", "lower", None, "complaints",
        "duration", denominator=Q(first_handled_at__isnull=False), measure=("first_handled_at", "opened_at")),
    KPI("service_cost", "服务成本", "Service cost", "money", None, None, "tickets", "sum",
        measure=("labour_cost", "logistics_cost", "other_cost")),
    KPI("workload", "工作量", "Workload", "count", None, None, "tickets", "count"),
]  # fmt: skip

BY_KEY = {kpi.key: kpi for kpi in KPIS}
KPI_CHOICES = [(kpi.key, kpi.name_en) for kpi in KPIS]


def backlog_denominator(end: datetime) -> Q:
    """Tickets open at ``end``: requested before it and not resolved by then."""
    return Q(requested_at__lt=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=end))


def backlog_numerator(end: datetime) -> Q:
    """…and already past their resolution due time at ``end``."""
    return backlog_denominator(end) & Q(resolution_due_at__lt=end)


def reroot(q: Q, prefix: str) -> Q:
    """``q`` on a related model, expressed from the ticket (e.g. ``survey__answered_at__isnull``)."""
    if not prefix:
        return q
    rerooted = Q()
    rerooted.connector, rerooted.negated = q.connector, q.negated
    rerooted.children = [
        reroot(child, prefix) if isinstance(child, Q) else (prefix + child[0], _reroot_value(child[1], prefix))
        for child in q.children
    ]
    return rerooted


def _reroot_value(value, prefix: str):
    return F(prefix + value.name) if isinstance(value, F) else value


def part_q(kpi: KPI, part: str, *, end: datetime | None = None) -> Q:
    """The rows a figure counts, on its own source: "num" (numerator), "neg" (NPS detractors) or "den"."""
    if kpi.source == "backlog":
        assert end is not None
        return backlog_numerator(end) if part == "num" else backlog_denominator(end)
    denominator = kpi.denominator
    if part == "den":
        return denominator
    chosen: Callable[[], Q | None] = {"num": lambda: kpi.numerator, "neg": lambda: kpi.negative}[part]
    return denominator & (chosen() or Q())


def format_figure(value: float | None, unit: str) -> str:
    """A figure as people read it: 91.7 %, 2.1 h, 1,219, ¥325,193; "—" when there is none.
    (Plain formatting: a dashboard prints thousands of these.)"""
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "hours":
        return _("%s h") % f"{value:.1f}"
    if unit == "money":
        return f"¥{value:,.0f}"
    if unit == "score":
        return f"{value:.1f}"
    return f"{value:,.0f}"
