"""The customer's survey page (no login) and the survey results list (logged in)."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from config.exceptions import ApplicationError
from surveys import services
from surveys.access import responses_for_user
from surveys.filters import SurveyResponseFilter
from surveys.forms import PhoneSurveyForm, SurveyForm, UnansweredCallForm
from surveys.models import FollowUpCall, SurveyInvitation
from surveys.selectors import calls_due
from tickets.access import acting_user, get_ticket_for_user

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def _token_key(group: str, request: HttpRequest) -> str:
    match = request.resolver_match
    return services.hash_token(match.kwargs.get("token", "") if match else "")


def no_referrer(view):
    """The link's token must not travel on in a Referer header to any page the survey links to."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper


def _get_rate(group: str, request: HttpRequest) -> str:
    return settings.SURVEY_GET_RATE


def _page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@csrf_exempt  # the link's token is the credential; the page sends no referrer, so browsers post "Origin: null"
@require_http_methods(["GET", "POST"])
@no_referrer
@ratelimit(key="ip", rate="60/m", method="POST")
@ratelimit(key=_token_key, rate="10/h", method="POST")
@ratelimit(key="ip", rate=_get_rate, method="GET")
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the survey (and counts the opening: mail scanners open links, so GET
    never answers anything). POST stores the answers once."""
    invitation = services.find_invitation(token)
    if invitation is None:
        return _page(request, "surveys/gone.html", {"reason": "unknown"}, status=404)
    language = request.GET.get("lang")
    language = language if language in LANGUAGE_CODES else invitation.language
    with translation.override(language):
        context = {"invitation": invitation, "ticket": invitation.ticket, "template": invitation.template}
        try:
            services.check_open(invitation)
        except services.SurveyClosed as closed:
            return _page(request, "surveys/gone.html", {**context, "reason": closed.reason}, status=410)
        if request.method == "GET":
            services.record_open(invitation)
            form = SurveyForm(template=invitation.template)
            return _page(request, "surveys/answer.html", {**context, "form": form, "language": language})
        form = SurveyForm(request.POST, template=invitation.template)
        if not form.is_valid():
            return _page(request, "surveys/answer.html", {**context, "form": form, "language": language}, 400)
        try:
            services.submit_survey(
                invitation=invitation,
                answers=form.answers(),
                contact_name=form.cleaned_data["contact_name"],
                contact_details=form.cleaned_data["contact_details"],
            )
        except services.SurveyClosed as closed:
            return _page(request, "surveys/gone.html", {**context, "reason": closed.reason}, status=410)
        return _page(request, "surveys/thanks.html", context)


@require_GET
@login_required
def response_list(request: HttpRequest) -> HttpResponse:
    filterset = SurveyResponseFilter(request.GET or None, queryset=responses_for_user(request.user), request=request)
    page = Paginator(filterset.qs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "surveys/list.html", {"filter": filterset, "page": page, "query": query.urlencode()})


@require_GET
@login_required
def call_queue(request: HttpRequest) -> HttpResponse:
    """The follow-up call queue (回访队列)."""
    page = Paginator(calls_due(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "surveys/calls.html", {"page": page})


def _call_page(request, ticket, answers_form=None, unanswered_form=None, status=200) -> HttpResponse:
    invitation = SurveyInvitation.objects.filter(ticket=ticket).select_related("template").first()
    template = services.questionnaire_for(invitation)
    context = {
        "ticket": ticket,
        "template": template,
        "invitation": invitation,
        "calls": FollowUpCall.objects.filter(ticket=ticket).select_related("agent"),
        "form": answers_form or (PhoneSurveyForm(template=template) if template else None),
        "unanswered_form": unanswered_form or UnansweredCallForm(),
    }
    return render(request, "surveys/call.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def call_answers(request: HttpRequest, pk: int) -> HttpResponse:
    """One follow-up call: the questionnaire to fill in with the customer on the line."""
    ticket = get_ticket_for_user(request.user, pk, write=request.method == "POST")
    if request.method == "GET":
        return _call_page(request, ticket)
    invitation = SurveyInvitation.objects.filter(ticket=ticket).select_related("template").first()
    template = services.questionnaire_for(invitation)
    if template is None:
        messages.error(request, _("No questionnaire is in use; an administrator activates one under surveys."))
        return _call_page(request, ticket, status=400)
    form = PhoneSurveyForm(request.POST, template=template)
    if form.is_valid():
        try:
            services.record_phone_answers(
                ticket=ticket, by=acting_user(request), answers=form.answers(), note=form.cleaned_data["note"]
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The customer's answers were recorded."))
            return redirect("survey_results:calls")
    messages.error(request, _("The answers were not recorded; see the message below."))
    return _call_page(request, ticket, answers_form=form, status=400)


@require_POST
@login_required
def call_unanswered(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_ticket_for_user(request.user, pk, write=True)
    form = UnansweredCallForm(request.POST)
    if form.is_valid():
        try:
            services.record_unanswered_call(
                ticket=ticket, by=acting_user(request), outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )  # fmt: skip
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The call was recorded."))
            return redirect("survey_results:calls")
    messages.error(request, _("The call was not recorded; see the message below."))
    return _call_page(request, ticket, unanswered_form=form, status=400)
