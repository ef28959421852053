"""A developer's view of the outbox (only with DEBUG): read what the desk would send."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from outbox.models import OutgoingEmail


@require_GET
def dev_outbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(OutgoingEmail.objects.select_related("ticket"), 50).get_page(request.GET.get("page"))
    return render(request, "outbox/dev_list.html", {"page": page})


@require_GET
def dev_outbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "outbox/dev_message.html", {"email": get_object_or_404(OutgoingEmail, pk=pk)})
