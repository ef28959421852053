"""Satisfaction surveys: templates (versioned), one invitation per ticket, the answers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.i18n import in_language
from tickets.models import Ticket


class SurveyTemplate(models.Model):
    """The questionnaire. Once an invitation used a version, that version is frozen:
    changes go into a new version (admin action), and answers keep pointing at theirs."""

    name = models.CharField(_("name"), max_length=200)
    version = models.PositiveIntegerField(_("version"), default=1)
    is_active = models.BooleanField(_("in use for new invitations"), default=False)
    intro_zh = models.TextField(_("introduction (Chinese)"), blank=True)
    intro_en = models.TextField(_("introduction (English)"), blank=True)
    confidentiality_zh = models.TextField(_("confidentiality statement (Chinese)"), blank=True)
    confidentiality_en = models.TextField(_("confidentiality statement (English)"), blank=True)
    thanks_zh = models.TextField(_("thank-you text (Chinese)"), blank=True)
    thanks_en = models.TextField(_("thank-you text (English)"), blank=True)
    expiry_days = models.PositiveSmallIntegerField(_("link valid for (days)"), default=14)
    reminder_days = models.PositiveSmallIntegerField(_("remind after (days)"), default=3)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("survey template")
        verbose_name_plural = _("survey templates")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="survey_template_unique_version"),
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="survey_one_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def intro(self) -> str:
        return in_language(self.intro_zh, self.intro_en)

    @property
    def confidentiality(self) -> str:
        return in_language(self.confidentiality_zh, self.confidentiality_en)

    @property
    def thanks(self) -> str:
        return in_language(self.thanks_zh, self.thanks_en)

    @property
    def is_frozen(self) -> bool:
        return self.pk is not None and self.invitations.exists()


class QuestionKind(models.TextChoices):
    SCALE = "scale", _("5-point scale")
    NPS = "nps", _("0–10 recommendation")
    TEXT = "text", _("free text")


class QuestionRole(models.TextChoices):
    NONE = "", _("—")
    OVERALL = "overall", _("overall satisfaction (CSAT)")
    NPS = "nps", _("net promoter score (NPS)")


class Question(models.Model):
    template = models.ForeignKey(SurveyTemplate, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    key = models.SlugField(_("key"), max_length=40)
    kind = models.CharField(_("kind"), max_length=10, choices=QuestionKind.choices)
    role = models.CharField(_("counts as"), max_length=10, choices=QuestionRole.choices, blank=True, default="")
    text_zh = models.CharField(_("question (Chinese)"), max_length=500)
    text_en = models.CharField(_("question (English)"), max_length=500)
    choices_zh = models.JSONField(
        _("answers (Chinese)"), default=list, blank=True,
        help_text=_("For a 5-point scale: five labels, best first."),
    )  # fmt: skip
    choices_en = models.JSONField(_("answers (English)"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=True)
    max_length = models.PositiveIntegerField(_("longest answer (characters)"), default=2000)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["template", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="question_unique_key"),
            models.UniqueConstraint(fields=["template", "role"], condition=~Q(role=""), name="question_one_per_role"),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        return in_language(self.text_zh, self.text_en)

    @property
    def choices(self) -> list[str]:
        return in_language(self.choices_zh, self.choices_en) or []


class SurveyInvitation(models.Model):
    """The one survey link of a ticket. The link's token is HMAC(SECRET_KEY, nonce):
    the database keeps the nonce and the token's SHA-256, never the token itself."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="survey")
    template = models.ForeignKey(SurveyTemplate, on_delete=models.PROTECT, related_name="invitations")
    nonce = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    email = models.EmailField(_("sent to"), max_length=254)
    language = models.CharField(_("language"), max_length=10)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("times opened"), default=0)
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"], name="invitation_unanswered_idx",
                condition=Q(answered_at__isnull=True, reminder_sent_at__isnull=True),
            ),
            # the KPI run finds the days of invitations sent or answered since its previous run
            models.Index(fields=["created_at"], name="invitation_created_idx"),
            models.Index(fields=["answered_at"], name="invitation_answered_idx"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.ticket.reference} → {self.email}"

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at


class SurveyChannel(models.TextChoices):
    EMAIL = "email", _("e-mailed survey")
    PHONE = "phone", _("follow-up call (电话回访)")


class SurveyResponse(models.Model):
    """A customer's answers, given on the e-mailed survey page or on a follow-up call (the agent
    records them in the same questionnaire). ``overall`` and ``nps`` are copied out of ``answers``
    (by the template's roles) so that KPIs aggregate them in SQL. One per ticket."""

    # An answer taken by phone has no invitation when the customer has no e-mail address; one whose
    # e-mailed link expired unanswered keeps it (and marks it answered).
    invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.CASCADE, related_name="response", null=True, blank=True
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="survey_responses")
    channel = models.CharField(
        _("answered by"), max_length=10, choices=SurveyChannel.choices, default=SurveyChannel.EMAIL
    )
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("taken by"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    template = models.ForeignKey(SurveyTemplate, on_delete=models.PROTECT, related_name="responses")
    answers = models.JSONField(_("answers"), default=dict)
    overall = models.PositiveSmallIntegerField(_("overall satisfaction"), null=True, blank=True)
    nps = models.PositiveSmallIntegerField(_("likelihood to recommend"), null=True, blank=True)
    contact_name = models.CharField(_("name"), max_length=200, blank=True)
    contact_details = models.CharField(_("contact"), max_length=200, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    follow_up = models.ForeignKey(
        Ticket, verbose_name=_("follow-up ticket"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="follow_up_for",
    )  # fmt: skip

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["submitted_at"], name="response_submitted_idx")]
        constraints = [models.UniqueConstraint(fields=["ticket"], name="response_one_per_ticket")]

    def __str__(self) -> str:
        return f"{self.ticket.reference}: {self.overall}/{self.nps}"

    @property
    def is_detractor(self) -> bool:
        return detractor(self.overall, self.nps)


class CallOutcome(models.TextChoices):
    ANSWERED = "answered", _("answered the questions")
    NO_ANSWER = "no_answer", _("no answer")
    REFUSED = "refused", _("refused")
    WRONG_NUMBER = "wrong_number", _("wrong number")


#: Outcomes after which the customer is not called again.
FINAL_OUTCOMES = (CallOutcome.ANSWERED, CallOutcome.REFUSED, CallOutcome.WRONG_NUMBER)


class FollowUpCall(models.Model):
    """One follow-up call (电话回访) to a customer after their ticket was resolved."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="follow_up_calls")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("called at"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=15, choices=CallOutcome.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("follow-up call")
        verbose_name_plural = _("follow-up calls")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["ticket", "at"], name="follow_up_call_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.outcome} {self.at:%Y-%m-%d %H:%M}"


def detractor(overall: int | None, nps: int | None) -> bool:
    """Seed 001's unhappy customer: overall satisfaction ≤ 2 or a recommendation ≤ 6."""
    return (overall is not None and overall <= 2) or (nps is not None and nps <= 6)


#: The same rule as ``detractor``, for querysets.
DETRACTOR_Q = Q(overall__lte=2) | Q(nps__lte=6)
