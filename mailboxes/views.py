"""Incoming mail in the browser: the held mails, a mail as received, letting one through."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.exceptions import ApplicationError
from mailboxes import parsing, services
from mailboxes.access import get_message_for_user, messages_for_user, waiting_for_user
from mailboxes.models import WAITING
from tickets.access import acting_user, parse_pk

#: A mail shown with its remote pictures may load them from anywhere (they are the sender's).
REMOTE_IMAGES_CSP = (
    "default-src 'self'; img-src 'self' data: https: http:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


@require_GET
@login_required
def held(request: HttpRequest) -> HttpResponse:
    """Mails waiting for an agent: answers from someone other than the ticket's customer, and
    (for managers) senders who opened too many tickets in an hour."""
    waiting = waiting_for_user(request.user).select_related("ticket", "mailbox").order_by("-received_at", "-id")
    page = Paginator(waiting, 25).get_page(request.GET.get("page"))
    return render(request, "mailboxes/held.html", {"page": page})


@require_GET
@login_required
def message(request: HttpRequest, pk: int) -> HttpResponse:
    """A mail as it was received: its text (preferred), or its HTML sanitised, remote pictures held
    back until asked for."""
    mail = get_message_for_user(request.user, pk)
    show_html = bool(mail.body_html) and request.GET.get("html") == "1"
    remote_images = show_html and request.GET.get("images") == "1"
    html, held_images = parsing.sanitise_html(mail.body_html, remote_images=remote_images) if show_html else ("", 0)
    response = render(
        request,
        "mailboxes/message.html",
        {"mail": mail, "show_html": show_html, "html": html, "held_images": held_images,
         "remote_images": remote_images, "waiting": mail.outcome in WAITING},
    )  # fmt: skip
    if remote_images:
        response["Content-Security-Policy"] = REMOTE_IMAGES_CSP
    return response


@require_GET
@login_required
def event_message(request: HttpRequest, event_pk: int) -> HttpResponse:
    """The mail behind a ticket's timeline entry."""
    mail = get_object_or_404(messages_for_user(request.user), event_id=parse_pk(event_pk))
    return redirect("mailboxes:message", pk=mail.pk)


def _decide(request: HttpRequest, pk: int, accept: bool) -> HttpResponse:
    mail = get_message_for_user(request.user, pk)
    try:
        if accept:
            decided = services.accept(message=mail, by=acting_user(request))
        else:
            decided = services.reject(message=mail, by=acting_user(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("mailboxes:message", pk=mail.pk)
    if accept and decided.ticket is not None:
        messages.success(request, _("The e-mail was added to ticket %s.") % decided.ticket.reference)
        return redirect("tickets:detail", pk=decided.ticket.pk)
    messages.success(request, _("The e-mail was rejected; it stays out of the desk."))
    return redirect("mailboxes:held")


@require_POST
@login_required
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, accept=True)


@require_POST
@login_required
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, accept=False)
