"""The agent's desk in the browser: the queue, logging a ticket, and the ticket page.

Every action is one POST that works without JavaScript: the form is validated,
the service in tickets.services acts, and the browser returns to the ticket with
a message. A refused action re-renders the page with the form and what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.exceptions import ApplicationError
from tickets import forms, hooks, services
from tickets.access import (
    acting_user,
    canned_replies_for_user,
    get_ticket_for_user,
    parse_pk,
    saved_views_for_user,
    shareable_teams,
    teams_for_user,
    ticket_by_reference_for_user,
    tickets_for_user,
)
from tickets.calendars import calendar_by_id
from tickets.filters import DEFAULT_QUERY, SORTS, VIEWS, TicketFilter, queue_query, user_assignees, view_queryset
from tickets.models import Attachment, CannedAction, Customer, Status, Ticket
from tickets.selectors import (
    canned_text,
    find_canned_reply,
    find_customers,
    queue_for_user,
    sla_clock,
    tag_suggestions,
    timeline_for,
    working_duration,
)
from tickets.worktime import working_time_between

QUEUE_PAGE_SIZE = 25
#: The queue counts its tickets up to this many; past it, it says "more than …" (counting a
#: million open tickets on every page view costs more than the page). A figure's drill-down
#: list always counts exactly: it must show the figure.
QUEUE_COUNT_CAP = 10_000


class QueuePaginator(Paginator):
    """A paginator that stops counting at ``cap`` (None: counts everything)."""

    def __init__(self, object_list, per_page, cap: int | None = None):
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        if self.cap is None:
            return super().count
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.cap is not None and self.count > self.cap

    @property
    def cap_shown(self) -> str:
        return f"{self.cap:,}"


def label_time_left(tickets: Any) -> None:
    """Each open ticket's next target as working time left on its team's calendar ("1 h 20 min"), for
    the queue's column: one calendar lookup per team on the page, no query per row."""
    rows = list(tickets)
    now = timezone.now()
    calendars = {pk: calendar_by_id(pk) for pk in {ticket.team.calendar_id for ticket in rows}}
    for ticket in rows:
        due = ticket.response_due_at if ticket.first_response_at is None else ticket.resolution_due_at
        if ticket.status == Status.PENDING and ticket.first_response_at is not None:
            ticket.time_left = None  # the resolution clock is stopped
        elif ticket.is_open and due is not None and due > now:
            ticket.time_left = working_duration(working_time_between(now, due, calendars[ticket.team.calendar_id]))
        else:
            ticket.time_left = None


#: The sidebar counts each view up to this many tickets ("999+" past it): its queries stay bounded.
VIEW_COUNT_CAP = 999


def _view_counts(request: HttpRequest) -> list[dict[str, Any]]:
    base = tickets_for_user(request.user).order_by()
    views = []
    for key, label in VIEWS.items():
        count = view_queryset(base, key, request).order_by().values("pk")[: VIEW_COUNT_CAP + 1].count()
        shown = f"{VIEW_COUNT_CAP}+" if count > VIEW_COUNT_CAP else str(count)
        views.append({"key": key, "label": label, "count": shown})
    return views


def _sort_links(query: QueryDict) -> dict[str, str]:
    """For each sortable column, the queue's query ordered by it (keeping every filter)."""
    links = {}
    for key in ("", *SORTS):
        ordered = query.copy()
        ordered.pop("page", None)
        ordered["sort"] = key
        links[key or "newest"] = ordered.urlencode()
    return links


@require_GET
@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    """The queue: my open tickets with the next due first unless something else is asked for; the
    built-in and saved views in the sidebar."""
    data = request.GET if request.GET else QueryDict(urlencode(DEFAULT_QUERY))
    filterset = TicketFilter(data, queryset=queue_for_user(request.user), request=request)
    tickets = filterset.qs
    cap = None if filterset.drilldown else QUEUE_COUNT_CAP
    page = QueuePaginator(tickets, QUEUE_PAGE_SIZE, cap).get_page(request.GET.get("page"))
    label_time_left(page.object_list)
    query = data.copy()
    query.pop("page", None)
    saved = list(saved_views_for_user(request.user).select_related("team", "owner"))
    context = {
        "filter": filterset, "page": page, "query": query.urlencode(), "views": _view_counts(request),
        "current_view": data.get("view", ""), "current_query": queue_query(data), "sort": data.get("sort", ""),
        "sort_links": _sort_links(query), "saved_views": saved,
        "share_teams": shareable_teams(request.user),
        "bulk": forms.BulkForm(people=user_assignees(request), initial={"query": query.urlencode()}),
        "tag_names": tag_suggestions(),
    }  # fmt: skip
    return render(request, "tickets/list.html", context)


@require_POST
@login_required
def view_save(request: HttpRequest) -> HttpResponse:
    """Save the queue's current filters and order under a name (shared with a team if asked)."""
    team = None
    if request.POST.get("team"):
        team = get_object_or_404(teams_for_user(request.user), pk=parse_pk(request.POST["team"]))
    query = queue_query(QueryDict(request.POST.get("query", "")))
    try:
        services.save_view(by=acting_user(request), name=request.POST.get("name", ""), query=query, team=team)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The view was saved."))
    return redirect(reverse("tickets:list") + (f"?{query}" if query else ""))


def _delete_own(request: HttpRequest, candidates: Any, pk: int, done: str, back: str) -> HttpResponse:
    """Delete one of ``candidates`` (what the user may see) through ``services.delete_own``."""
    found = get_object_or_404(candidates, pk=parse_pk(pk))
    try:
        services.delete_own(found, by=acting_user(request))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect(back)


@require_POST
@login_required
def view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete_own(request, saved_views_for_user(request.user), pk, _("The view was deleted."), "tickets:list")


@require_GET
@login_required
def customer_search(request: HttpRequest) -> HttpResponse:
    """Customers matching what the agent typed on the new-ticket form: the list alone for htmx (as they
    type), a page of its own without JavaScript. Each match opens the form filled in for them."""
    query = request.GET.get("q", "")
    matches = list(find_customers(query))
    template = "tickets/_partials/customer_matches.html" if request.htmx else "tickets/customer_search.html"
    return render(request, template, {"matches": matches, "q": query})


def _customer_initial(request: HttpRequest) -> dict[str, Any]:
    """The new-ticket form filled in for a customer picked in the search (``?customer=<id>``)."""
    if not request.GET.get("customer"):
        return {}
    customer = get_object_or_404(Customer, pk=parse_pk(request.GET["customer"]))
    return {"customer_name": customer.name, "customer_email": customer.email, "customer_phone": customer.phone,
            "customer_language": customer.preferred_language}  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
def ticket_create(request: HttpRequest) -> HttpResponse:
    form = forms.TicketCreateForm(
        request.POST or None, request.FILES or None, teams=teams_for_user(request.user),
        initial=_customer_initial(request) if request.method == "GET" else None,
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            fields = ("subject", "description", "category", "channel", "priority", "team", "assignee", "product",
                      "serial_number", "requested_at", "answered", "resolution", "attachments")  # fmt: skip
            ticket = services.log_ticket(
                by=acting_user(request),
                customer={
                    "name": data["customer_name"],
                    "email": data["customer_email"],
                    "phone": data["customer_phone"],
                    "language": data["customer_language"],
                },
                request_key=_key(data),
                **{name: data[name] for name in fields},
            )
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if ticket.resolved_at:
                messages.success(request, _("Ticket %s was logged and resolved.") % ticket.reference)
            else:
                messages.success(request, _("Ticket %s was created.") % ticket.reference)
            return redirect("tickets:detail", pk=ticket.pk)
    return render(request, "tickets/create.html", {"form": form}, status=400 if form.errors else 200)


#: The ticket page's action panels: (name, title, button). Reply and note sit in the main column.
SIDE_ACTIONS = (
    ("assign", gettext_lazy("Assign"), gettext_lazy("Assign")),
    ("pending", gettext_lazy("Wait for the customer"), gettext_lazy("Mark pending")),
    ("resume", gettext_lazy("The customer answered"), gettext_lazy("Back to open")),
    ("resolve", gettext_lazy("Resolve"), gettext_lazy("Resolve")),
    ("close", gettext_lazy("Close"), gettext_lazy("Close")),
    ("reopen", gettext_lazy("Reopen"), gettext_lazy("Reopen")),
)


def _action_forms(request: HttpRequest, ticket: Ticket, bound: dict[str, Any] | None = None) -> dict[str, Any]:
    allowed = services.allowed_actions(ticket)
    teams = teams_for_user(request.user)
    version = services.version_of(ticket)
    makers: dict[str, Callable[[], Any]] = {
        "update": lambda: forms.TicketEditForm(ticket=ticket, teams=teams, initial={"version": version}),
        "reply": forms.ReplyForm,
        "call": forms.CallForm,
        "note": forms.NoteForm,
        "assign": lambda: forms.AssignForm(ticket=ticket),
        "pending": forms.PendingForm,
        "resume": forms.ResumeForm,
        "resolve": forms.ResolveForm,
        "close": forms.CloseForm,
        "reopen": forms.ReopenForm,
    }
    built = {name: make() for name, make in makers.items() if name in allowed}
    customer = ticket.customer
    built["link"] = forms.LinkForm()
    if ticket.merged_into_id is None:
        built["merge"] = forms.MergeForm()
    built["customer"] = forms.CustomerForm(initial={name: getattr(customer, name) for name in services.CUSTOMER_FIELDS})
    built.update(bound or {})
    return built


def _side_actions(ticket: Ticket, built: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "title": title,
            "button": button,
            "form": built[name],
            "url": reverse(f"tickets:{name}", args=[ticket.pk]),
        }
        for name, title, button in SIDE_ACTIONS
        if name in built
    ]


def _detail(request: HttpRequest, ticket: Ticket, bound: dict[str, Any] | None = None, status: int = 200):
    now = timezone.now()
    built = _action_forms(request, ticket, bound)
    linked = [(link.to_ticket, link.get_kind_display()) for link in ticket.links_out.select_related("to_ticket")]
    linked += [(link.from_ticket, link.get_kind_display()) for link in ticket.links_in.select_related("from_ticket")]
    visible = set(tickets_for_user(request.user).filter(pk__in=[t.pk for t, _k in linked]).values_list("pk", flat=True))
    context = {
        "tag_names": tag_suggestions(),
        "links": [(other, kind) for other, kind in linked if other.pk in visible],
        "merged_tickets": tickets_for_user(request.user).filter(merged_into=ticket).only("pk", "reference")[:20],
        "other_tickets": tickets_for_user(request.user)
        .filter(customer_id=ticket.customer_id)
        .exclude(pk=ticket.pk)
        .order_by("-requested_at")[:5],
        "canned_replies": canned_replies_for_user(request.user).only("id", "name") if "reply" in built else [],
        "ticket": ticket,
        "events": timeline_for(ticket),
        "sla": sla_clock(ticket, now),
        "forms": built,
        "side_actions": _side_actions(ticket, built),
        "overdue": ticket.is_overdue(now),
        "panels": [panel for panel in hooks.ticket_panels.send(ticket=ticket, user=request.user) if panel],
    }
    return render(request, "tickets/detail.html", context, status=status)


@require_GET
@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket; with ``?canned=<id>``, or ``?canned_q=`` words of a canned reply's name or text,
    its reply box filled with that canned reply."""
    ticket = get_ticket_for_user(request.user, pk)
    bound = None
    replies = canned_replies_for_user(request.user)
    wanted = request.GET.get("canned_q", "").strip()[:100]
    canned = None
    if request.GET.get("canned"):
        canned = replies.filter(pk=parse_pk(request.GET["canned"])).first()
        if canned is None:
            raise Http404
    elif wanted:
        canned = find_canned_reply(replies, wanted)
        if canned is None:
            messages.warning(request, _("No canned reply has “%(words)s” in its name or text.") % {"words": wanted})
    if canned is not None and "reply" in services.allowed_actions(ticket):
        reply = forms.ReplyForm(initial={"body": canned_text(canned, ticket, request.user), "then": canned.action})
        bound = {"reply": reply}
    return _detail(request, ticket, bound)


def _act(
    request: HttpRequest,
    pk: int,
    name: str,
    form: Any,
    act: Callable[[Ticket, dict[str, Any]], Any],
    done: str | Callable[[Ticket], str],
) -> HttpResponse:
    """Validate ``form``, call the service, and show the ticket it returns — this one, or the one it
    was merged into — with ``done`` (or ``done(ticket)``); or re-render with errors."""
    ticket = get_ticket_for_user(request.user, pk, write=True)
    if form.is_valid():
        try:
            result = act(ticket, form.cleaned_data)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, done(ticket) if callable(done) else done)
            return redirect("tickets:detail", pk=result.pk if isinstance(result, Ticket) else ticket.pk)
    ticket.refresh_from_db()
    messages.error(request, _("The action was not carried out; see the message below."))
    return _detail(request, ticket, bound={name: form}, status=400)


def _key(data: dict[str, Any]) -> str | None:
    return data.get("request_key") or None


@transaction.atomic
def _reply(request: HttpRequest, ticket: Ticket, data: dict[str, Any]) -> Ticket:
    """The reply, then (a canned reply's action) the wait for the customer, in one transaction."""
    by = acting_user(request)
    ticket = services.add_reply(
        ticket=ticket, by=by, body=data["body"], request_key=_key(data), attachments=data["attachments"]
    )
    if data.get("then") == CannedAction.PENDING and ticket.status != Status.PENDING:
        ticket = services.mark_pending(ticket=ticket, by=by, request_key=_key(data))
    return ticket


@require_POST
@login_required
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "reply",
        forms.ReplyForm(request.POST, request.FILES),
        lambda t, d: _reply(request, t, d),
        _("Your reply was added."),
    )


@require_http_methods(["GET", "POST"])
@login_required
def canned_replies(request: HttpRequest) -> HttpResponse:
    """The canned replies one may use (one's own and one's teams'), and a form to write one."""
    form = forms.CannedReplyForm(request.POST or None, teams=shareable_teams(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            services.save_canned_reply(by=acting_user(request), **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The canned reply was saved."))
            return redirect("tickets:canned")
    replies = canned_replies_for_user(request.user).select_related("team", "owner")
    return render(
        request, "tickets/canned.html", {"form": form, "replies": replies}, status=400 if form.errors else 200
    )


@require_POST
@login_required
def canned_delete(request: HttpRequest, pk: int) -> HttpResponse:
    replies = canned_replies_for_user(request.user)
    return _delete_own(request, replies, pk, _("The canned reply was deleted."), "tickets:canned")


@transaction.atomic
def _edit(request: HttpRequest, ticket: Ticket, data: dict[str, Any]) -> Ticket:
    """The details, then the tags, in one transaction."""
    by = acting_user(request)
    ticket = services.update_ticket(
        ticket=ticket, by=by, request_key=_key(data), expected_version=data["version"], note=data["reason"],
        **{name: data[name] for name in forms.TicketEditForm.CHANGES},
    )  # fmt: skip
    return services.set_tags(ticket=ticket, by=by, names=services.parse_tags(data["tags"]))


@require_POST
@login_required
def ticket_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket's details changed in place; refused when someone changed the ticket since the
    form was shown (what was typed stays in the form)."""
    ticket = get_ticket_for_user(request.user, pk, write=True)
    form = forms.TicketEditForm(request.POST, ticket=ticket, teams=teams_for_user(request.user))
    return _act(
        request,
        pk,
        "update",
        form,
        lambda t, d: _edit(request, t, d),
        _("The ticket's details were saved."),
    )


@require_POST
@login_required
def ticket_customer(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer's details corrected from their ticket (recorded in its timeline)."""
    return _act(
        request,
        pk,
        "customer",
        forms.CustomerForm(request.POST),
        lambda t, d: services.update_customer(
            ticket=t,
            by=acting_user(request),
            request_key=_key(d),
            **{name: d[name] for name in services.CUSTOMER_FIELDS},
        ),
        _("The customer's details were saved."),
    )


def _link(request: HttpRequest, ticket: Ticket, data: dict[str, Any]) -> Any:
    other = ticket_by_reference_for_user(request.user, data["reference"])
    return services.link_tickets(ticket=ticket, other=other, by=acting_user(request), kind=data["kind"])


@require_POST
@login_required
def ticket_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link the ticket to another one of one's teams, named by its reference."""
    return _act(request, pk, "link", forms.LinkForm(request.POST), lambda t, d: _link(request, t, d),
                _("The tickets were linked."))  # fmt: skip


@require_POST
@login_required
def ticket_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge the ticket, a duplicate, into another one of one's teams; then show that one."""
    return _act(
        request,
        pk,
        "merge",
        forms.MergeForm(request.POST),
        lambda t, d: services.merge_tickets(
            ticket=t,
            into=ticket_by_reference_for_user(request.user, d["into"], field="into"),
            by=acting_user(request),
            note=d["note"],
        ),
        lambda t: _("%(duplicate)s was merged into this ticket.") % {"duplicate": t.reference},
    )


@require_POST
@login_required
def ticket_call(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "call",
        forms.CallForm(request.POST),
        lambda t, d: services.log_call(
            ticket=t,
            by=acting_user(request),
            summary=d["summary"],
            direction=d["direction"],
            at=d["at"],
            request_key=_key(d),
        ),
        _("The call was logged."),
    )


@require_POST
@login_required
def ticket_note(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "note",
        forms.NoteForm(request.POST, request.FILES),
        lambda t, d: services.add_note(
            ticket=t, by=acting_user(request), body=d["body"], request_key=_key(d), attachments=d["attachments"]
        ),
        _("The internal note was added."),
    )


@require_POST
@login_required
def ticket_assign(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_ticket_for_user(request.user, pk, write=True)
    return _act(
        request,
        pk,
        "assign",
        forms.AssignForm(request.POST, ticket=ticket),
        lambda t, d: services.assign_ticket(
            ticket=t, by=acting_user(request), assignee=d["assignee"], request_key=_key(d)
        ),
        _("The ticket was assigned."),
    )


@require_POST
@login_required
def ticket_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "resume",
        forms.ResumeForm(request.POST),
        lambda t, d: services.resume_ticket(ticket=t, by=acting_user(request), note=d["note"], request_key=_key(d)),
        _("The ticket is open again; the time it waited does not count."),
    )


@require_POST
@login_required
def ticket_pending(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "pending",
        forms.PendingForm(request.POST),
        lambda t, d: services.mark_pending(ticket=t, by=acting_user(request), note=d["note"], request_key=_key(d)),
        _("The ticket is now pending on the customer."),
    )


@require_POST
@login_required
def ticket_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "resolve",
        forms.ResolveForm(request.POST),
        lambda t, d: services.resolve_ticket(ticket=t, by=acting_user(request), note=d["note"], request_key=_key(d)),
        _("The ticket was resolved."),
    )


@require_POST
@login_required
def ticket_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "close",
        forms.CloseForm(request.POST),
        lambda t, d: services.close_ticket(ticket=t, by=acting_user(request), note=d["note"], request_key=_key(d)),
        _("The ticket was closed."),
    )


@require_POST
@login_required
def ticket_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "reopen",
        forms.ReopenForm(request.POST),
        lambda t, d: services.reopen_ticket(ticket=t, by=acting_user(request), reason=d["reason"], request_key=_key(d)),
        _("The ticket was reopened."),
    )


#: Served files never run in the desk's origin: no script, no plugin, no frame, no form.
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@require_GET
@login_required
def attachment(request: HttpRequest, pk: int, attachment_pk: int, thumbnail: bool = False) -> FileResponse:
    """A ticket's file, for those who may see the ticket: always a download (the thumbnail of a
    picture, re-encoded by the desk, is the one thing shown inline)."""
    ticket = get_ticket_for_user(request.user, pk)
    attached = get_object_or_404(Attachment, pk=parse_pk(attachment_pk), ticket=ticket)
    if thumbnail:
        if not attached.thumbnail:
            raise Http404
        stored = attached.thumbnail.open("rb")
        head = stored.read(8)
        stored.seek(0)
        response = FileResponse(stored, content_type="image/png" if head.startswith(b"\x89PNG") else "image/jpeg")
        response["Content-Disposition"] = "inline"
    else:
        response = FileResponse(
            attached.file.open("rb"), as_attachment=True, filename=attached.name, content_type=attached.content_type
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_CSP
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _bulk_one(action: str, ticket: Ticket, by: Any, data: dict[str, Any]) -> None:
    if action == "assign":
        services.assign_ticket(ticket=ticket, by=by, assignee=data["assignee"])
    elif action == "priority":
        services.update_ticket(ticket=ticket, by=by, priority=data["priority"])
    elif action == "pending":
        services.mark_pending(ticket=ticket, by=by, note=data["note"])
    elif action == "resolve":
        services.resolve_ticket(ticket=ticket, by=by, note=data["note"])
    elif action == "tag":
        services.add_tag(ticket=ticket, by=by, name=data["tag"])
    elif action == "merge":
        services.merge_tickets(ticket=ticket, into=data["into_ticket"], by=by)


@require_POST
@login_required
def bulk(request: HttpRequest) -> HttpResponse:
    """One action on the tickets ticked in the queue: each through the same service as on its page;
    a summary of what was done and, ticket by ticket, what was refused and why."""
    form = forms.BulkForm(request.POST, people=user_assignees(request))
    back = reverse("tickets:list") + (
        f"?{queue_query(QueryDict(request.POST.get('query', '')))}" if request.POST.get("query") else ""
    )
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    by = acting_user(request)
    if data["action"] == "merge":
        try:
            data["into_ticket"] = ticket_by_reference_for_user(request.user, data["into"], field="into")
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect(back)
    found = {t.pk: t for t in tickets_for_user(request.user).filter(pk__in=data["tickets"])}
    done, refused = 0, []
    for pk in data["tickets"]:
        ticket = found.get(pk)
        if ticket is None:
            refused.append(_("#%(pk)s: no such ticket in your teams") % {"pk": pk})
            continue
        if data["action"] == "merge" and ticket.pk == data["into_ticket"].pk:
            continue  # the ticket the others are merged into, ticked with them
        try:
            _bulk_one(data["action"], ticket, by, data)
        except ApplicationError as error:
            refused.append(f"{ticket.reference}: {error.message}")
        else:
            done += 1
    if done:
        messages.success(
            request, ngettext("%(n)d ticket was changed.", "%(n)d tickets were changed.", done) % {"n": done}
        )
    if refused:
        messages.error(
            request,
            ngettext("%(n)d ticket was refused:", "%(n)d tickets were refused:", len(refused)) % {"n": len(refused)}
            + " " + "; ".join(refused),
        )  # fmt: skip
    return redirect(back)
