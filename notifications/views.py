"""A person's notifications: the list (newest first), mark all read, the e-mail digest switch."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from notifications import services
from notifications.models import Notification, Preference
from tickets.access import acting_user

LATEST = 100


@require_GET
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    rows = (
        Notification.objects.filter(recipient=acting_user(request))
        .select_related("ticket", "event__actor")
        .order_by("-created_at", "-id")[:LATEST]
    )
    preference = Preference.objects.filter(user=acting_user(request)).first()
    context = {"notices": rows, "digest_on": preference.email_digest if preference else True}
    return render(request, "notifications/list.html", context)


@require_POST
@login_required
def notification_read(request: HttpRequest) -> HttpResponse:
    services.mark_all_read(acting_user(request))
    return redirect("notifications:list")


@require_POST
@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    on = request.POST.get("email_digest") == "on"
    services.set_digest(acting_user(request), on)
    messages.success(request, _("The e-mail digest is on.") if on else _("The e-mail digest is off."))
    return redirect("notifications:list")
