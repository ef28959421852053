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
from enum import StrEnum

from django.db.models import F, Q
from django.utils.translation import gettext as _

from complaints.taboos import buck_q, delay_q, perfunctory_q
from config.i18n import in_language

RESOLVED = ("resolved", "closed")


class Kind(StrEnum):
    """How a KPI's figure is made from its stored parts. Each kind's formula is written here once,
    in Python (``figure``: the dashboard, the API, sums over ranges) and in SQL (``figure_sql``: the
    values a run stores); ``tests/kpis/test_engine.py`` holds the two equal for every kind."""

    #: 100 · numerator ÷ denominator
    RATIO = "ratio"
    #: the mean of ``measure`` in hours over the denominator's rows; median and p90 from its histogram
    DURATION = "duration"
    #: 100 · (promoters − detractors) ÷ answered (``numerator``, ``negative``, ``denominator``)
    NPS = "nps"
    #: Σ ``measure`` over the denominator's rows (stored as the numerator)
    SUM = "sum"
    #: the denominator's rows
    COUNT = "count"

    def figure(self, numerator: float, denominator: float, negative: float = 0.0) -> float | None:
        if self is Kind.COUNT:
            return denominator
        if self is Kind.SUM:
            return numerator
        if not denominator:
            return None
        if self is Kind.DURATION:
            return numerator / denominator / 3600.0
        if self is Kind.NPS:
            return 100.0 * (numerator - negative) / denominator
        return 100.0 * numerator / denominator

    def figure_sql(self, numerator: str, denominator: str, negative: str = "0") -> str:
        if self is Kind.COUNT:
            return f"({denominator})::float"
        if self is Kind.SUM:
            return f"({numerator})::float"
        if self is Kind.NPS:
            return f"CASE WHEN {denominator} > 0 THEN ({numerator} - {negative})::float / {denominator} * 100.0 END"
        scale = "/ 3600.0" if self is Kind.DURATION else "* 100.0"
        return f"CASE WHEN {denominator} > 0 THEN ({numerator})::float / {denominator} {scale} END"

    @property
    def links_numerator(self) -> bool:
        """Whether the numerator is a list of rows of its own (the dashboard links to it)."""
        return self in (Kind.RATIO, Kind.NPS)


@dataclass(frozen=True, kw_only=True)
class KPI:
    key: str
    name_zh: str
    name_en: str
    #: percent, hours, score, count or money
    unit: str
    #: "higher", "lower", or None for a trend without a target
    better: str | None
    #: default target (admin → KPI targets overrides it, per team if wanted)
    target: float | None
    #: tickets, responses, invitations, complaints or backlog (see SOURCES)
    source: str
    kind: Kind
    #: the rows counted; ``numerator`` (and NPS's ``negative``) are taken within them
    denominator: Q = field(default_factory=Q)
    numerator: Q | None = None
    negative: Q | None = None
    #: duration: (end field, start field), or one field holding seconds (working time, stored on the
    #: ticket when it happens); sum: the fields added up
    measure: tuple[str, ...] = ()
    #: what the figure counts, in words, on its tile (where two figures could be mistaken for each other)
    note_zh: str = ""
    note_en: str = ""

    @property
    def at_period_end(self) -> bool:
        """A level taken at each period's end (the backlog), not a flow summed over the period."""
        return self.source == "backlog"

    def figure(self, numerator: float, denominator: float, negative: float = 0.0) -> float | None:
        return self.kind.figure(numerator, denominator, negative)

    @property
    def note(self) -> str:
        return in_language(self.note_zh, self.note_en)

    @property
    def name(self) -> str:
        return in_language(self.name_zh, self.name_en)


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


def counted_q(source_key: str) -> Q:
    """The rows a source counts at all: a merged duplicate's (its survey's, its complaint's) are
    left out — the ticket it was merged into counts the customer's problem once."""
    return Q(**{SOURCES[source_key].ticket_path + "merged_into__isnull": True})


def source_dimensions(source_key: str) -> dict[str, str]:
    """dimension → path from the source's rows, in GROUPING() order."""
    source = SOURCES[source_key]
    dimensions = {name: source.ticket_path + field for name, field in DIMENSION_FIELDS.items()}
    dimensions.update(dict(source.extra_dimensions))
    return dimensions


_resolved = Q(status__in=RESOLVED)

KPIS: list[KPI] = [
    KPI(key="first_response_time", kind=Kind.DURATION, source="tickets", unit="hours",
        name_zh="服务响应时间(工作时间)", name_en="First response time (working time)",
        better="lower", target=2,
        denominator=Q(first_response_working_seconds__isnull=False),
        measure=("first_response_working_seconds",)),
    KPI(key="resolution_rate", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="服务解决率", name_en="Resolution rate",
        better="higher", target=90,
        numerator=_resolved),
    KPI(key="csat", kind=Kind.RATIO, source="responses", unit="percent",
        name_zh="客户满意度(回访答卷)", name_en="Customer satisfaction (CSAT, of answers)",
        better="higher", target=95,
        denominator=Q(overall__isnull=False),
        numerator=Q(overall__gte=4),
        note_zh="满意的答卷 ÷ 回答了满意度问题的答卷(邮件与电话回访);未回答的客户不计入",
        note_en="satisfied answers ÷ answers to the satisfaction question (e-mail and phone); "
                "customers who did not answer are left out"),
    KPI(key="csat_served", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="客户满意度(服务客户数)", name_en="Customer satisfaction (of customers served)",
        better="higher", target=None,
        denominator=_resolved,
        numerator=_resolved & Q(survey_responses__overall__gte=4),
        note_zh="满意客户数 ÷ 服务客户数(已解决工单);未回答回访的客户计为不确定——两者之差由客户响应率解释",
        note_en="satisfied customers ÷ customers served (resolved tickets), seed 004's definition; customers "
                "who did not answer count as not known satisfied — the response rate explains the gap"),
    KPI(key="completion_time", kind=Kind.DURATION, source="tickets", unit="hours",
        name_zh="服务完成时间(工作时间)", name_en="Completion time (working time)",
        better="lower", target=48,
        denominator=Q(resolution_working_seconds__isnull=False),
        measure=("resolution_working_seconds",)),
    KPI(key="response_sla", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="响应时限达标率", name_en="Response SLA compliance",
        better="higher", target=95,
        denominator=Q(first_response_at__isnull=False, response_due_at__isnull=False),
        numerator=Q(first_response_at__lte=F("response_due_at"))),
    KPI(key="resolution_sla", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="解决时限达标率", name_en="Resolution SLA compliance",
        better="higher", target=90,
        denominator=Q(resolved_at__isnull=False, resolution_due_at__isnull=False),
        numerator=Q(resolved_at__lte=F("resolution_due_at"))),
    KPI(key="first_contact_resolution", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="首次解决率", name_en="First-contact resolution",
        better="higher", target=70,
        denominator=_resolved,
        numerator=Q(public_reply_count__lte=1, reopen_count=0)),
    KPI(key="repeat_rate", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="重复问题率", name_en="Repeat-problem rate",
        better="lower", target=5,
        denominator=_resolved,
        numerator=Q(reopen_count__gt=0) | Q(repeat_count__gt=0)),
    KPI(key="complaint_rate", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="客户投诉率", name_en="Complaint rate",
        better="lower", target=2,
        numerator=Q(category__is_complaint=True)),
    KPI(key="backlog_rate", kind=Kind.RATIO, source="backlog", unit="percent",
        name_zh="问题滞留率", name_en="Backlog rate",
        better="lower", target=10),
    KPI(key="survey_response_rate", kind=Kind.RATIO, source="invitations", unit="percent",
        name_zh="客户响应率", name_en="Survey response rate",
        better="higher", target=30,
        numerator=Q(answered_at__isnull=False)),
    KPI(key="nps", kind=Kind.NPS, source="responses", unit="score",
        name_zh="净推荐值", name_en="Net promoter score (NPS)",
        better="higher", target=30,
        denominator=Q(nps__isnull=False),
        numerator=Q(nps__gte=9),
        negative=Q(nps__lte=6)),
    KPI(key="follow_up_rate", kind=Kind.RATIO, source="tickets", unit="percent",
        name_zh="服务回访率", name_en="Follow-up rate",
        better="higher", target=95,
        denominator=_resolved,
        numerator=_resolved & (Q(survey__isnull=False) | Q(survey_responses__channel="phone")),
        note_zh="已发送回访问卷或已电话回访(客户作答)的已解决工单 ÷ 已解决工单",
        note_en="resolved tickets whose customer was sent the survey or answered it on a follow-up call ÷ "
                "resolved tickets"),
    KPI(key="complaints_closed_in_sla", kind=Kind.RATIO, source="complaints", unit="percent",
        name_zh="投诉按时关闭率", name_en="Complaints closed in time",
        better="higher", target=90,
        denominator=Q(status="closed"),
        numerator=Q(closed_at__lte=F("due_at"))),
    KPI(key="complaint_time_to_close", kind=Kind.DURATION, source="complaints", unit="hours",
        name_zh="投诉关闭时长", name_en="Time to close a complaint",
        better="lower", target=None,
        denominator=Q(status="closed"),
        measure=("closed_at", "opened_at")),
    KPI(key="complaints_escalated", kind=Kind.RATIO, source="complaints", unit="percent",
        name_zh="投诉升级至主管比例", name_en="Complaints escalated to a supervisor",
        better="lower", target=None,
        numerator=Q(level__gte=2)),
    KPI(key="complaints_to_manager", kind=Kind.RATIO, source="complaints", unit="percent",
        name_zh="投诉升级至经理比例", name_en="Complaints escalated to a manager",
        better="lower", target=None,
        numerator=Q(level=3)),
    KPI(key="complaints_buck_passing", kind=Kind.RATIO, source="complaints", unit="percent",
        name_zh="推卸责任占比", name_en="Complaints passed from hand to hand",
        better="lower", target=None,
        numerator=buck_q()),
    KPI(key="complaints_perfunctory", kind=Kind.RATIO, source="complaints", unit="percent",
        name_zh="敷衍了事占比", name_en="Complaints handled perfunctorily",
        better="lower", target=None,
        numerator=perfunctory_q()),
    KPI(key="complaints_delayed", kind=Kind.RATIO, source="complaints", unit="percent",
        name_zh="拖延处理占比", name_en="Complaints left without handling too long",
        better="lower", target=None,
        numerator=delay_q()),
    KPI(key="complaint_reaction_time", kind=Kind.DURATION, source="complaints", unit="hours",
        name_zh="客诉反应时间", name_en="Complaint reaction time",
        better="lower", target=None,
        denominator=Q(first_handled_at__isnull=False),
        measure=("first_handled_at", "opened_at")),
    KPI(key="service_cost", kind=Kind.SUM, source="tickets", unit="money",
        name_zh="服务成本", name_en="Service cost",
        better=None, target=None,
        measure=("labour_cost", "logistics_cost", "other_cost")),
    KPI(key="workload", kind=Kind.COUNT, source="tickets", unit="count",
        name_zh="工作量", name_en="Workload",
        better=None, target=None),
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
