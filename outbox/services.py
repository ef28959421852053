"""Queue e-mail in the caller's transaction; deliver it afterwards, exactly once per success.

``queue_email`` renders a subject / text / HTML triplet from ``templates/emails/``
in the recipient's language and writes an ``OutgoingEmail`` row. After the
transaction commits, a Celery task is asked to deliver it; if the broker is down,
the row simply waits for the sweeper (``sweep``, on the beat schedule).

``deliver`` claims a row with a conditional UPDATE before talking to SMTP, so
concurrent workers and sweepers never send the same message twice. A failed
attempt is retried with exponential backoff up to ``OUTBOX_MAX_ATTEMPTS``; a permanent
refusal (SMTP 5xx) fails the row at once. The last error stays on the row, visible in
admin, where "send again" makes it due once more.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from outbox import links
from outbox.models import EmailStatus, OutgoingEmail

logger = logging.getLogger(__name__)

#: How long a sender may hold a claimed message before another may take it over.
LEASE = timedelta(minutes=5)


def render_email(template: str, context: dict[str, Any], language: str) -> tuple[str, str, str]:
    """Subject, text and HTML of ``templates/emails/<template>_{subject.txt,.txt,.html}``."""
    with translation.override(language):
        subject = render_to_string(f"emails/{template}_subject.txt", context)
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    return " ".join(subject.split())[:998], text, html


def queue_email(
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    language: str,
    kind: str,
    ticket: Any = None,
    not_before: datetime | None = None,
    from_email: str = "",
    in_reply_to: str = "",
    references: list[str] | None = None,
    attachments: list[dict[str, str]] | None = None,
) -> OutgoingEmail:
    """Write the message to the outbox and have it sent after the current transaction commits, or
    from ``not_before`` on (the sweeper sends it then: a survey waits for the customer's morning).
    ``from_email``, ``in_reply_to`` and ``references`` thread it into a conversation by e-mail;
    ``attachments`` name files in the default storage, read as the message is sent."""
    subject, text, html = render_email(template, context, language)
    now = timezone.now()
    email = OutgoingEmail.objects.create(
        kind=kind, to=to, subject=subject, body_text=text, body_html=html, language=language, ticket=ticket,
        next_attempt_at=max(not_before or now, now), from_email=from_email, in_reply_to=in_reply_to,
        references=references or [], attachments=attachments or [],
    )  # fmt: skip
    if email.next_attempt_at <= now:
        transaction.on_commit(lambda: enqueue_delivery(email.pk))
    return email


def enqueue_delivery(pk: int) -> None:
    """Ask a worker to deliver ``pk`` now. Never raises, and never keeps the request waiting on a
    broker that is down or hung: one short try (``OUTBOX_PUBLISH_TIMEOUT``), then the sweeper covers it."""
    from outbox.tasks import deliver_email

    timeout = settings.OUTBOX_PUBLISH_TIMEOUT
    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout, "max_retries": 0}
    try:
        with deliver_email.app.connection_for_write(connect_timeout=timeout, transport_options=options) as connection:
            deliver_email.apply_async((pk,), retry=False, connection=connection)
    except Exception as error:  # the broker is unreachable: the row waits for the sweeper
        logger.warning("Could not queue delivery of e-mail %s (%s); the outbox sweeper will send it.", pk, error)


def _due() -> Q:
    now = timezone.now()
    return Q(status=EmailStatus.PENDING, next_attempt_at__lte=now) | Q(status=EmailStatus.SENDING, locked_until__lt=now)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failed attempt, at most 6 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def permanent_failure(error: Exception) -> bool:
    """A 5xx answer from the mail server (no such mailbox, relaying denied, message refused):
    trying again later cannot help. A 4xx answer, a timeout or a lost connection can."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


#: Messages a person wrote (an agent's reply): every other kind goes out marked ``Auto-Submitted``, so
#: that autoresponders do not answer it (RFC 3834).
WRITTEN_BY_PEOPLE = frozenset({"ticket_reply"})
#: An acknowledgement answers the customer's mail automatically.
AUTO_REPLIES = frozenset({"ticket_received"})


def _headers(email: OutgoingEmail) -> dict[str, str]:
    headers = {"Message-ID": email.message_id}
    if email.kind not in WRITTEN_BY_PEOPLE:
        headers["Auto-Submitted"] = "auto-replied" if email.kind in AUTO_REPLIES else "auto-generated"
    if email.in_reply_to:
        headers["In-Reply-To"] = email.in_reply_to
    if email.references:
        headers["References"] = " ".join(email.references)
    return headers


def _message(email: OutgoingEmail) -> EmailMultiAlternatives:
    """The message as it goes out: secret links written in now (``outbox.links``), never stored;
    attached files read from storage now."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=links.fill(email.body_text),
        from_email=email.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers=_headers(email),
    )
    if email.body_html:
        message.attach_alternative(links.fill(email.body_html), "text/html")
    for attached in email.attachments:
        with default_storage.open(attached["path"], "rb") as stored:
            message.attach(attached["name"], stored.read(), attached["content_type"])
    return message


def deliver(pk: int) -> bool:
    """Claim and send one message. True when this call sent it; False when it was not
    due, already taken by another sender, or the attempt failed (then rescheduled)."""
    now = timezone.now()
    claimed = OutgoingEmail.objects.filter(_due(), pk=pk).update(
        status=EmailStatus.SENDING, locked_until=now + LEASE, attempts=F("attempts") + 1
    )
    if not claimed:
        return False
    email = OutgoingEmail.objects.get(pk=pk)
    try:
        message = _message(email)
    except Exception as error:  # a link whose object is gone: nothing to send, ever
        OutgoingEmail.objects.filter(pk=pk).update(
            status=EmailStatus.FAILED, locked_until=None, last_error=f"{error.__class__.__name__}: {error}"[:2000]
        )
        logger.warning("E-mail %s could not be written: %s", pk, error)
        return False
    try:
        with get_connection(timeout=settings.EMAIL_TIMEOUT) as connection:
            connection.send_messages([message])
    except Exception as error:  # SMTP refused, timed out, DNS … : keep the reason, try later
        gave_up = permanent_failure(error) or email.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        OutgoingEmail.objects.filter(pk=pk, status=EmailStatus.SENDING).update(
            status=EmailStatus.FAILED if gave_up else EmailStatus.PENDING,
            next_attempt_at=timezone.now() + backoff(email.attempts),
            locked_until=None,
            last_error=f"{error.__class__.__name__}: {error}"[:2000],
        )
        logger.warning("E-mail %s to %s failed (attempt %s): %s", pk, email.to, email.attempts, error)
        return False
    OutgoingEmail.objects.filter(pk=pk).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), locked_until=None, last_error=""
    )
    return True


def sweep(limit: int = 200) -> int:
    """Deliver every message that is due (a broker outage, a crashed worker, a retry). Returns how many were sent."""
    pks = list(OutgoingEmail.objects.filter(_due()).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    return sum(deliver(pk) for pk in pks)


def retry_now(queryset: QuerySet[OutgoingEmail]) -> int:
    """Admin action: make failed or waiting messages due immediately (attempts start over)."""
    return queryset.exclude(status=EmailStatus.SENT).update(
        status=EmailStatus.PENDING, next_attempt_at=timezone.now(), attempts=0, locked_until=None
    )
