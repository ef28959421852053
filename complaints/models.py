"""Complaints (投诉): the escalation ladder, root causes, remedies and the closing confirmation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.i18n import in_language
from tickets.models import Ticket


class RootCause(models.Model):
    """Why complaints happen (admin-editable list)."""

    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("root cause")
        verbose_name_plural = _("root causes")

    def __str__(self) -> str:
        return in_language(self.name_zh, self.name_en)


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MAJOR = "major", _("Major")
    CRITICAL = "critical", _("Critical")


class Level(models.IntegerChoices):
    """Seed 003: 一换当事人 — a complaint moves to a more senior handler; 三换时间 — still unresolved, higher again."""

    AGENT = 1, _("Agent")
    SUPERVISOR = 2, _("Supervisor")
    MANAGER = 3, _("Manager")


class ComplaintStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    AWAITING_CONFIRMATION = "awaiting", _("Awaiting the customer's confirmation")
    CLOSED = "closed", _("Closed")


class Source(models.TextChoices):
    CATEGORY = "category", _("Ticket of category complaint")
    SURVEY = "survey", _("Unhappy survey answer")
    RAISED = "raised", _("Raised by an agent")


class CompensationKind(models.TextChoices):
    NONE = "none", _("None")
    REFUND = "refund", _("Refund")
    VOUCHER = "voucher", _("Voucher")
    REPLACEMENT = "replacement", _("Replacement")
    FREE_SERVICE = "free_service", _("Free service")
    OTHER = "other", _("Other")


class ConfirmationChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    VISIT = "visit", _("In person")


class EscalationPolicy(models.Model):
    """How long a complaint of a severity may take (its SLA), stay at one level, or go without an update."""

    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, unique=True)
    resolve_hours = models.PositiveIntegerField(_("close within (hours)"), validators=[MinValueValidator(1)])
    level_hours = models.PositiveIntegerField(
        _("escalate after (hours at one level)"), validators=[MinValueValidator(1)]
    )
    update_hours = models.PositiveIntegerField(_("update at least every (hours)"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")

    def __str__(self) -> str:
        return self.get_severity_display()


MAX_COMPENSATION = Decimal("1000000")


class Complaint(models.Model):
    ticket = models.OneToOneField(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="complaint")
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.CATEGORY)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MINOR)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, default=Level.AGENT)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    status = models.CharField(_("status"), max_length=12, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN)
    root_cause = models.ForeignKey(
        RootCause, verbose_name=_("root cause"), on_delete=models.PROTECT, null=True, blank=True
    )
    corrective_action = models.TextField(_("corrective action"), max_length=5000, blank=True)
    compensation_kind = models.CharField(
        _("compensation"), max_length=15, choices=CompensationKind.choices, default=CompensationKind.NONE
    )
    compensation_amount = models.DecimalField(
        _("compensation amount"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(MAX_COMPENSATION)],
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    level_since = models.DateTimeField(_("at this level since"), default=timezone.now)
    # When the complaint goes one level up by itself: its severity's window at a level, in working time
    # of the ticket's calendar (complaints.services.escalate_overdue).
    level_due_at = models.DateTimeField(_("escalates by itself at"), null=True, blank=True)
    due_at = models.DateTimeField(_("close by"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # Counts the edits of severity, root cause and remedy: an edit form carries the version it was
    # read at, and a save from a stale form is refused instead of overwriting (complaints.services).
    version = models.PositiveIntegerField(default=0, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    escalation_count = models.PositiveSmallIntegerField(_("escalations"), default=0)
    # When the sweep first saw it go without handling for longer than allowed (the delay taboo),
    # kept so that the share of delayed complaints can be counted after the fact.
    delayed_at = models.DateTimeField(_("first delayed"), null=True, blank=True)
    # Handling: a contact with the customer, a corrective action or remedy recorded, an appointment
    # made, the confirmation asked for or logged. Escalations and automatic changes are not handling.
    first_handled_at = models.DateTimeField(_("first handled"), null=True, blank=True)
    handled_at = models.DateTimeField(_("last handled"), null=True, blank=True)
    # The last handling (or the opening) plus its severity's update window, in working time: past it,
    # the complaint is delayed (complaints.taboos.delay_q).
    delay_due_at = models.DateTimeField(_("delayed unless handled by"), null=True, blank=True)
    # Seed 003's ladder: level 2 changes the place, level 3 the time — a meeting with a more senior person.
    appointment_at = models.DateTimeField(_("appointment"), null=True, blank=True)
    appointment_place = models.CharField(_("where"), max_length=200, blank=True)
    appointment_with = models.CharField(_("with whom"), max_length=200, blank=True)
    appointment_reminded_at = models.DateTimeField(_("handler reminded"), null=True, blank=True)
    confirmation_channel = models.CharField(
        _("confirmed by"), max_length=10, choices=ConfirmationChannel.choices, blank=True
    )
    confirmation_contact = models.CharField(_("who confirmed"), max_length=200, blank=True)
    confirmation_note = models.TextField(_("what the customer said"), max_length=5000, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="complaint_status_due_idx"),
            models.Index(fields=["handler", "status"], name="complaint_handler_idx"),
            # the KPI run: complaints by the day they were opened, and those changed since its previous run
            models.Index(fields=["opened_at"], name="complaint_opened_idx"),
            models.Index(fields=["updated_at"], name="complaint_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket.reference} ({self.get_severity_display()})"

    @property
    def is_open(self) -> bool:
        return self.status != ComplaintStatus.CLOSED

    def is_overdue(self, now=None) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < (now or timezone.now())


class ComplaintEventKind(models.TextChoices):
    OPENED = "opened", _("opened the complaint")
    ESCALATED = "escalated", _("escalated the complaint")
    UPDATED = "updated", _("updated the complaint")
    CONFIRMATION = "confirmation", _("logged the customer's confirmation")
    AWAITING = "awaiting", _("asked the customer to confirm the fix")
    CLOSED = "closed", _("closed the complaint")
    DELAYED = "delayed", _("went without handling for longer than allowed")
    APPOINTMENT = "appointment", _("made an appointment with the customer")


class ComplaintEvent(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=15, choices=ComplaintEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind}"


class SeverityRule(models.Model):
    """How serious the complaint an unhappy survey answer opens is: the first rule (by position) whose
    conditions the answer meets gives the severity; no rule met, minor."""

    position = models.PositiveSmallIntegerField(_("position"), default=0)
    overall_at_most = models.PositiveSmallIntegerField(
        _("overall satisfaction at most"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)], help_text=_("1–5; empty: any."),
    )  # fmt: skip
    nps_at_most = models.PositiveSmallIntegerField(
        _("likelihood to recommend at most"), null=True, blank=True,
        validators=[MaxValueValidator(10)], help_text=_("0–10; empty: any."),
    )  # fmt: skip
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)

    class Meta:
        verbose_name = _("severity rule for survey complaints")
        verbose_name_plural = _("severity rules for survey complaints")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(overall_at_most__isnull=False) | models.Q(nps_at_most__isnull=False),
                name="severity_rule_has_a_condition",
            )
        ]

    def __str__(self) -> str:
        parts = []
        if self.overall_at_most is not None:
            parts.append(_("overall ≤ %s") % self.overall_at_most)
        if self.nps_at_most is not None:
            parts.append(_("recommendation ≤ %s") % self.nps_at_most)
        return f"{' & '.join(str(p) for p in parts)} → {self.get_severity_display()}"

    def clean(self) -> None:
        if self.overall_at_most is None and self.nps_at_most is None:
            raise ValidationError(_("Give at least one condition: overall satisfaction or likelihood to recommend."))

    def matches(self, overall: int | None, nps: int | None) -> bool:
        if self.overall_at_most is not None and (overall is None or overall > self.overall_at_most):
            return False
        return not (self.nps_at_most is not None and (nps is None or nps > self.nps_at_most))


def severity_for_answer(overall: int | None, nps: int | None, rules: list[SeverityRule] | None = None) -> str:
    """The severity the rules give an unhappy answer (seed 001: the unhappiest customers first).
    ``rules``: the rules read once, for many answers."""
    for rule in SeverityRule.objects.all() if rules is None else rules:
        if rule.matches(overall, nps):
            return rule.severity
    return Severity.MINOR


#: Defaults per severity: (close within, escalate after at one level, update at least every), in hours.
DEFAULT_POLICY = {Severity.MINOR: (72, 24, 24), Severity.MAJOR: (48, 8, 8), Severity.CRITICAL: (24, 2, 4)}


def policy_for(severity: str) -> tuple[timedelta, timedelta, timedelta]:
    policy = EscalationPolicy.objects.filter(severity=severity).first()
    hours = (policy.resolve_hours, policy.level_hours, policy.update_hours) if policy else DEFAULT_POLICY[severity]
    return tuple(timedelta(hours=h) for h in hours)  # type: ignore[return-value]
