"""The supervisor's complaints board and the complaint page with its ladder and closing loop."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from complaints import forms, services
from complaints.access import can_act, can_escalate, complaints_for_user, get_complaint_for_user
from complaints.filters import ComplaintFilter
from complaints.models import ComplaintStatus
from complaints.selectors import board_for_user, complained_of, root_cause_summary
from config.exceptions import ApplicationError, Conflict
from tickets.access import acting_user, get_ticket_for_user


@require_GET
@login_required
def complaint_board(request: HttpRequest) -> HttpResponse:
    # The board shows open complaints; asking for a status (closed ones, say) lists those instead.
    if request.GET.get("status"):
        queryset = complaints_for_user(request.user).order_by("-opened_at")
    else:
        queryset = board_for_user(request.user)
    filterset = ComplaintFilter(request.GET or None, queryset=queryset, request=request)
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    context = {"filter": filterset, "page": page, "root_causes": root_cause_summary(request.user)}
    return render(request, "complaints/board.html", context)


def _detail(request, complaint, bound=None, status=200):
    context = {
        "complaint": complaint,
        "events": complaint.events.select_related("actor"),
        "can_act": can_act(request.user, complaint),
        "can_escalate": can_escalate(request.user, complaint) and complaint.level < 3,
        "is_open": complaint.status != ComplaintStatus.CLOSED,
        "survey_ok": services.satisfied_survey_after_fix(complaint),
        "escalate_form": forms.EscalateForm(),
        "update_form": forms.UpdateForm(instance=complaint),
        "confirmation_form": forms.ConfirmationForm(),
        "close_form": forms.CloseForm(),
        "appointment_form": forms.AppointmentForm(
            initial={
                "appointment_at": complaint.appointment_at,
                "appointment_place": complaint.appointment_place,
                "appointment_with": complaint.appointment_with,
            }
        ),
        "complained_of": complained_of(complaint),
        **(bound or {}),
    }
    return render(request, "complaints/detail.html", context, status=status)


@require_GET
@login_required
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_complaint_for_user(request.user, pk))


def _act(request, pk: int, name: str, form, act: Callable, done: str) -> HttpResponse:
    complaint = get_complaint_for_user(request.user, pk)
    if form.is_valid():
        try:
            act(complaint, form.cleaned_data)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, done)
            return redirect("complaints:detail", pk=complaint.pk)
    messages.error(request, _("The action was not carried out; see the message below."))
    return _detail(request, get_complaint_for_user(request.user, pk), {name: form}, status=400)


@require_POST
@login_required
def complaint_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "escalate_form",
        forms.EscalateForm(request.POST),
        lambda c, d: services.escalate_complaint(complaint=c, by=acting_user(request), reason=d["reason"]),
        _("The complaint was escalated."),
    )


@require_POST
@login_required
def complaint_update(request: HttpRequest, pk: int) -> HttpResponse:
    complaint = get_complaint_for_user(request.user, pk)
    saved = {name: getattr(complaint, name) for name in services.EDITABLE}  # before the form touches the instance
    form = forms.UpdateForm(request.POST, instance=complaint)
    if form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.update_complaint(
                complaint=complaint, by=acting_user(request), expected_version=data.pop("version"), **data
            )
        except Conflict as conflict:
            # Both texts stay in view: what the other person saved, and the form as this person typed it,
            # now at the current version so that saving again is a deliberate choice.
            current = get_complaint_for_user(request.user, pk)
            form.add_error(None, conflict.message)
            data = QueryDict(mutable=True)
            data.update(form.data)
            data["version"] = str(current.version)
            form.data = data
            theirs = [(form.fields[name].label, _display(current, name)) for name in services.EDITABLE
                      if getattr(current, name) != saved[name]]  # fmt: skip
            messages.error(request, _("The complaint was not saved."))
            return _detail(request, current, {"update_form": form, "theirs": theirs}, status=409)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The complaint was updated."))
            return redirect("complaints:detail", pk=complaint.pk)
    messages.error(request, _("The action was not carried out; see the message below."))
    return _detail(request, get_complaint_for_user(request.user, pk), {"update_form": form}, status=400)


def _display(complaint, name: str) -> str:
    value = getattr(complaint, name)
    display = getattr(complaint, f"get_{name}_display", None)
    return str(display() if display else ("—" if value in (None, "") else value))


@require_POST
@login_required
def complaint_request_confirmation(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "close_form",
        forms.CloseForm(request.POST),
        lambda c, d: services.request_confirmation(complaint=c, by=acting_user(request)),
        _("The complaint now waits for the customer's confirmation."),
    )


@require_POST
@login_required
def complaint_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "confirmation_form",
        forms.ConfirmationForm(request.POST),
        lambda c, d: services.log_confirmation(complaint=c, by=acting_user(request), **d),
        _("The customer's confirmation was logged."),
    )


@require_POST
@login_required
def complaint_appointment(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "appointment_form",
        forms.AppointmentForm(request.POST),
        lambda c, d: services.set_appointment(
            complaint=c,
            by=acting_user(request),
            at=d["appointment_at"],
            place=d["appointment_place"],
            with_whom=d["appointment_with"],
        ),
        _("The appointment was saved; you will be reminded before it."),
    )


@require_POST
@login_required
def complaint_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "close_form",
        forms.CloseForm(request.POST),
        lambda c, d: services.close_complaint(complaint=c, by=acting_user(request), note=d["note"]),
        _("The complaint was closed."),
    )


@require_POST
@login_required
def complaint_raise(request: HttpRequest, ticket_pk: int) -> HttpResponse:
    """An agent raises a complaint on a ticket (of any category)."""
    ticket = get_ticket_for_user(request.user, ticket_pk, write=True)
    form = forms.RaiseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a severity."))
        return redirect("tickets:detail", pk=ticket.pk)
    complaint = services.open_complaint(
        ticket=ticket, by=acting_user(request), source="raised", severity=form.cleaned_data["severity"]
    )
    messages.success(request, _("A complaint was opened for %s.") % ticket.reference)
    return redirect("complaints:detail", pk=complaint.pk)
