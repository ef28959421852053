"""Inviting, reminding, answering, and closing the loop on an unhappy answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError
from outbox import links
from outbox.services import queue_email
from surveys import hooks
from surveys.models import (
    FINAL_OUTCOMES,
    CallOutcome,
    FollowUpCall,
    QuestionKind,
    QuestionRole,
    SurveyChannel,
    SurveyInvitation,
    SurveyResponse,
    SurveyTemplate,
    detractor,
)
from tickets.calendars import calendar_for
from tickets.models import RESOLVED_STATUSES, Category, Channel, Priority, Ticket
from tickets.services import create_ticket
from tickets.worktime import next_opening

if TYPE_CHECKING:
    from config.types import Actor

TOKEN_SALT = "surveys.invitation"


class SurveyClosed(ApplicationError):
    """The link can no longer be answered; ``reason`` is "answered" or "expired"."""

    def __init__(self, reason: str):
        message = (
            _("This survey has already been answered.") if reason == "answered" else _("This survey link has expired.")
        )
        super().__init__(message)
        self.reason = reason


def token_for(nonce: str) -> str:
    """The link token: 256 bits of HMAC over a random nonce, unusable without SECRET_KEY."""
    digest = salted_hmac(TOKEN_SALT, nonce, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def survey_url(invitation: SurveyInvitation) -> str:
    return settings.SITE_URL + reverse("surveys:answer", args=[token_for(invitation.nonce)])


def active_template() -> SurveyTemplate | None:
    return SurveyTemplate.objects.filter(is_active=True).first()


def questionnaire_for(invitation: SurveyInvitation | None) -> SurveyTemplate | None:
    """The questions a ticket's customer is asked: those of the link they were sent, else the ones in use."""
    return invitation.template if invitation is not None else active_template()


def start_of_today(now: datetime) -> datetime:
    """Local midnight before ``now``: an unanswered customer is called at most once a day."""
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def survey_link(pk: int) -> str:
    """``outbox.links``: the working link of invitation ``pk``, written into its e-mail as it is sent."""
    return survey_url(SurveyInvitation.objects.get(pk=pk))


def _email_context(invitation: SurveyInvitation) -> dict[str, Any]:
    return {
        "ticket": invitation.ticket,
        "customer": invitation.ticket.customer,
        "url": links.placeholder("survey", invitation.pk),
        "expires_at": invitation.expires_at,
        "desk_name": settings.DESK_NAME,
    }


def daytime(ticket: Ticket) -> datetime:
    """Now, or the next opening of the ticket's service calendar: a survey is not an answer the customer
    waits for, so one due at 03:00 or on a holiday goes out on the next working morning."""
    return next_opening(timezone.now(), calendar_for(ticket))


def invite_to_survey(ticket: Ticket) -> SurveyInvitation | None:
    """Create the ticket's survey link and queue the invitation e-mail, in the caller's
    transaction. Nothing when the customer has no e-mail address, the ticket already has
    its link, or no template is in use."""
    customer = ticket.customer
    template = active_template()
    if not customer.email or template is None or SurveyInvitation.objects.filter(ticket=ticket).exists():
        return None
    if SurveyResponse.objects.filter(follow_up=ticket).exists():
        return None  # the follow-up of an unhappy answer: the customer confirms the fix, no new survey
    now = timezone.now()
    nonce = secrets.token_urlsafe(24)  # 192 random bits
    invitation = SurveyInvitation.objects.create(
        ticket=ticket,
        template=template,
        nonce=nonce,
        token_hash=hash_token(token_for(nonce)),
        email=customer.email,
        language=customer.preferred_language,
        created_at=now,
        expires_at=now + timedelta(days=template.expiry_days),
    )
    queue_email(
        to=invitation.email,
        template="survey_invitation",
        context=_email_context(invitation),
        language=invitation.language,
        kind="survey_invitation",
        ticket=ticket,
        not_before=daytime(ticket),
    )
    return invitation


def invite_after_resolution(*, ticket: Ticket, by: Actor) -> None:
    """``tickets.hooks.ticket_resolved``: the first resolution sends the survey."""
    invite_to_survey(ticket)


def move_survey_on_merge(*, duplicate: Ticket, into: Ticket, by: Actor) -> None:
    """``tickets.hooks.ticket_merged``: the duplicate's survey — its invitation, the answer and the
    follow-up calls — moves to the ticket it is merged into, unless that one has a survey of its own
    (the customer is surveyed once; the duplicate's then stays with it, counted in no KPI)."""
    if SurveyInvitation.objects.filter(ticket=into).exists() or SurveyResponse.objects.filter(ticket=into).exists():
        return
    SurveyInvitation.objects.filter(ticket=duplicate).update(ticket=into)
    SurveyResponse.objects.filter(ticket=duplicate).update(ticket=into)
    FollowUpCall.objects.filter(ticket=duplicate).update(ticket=into)


def find_invitation(token: str) -> SurveyInvitation | None:
    """The invitation whose token this is, or None. The stored hash is compared in constant time."""
    if not token or len(token) > 100:
        return None
    digest = hash_token(token)
    invitation = (
        SurveyInvitation.objects.select_related("ticket", "template", "ticket__customer")
        .filter(token_hash=digest)
        .first()
    )
    if invitation is None or not hmac.compare_digest(invitation.token_hash, digest):
        return None
    return invitation


def check_open(invitation: SurveyInvitation) -> None:
    """Raise ``SurveyClosed`` when the link was answered or has expired."""
    if invitation.answered_at is not None:
        raise SurveyClosed("answered")
    if invitation.is_expired():
        raise SurveyClosed("expired")


def record_open(invitation: SurveyInvitation) -> None:
    """Count an opening of the page. Opening never answers anything."""
    now = timezone.now()
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        open_count=F("open_count") + 1, first_opened_at=Coalesce(F("first_opened_at"), now)
    )


@transaction.atomic
def submit_survey(
    *, invitation: SurveyInvitation, answers: dict[str, Any], contact_name: str = "", contact_details: str = ""
) -> SurveyResponse:
    """Store the answers once. A detractor answer opens a follow-up for the team's supervisor.

    Locks the invitation so that a double submit stores one response; raises
    ``SurveyClosed`` for an answered or expired link."""
    invitation = SurveyInvitation.objects.select_for_update().select_related("template", "ticket").get(pk=invitation.pk)
    check_open(invitation)
    return _store_answers(
        ticket=invitation.ticket, template=invitation.template, invitation=invitation, answers=answers,
        channel=SurveyChannel.EMAIL, contact_name=contact_name, contact_details=contact_details,
    )  # fmt: skip


def _store_answers(
    *, ticket: Ticket, template: SurveyTemplate, invitation: SurveyInvitation | None, answers: dict[str, Any],
    channel: str, taken_by: Actor = None, contact_name: str = "", contact_details: str = "",
) -> SurveyResponse:  # fmt: skip
    """The one way answers are stored, whichever way they were given: the response, the e-mailed
    invitation marked answered, and for an unhappy answer the follow-up ticket (``hooks.follow_up_opened``)."""
    roles = {q.role: q.key for q in template.questions.exclude(role=QuestionRole.NONE)}
    now = timezone.now()
    response = SurveyResponse.objects.create(
        invitation=invitation,
        ticket=ticket,
        template=template,
        answers=answers,
        overall=answers.get(roles.get(QuestionRole.OVERALL, "")),
        nps=answers.get(roles.get(QuestionRole.NPS, "")),
        contact_name=contact_name.strip(),
        contact_details=contact_details.strip(),
        submitted_at=now,
        channel=channel,
        taken_by=taken_by,
    )
    if invitation is not None and channel == SurveyChannel.EMAIL:
        # (an answer taken by phone after the link expired leaves the e-mail's response rate as it was)
        invitation.answered_at = now
        invitation.save(update_fields=["answered_at"])
    if detractor(response.overall, response.nps):
        response.follow_up = open_follow_up(response)
        response.save(update_fields=["follow_up"])
        hooks.follow_up_opened.send(response=response)
    return response


def _check_callable(ticket: Ticket, now: datetime) -> SurveyInvitation | None:
    """Refuse a follow-up call on a ticket that is not due one; its unanswered invitation, if any."""
    if ticket.status not in RESOLVED_STATUSES:
        raise ApplicationError(_("Only a resolved ticket is followed up."))
    if SurveyResponse.objects.filter(ticket=ticket).exists():
        raise ApplicationError(_("The customer has already answered the survey for this ticket."))
    if ticket.follow_up_calls.filter(outcome__in=FINAL_OUTCOMES).exists():
        raise ApplicationError(_("The customer refused or the number was wrong: this ticket is not called again."))
    invitation = SurveyInvitation.objects.select_for_update().filter(ticket=ticket).first()
    if invitation is not None and not invitation.is_expired(now):
        raise ApplicationError(_("The customer's e-mailed survey link is still open; wait until it expires."))
    return invitation


@transaction.atomic
def record_phone_answers(*, ticket: Ticket | int, by: Actor, answers: dict[str, Any], note: str = "") -> SurveyResponse:
    """A follow-up call (电话回访) in which the customer answered: their answers, in the questionnaire
    the e-mailed survey uses, count in CSAT, NPS and the follow-up rate like e-mailed ones; an unhappy
    answer opens the same recovery case."""
    if by is None:
        raise ApplicationError(_("A follow-up call is recorded by the agent who made it."))
    ticket = (
        Ticket.objects.select_for_update()
        .select_related("customer", "team")
        .get(pk=ticket.pk if isinstance(ticket, Ticket) else ticket)
    )
    now = timezone.now()
    invitation = _check_callable(ticket, now)
    template = questionnaire_for(invitation)
    if template is None:
        raise ApplicationError(_("No questionnaire is in use; an administrator activates one under surveys."))
    if not answers:
        raise ApplicationError(_("Record the customer's answers, or the outcome of a call without them."))
    FollowUpCall.objects.create(ticket=ticket, agent=by, at=now, outcome=CallOutcome.ANSWERED, note=note.strip())
    return _store_answers(
        ticket=ticket, template=template, invitation=invitation, answers=answers, channel=SurveyChannel.PHONE,
        taken_by=by,
    )  # fmt: skip


@transaction.atomic
def record_unanswered_call(*, ticket: Ticket | int, by: Actor, outcome: str, note: str = "") -> FollowUpCall:
    """A follow-up call without answers: no answer (tried again another day, at most
    ``FOLLOW_UP_CALL_ATTEMPTS`` times), refused or a wrong number (not called again)."""
    if outcome not in CallOutcome.values or outcome == CallOutcome.ANSWERED:
        raise ApplicationError(_("Choose what happened on the call."), field="outcome")
    if by is None:
        raise ApplicationError(_("A follow-up call is recorded by the agent who made it."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk if isinstance(ticket, Ticket) else ticket)
    now = timezone.now()
    _check_callable(ticket, now)
    calls = list(ticket.follow_up_calls.values_list("at", flat=True))
    if len(calls) >= settings.FOLLOW_UP_CALL_ATTEMPTS:
        raise ApplicationError(_("This customer was already called %(n)s times.") % {"n": len(calls)})
    if outcome == CallOutcome.NO_ANSWER and any(at >= start_of_today(now) for at in calls):
        raise ApplicationError(_("The customer was already called today; try again on another day."), field="outcome")
    return FollowUpCall.objects.create(ticket=ticket, agent=by, at=now, outcome=outcome, note=(note or "").strip())


def answers_for_display(response: SurveyResponse) -> list[tuple[str, str]]:
    """(question, answer as worded in the survey) in the template's order, in the active language."""
    rows = []
    for question in response.template.questions.all():
        value = response.answers.get(question.key)
        if value in (None, ""):
            shown = "—"
        elif question.kind == QuestionKind.SCALE and question.choices:
            labels = question.choices
            shown = f"{labels[5 - int(value)]} ({value}/5)" if 1 <= int(value) <= len(labels) else str(value)
        elif question.kind == QuestionKind.NPS:
            shown = f"{value}/10"
        else:
            shown = str(value)
        rows.append((question.text, shown))
    return rows


def open_follow_up(response: SurveyResponse) -> Ticket:
    """Service recovery (闭环): a complaint ticket for the team's supervisor, quoting the answers,
    and an e-mail to that supervisor."""
    original = response.ticket
    team = original.team
    supervisor = team.supervisor if team.supervisor and team.supervisor.is_active else None
    with translation.override(settings.LANGUAGE_CODE):
        quoted = "\n".join(f"{question}: {answer}" for question, answer in answers_for_display(response))
        description = _("The customer answered the satisfaction survey of %(reference)s unhappily:") % {
            "reference": original.reference
        }
        subject = _("Unhappy customer after %(reference)s: %(subject)s") % {
            "reference": original.reference,
            "subject": original.subject,
        }
    category = Category.objects.filter(slug="complaint").first() or original.category
    follow_up = create_ticket(
        by=None,
        subject=subject[:200],
        description=f"{description}\n\n{quoted}",
        customer=original.customer,
        category=category,
        channel=Channel.WEB,
        priority=Priority.HIGH,
        team=team,
        assignee=supervisor,
        complaint_source="survey",
    )
    if supervisor and supervisor.email:
        queue_email(
            to=supervisor.email,
            template="survey_follow_up",
            context={
                "original": original,
                "follow_up": follow_up,
                "answers": quoted,
                "url": settings.SITE_URL + reverse("tickets:detail", args=[follow_up.pk]),
                "supervisor": supervisor,
                "desk_name": settings.DESK_NAME,
            },
            language=settings.LANGUAGE_CODE,
            kind="survey_follow_up",
            ticket=follow_up,
        )
    return follow_up


def send_due_reminders(limit: int = 500) -> int:
    """One reminder to each unanswered, unexpired invitation older than its template's
    reminder delay. Rows are claimed with SKIP LOCKED and marked in the same transaction
    as the reminder is queued, so a reminder goes once even with two sweepers."""
    now = timezone.now()
    sent = 0
    with transaction.atomic():
        due = (
            SurveyInvitation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("template", "ticket", "ticket__customer")
            .filter(answered_at__isnull=True, reminder_sent_at__isnull=True, expires_at__gt=now)
            .filter(ticket__merged_into__isnull=True)  # a merged duplicate's: the customer is asked once
            .filter(created_at__lte=ExpressionWrapper(
                Value(now) - F("template__reminder_days") * Value(timedelta(days=1)), output_field=DateTimeField()
            ))
            .order_by("created_at")
        )  # fmt: skip
        for invitation in due[:limit]:
            invitation.reminder_sent_at = now
            invitation.save(update_fields=["reminder_sent_at"])
            queue_email(
                to=invitation.email,
                template="survey_reminder",
                context=_email_context(invitation),
                language=invitation.language,
                kind="survey_reminder",
                ticket=invitation.ticket,
                not_before=daytime(invitation.ticket),
            )
            sent += 1
    return sent
