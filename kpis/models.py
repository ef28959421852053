"""Stored KPI results and their targets."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kpis.registry import BY_KEY


class Granularity(models.TextChoices):
    DAY = "day", _("day")
    WEEK = "week", _("week")
    MONTH = "month", _("month")


class Dimension(models.TextChoices):
    ALL = "all", _("all")
    TEAM = "team", _("team")
    AGENT = "agent", _("agent")
    CATEGORY = "category", _("category")
    CHANNEL = "channel", _("channel")
    PRIORITY = "priority", _("priority")
    ROOT_CAUSE = "root_cause", _("root cause")
    VIA = "via", _("survey channel")
    #: a ticket counts under each of its tags
    TAG = "tag", _("tag")


class KPIValue(models.Model):
    """One figure: a KPI for one period and one slice, with what it was computed from.

    ``numerator`` and ``denominator`` (and ``negative``, NPS's detractors) let any figure be
    re-derived and summed over periods; ``value`` is the figure as shown (percent, hours, count, money);
    a duration's histogram gives its median and p90 (``kpis.quantiles``).
    ``dimension_value`` is the id (team, agent, category) or key (channel,
    priority) of the slice; "" for all, "none" for tickets without one."""

    kpi = models.CharField(max_length=40)  # a key of kpis.registry (no choices: a new KPI needs no migration)
    granularity = models.CharField(max_length=5, choices=Granularity.choices)
    period_start = models.DateField()
    dimension = models.CharField(max_length=10, choices=Dimension.choices)
    dimension_value = models.CharField(max_length=64, blank=True, default="")
    value = models.FloatField(null=True)
    numerator = models.FloatField(default=0)
    # NPS: the detractors, beside the promoters in ``numerator`` (the figure is their difference)
    negative = models.FloatField(default=0)
    denominator = models.FloatField(default=0)
    # The source's rows in the slice (tickets requested, answers given…): a value is stored while
    # its slice has any, whether or not they count in this KPI (a 0/0 figure shows "—").
    source_rows = models.IntegerField(default=0)
    # Duration KPIs: the histogram of the durations counted (kpis.quantiles), as sorted bucket keys and
    # their counts. Histograms add up, so the median and p90 of any range and slice come from them.
    hist_keys = ArrayField(models.SmallIntegerField(), null=True)
    hist_counts = ArrayField(models.IntegerField(), null=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("KPI value")
        verbose_name_plural = _("KPI values")
        constraints = [
            # In the order the dashboard reads: a granularity, a dimension, a run of periods, then
            # one slice (tiles, trends) or every slice (breakdowns). One index serves the lookups
            # and the uniqueness, so a run's writes maintain one index besides the primary key.
            models.UniqueConstraint(
                fields=["granularity", "dimension", "period_start", "dimension_value", "kpi"],
                name="kpivalue_unique_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} {self.granularity} {self.period_start} {self.dimension}={self.dimension_value}"


class KPITarget(models.Model):
    """A target for a KPI, for every team or for one. Without a row, the registry's default applies."""

    kpi = models.CharField(_("KPI"), max_length=40)
    team = models.ForeignKey(
        "tickets.Team", verbose_name=_("team"), on_delete=models.CASCADE, null=True, blank=True,
        help_text=_("Leave empty for the target of the whole desk."),
    )  # fmt: skip
    value = models.FloatField(_("target"))
    # Counts the saves: the admin form carries the version it was read at, so that two managers
    # editing one target cannot silently overwrite each other (kpis.admin).
    version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [
            models.UniqueConstraint(fields=["kpi", "team"], name="kpitarget_unique", nulls_distinct=False),
        ]

    def __str__(self) -> str:
        kpi = BY_KEY.get(self.kpi)
        return f"{kpi.name if kpi else self.kpi}: {self.value}"


class KPIRun(models.Model):
    """One computation: what it covered and when it finished (the dashboard's "last computed")."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True)
    full = models.BooleanField(default=False)
    first_day = models.DateField(null=True)
    periods = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    # The registry's KPIs the run computed: a KPI added or redefined since gets its whole history
    # on the next run (kpis.services.refresh_kpis).
    kpis = models.JSONField(default=list)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} ({self.rows} rows)"


class Contribution(models.Model):
    """What one counted row (a ticket, a survey answer, an invitation, a complaint) added to the
    stored values at the last KPI run: its day, its slices, which parts of which KPIs it counted
    in (``flags``, bit by bit), its durations and costs (``sums``) and its durations' histogram
    buckets. An incremental run subtracts a changed row's stored contribution and adds its new
    one (kpis.engine.contributions), so its cost follows the rows that changed, not the days."""

    row_id = models.BigIntegerField(primary_key=True)
    day = models.DateField()
    d_team = models.BigIntegerField(null=True)
    d_agent = models.BigIntegerField(null=True)
    d_category = models.BigIntegerField(null=True)
    d_channel = models.CharField(max_length=20)
    d_priority = models.CharField(max_length=20)
    #: the source's own dimension (a survey answer's channel, a complaint's root cause)
    d_extra = models.CharField(max_length=64, null=True)  # noqa: DJ001 (NULL: no root cause known yet)
    flags = models.BigIntegerField()
    #: whole seconds of each duration, cents of each cost (None where not counted)
    sums = ArrayField(models.BigIntegerField(null=True), null=True)
    buckets = ArrayField(models.SmallIntegerField(null=True), null=True)
    #: the tags of the row's ticket (a slice of its own: a ticket has any number of them)
    tags = ArrayField(models.IntegerField(), null=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.db_table} {self.row_id} {self.day}"


class TicketContribution(Contribution):
    class Meta:
        db_table = "kpis_contribution_tickets"


class ResponseContribution(Contribution):
    class Meta:
        db_table = "kpis_contribution_responses"


class InvitationContribution(Contribution):
    class Meta:
        db_table = "kpis_contribution_invitations"


class ComplaintContribution(Contribution):
    class Meta:
        db_table = "kpis_contribution_complaints"
