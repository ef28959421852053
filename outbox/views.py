"""A developer's view of the outbox (only with DEBUG, only for staff): read what the desk would send,
with its links written in as they would be at sending."""

from functools import wraps

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from outbox import links
from outbox.models import OutgoingEmail


def debug_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.DEBUG:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@debug_only
@staff_member_required
def dev_outbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(OutgoingEmail.objects.select_related("ticket"), 50).get_page(request.GET.get("page"))
    return render(request, "outbox/dev_list.html", {"page": page})


@require_GET
@debug_only
@staff_member_required
def dev_outbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    email = get_object_or_404(OutgoingEmail, pk=pk)
    body_text, body_html = links.fill(email.body_text), links.fill(email.body_html)
    return render(request, "outbox/dev_message.html", {"email": email, "body_text": body_text, "body_html": body_html})
