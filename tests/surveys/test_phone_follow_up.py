"""Follow-up by phone (电话回访): the call queue, answers taken on the line in the same questionnaire,
calls without answers retried on other days, and answers by phone counted like e-mailed ones."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from complaints.models import Complaint
from config.exceptions import ApplicationError
from kpis.engine import refresh_kpis
from kpis.models import KPIValue
from surveys import services
from surveys.models import FollowUpCall, SurveyResponse
from surveys.selectors import calls_due
from tests.factories import CustomerFactory, make_ticket
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

ANSWERS = {
    "attitude": "5",
    "speed": "4",
    "professionalism": "5",
    "problem_solving": "5",
    "helpfulness": "4",
    "overall": "5",
    "nps": "9",
}


@pytest.fixture(autouse=True)
def _english(agent_client):
    agent_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


def _resolved(team, agent, email=""):
    ticket = make_ticket(
        team=team, by=agent, assignee=agent, customer=CustomerFactory(email=email, phone="13911112222")
    )
    return ticket_services.resolve_ticket(ticket=ticket, by=agent, note="已修好")


def _kpi(key: str) -> KPIValue:
    refresh_kpis(full=True)
    return KPIValue.objects.get(kpi=key, granularity="day", dimension="all", period_start=timezone.localdate())


def test_a_customer_without_email_is_followed_up_by_phone_and_counted_like_an_emailed_answer(agent_client, agent, team):
    ticket = _resolved(team, agent)
    assert f'href="/surveys/calls/{ticket.pk}/"' in agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    queue = agent_client.get("/surveys/calls/").content.decode()
    assert ticket.reference in queue and "13911112222" in queue and "no e-mail address" in queue
    page = agent_client.get(f"/surveys/calls/{ticket.pk}/").content.decode()
    assert 'name="overall"' in page and 'name="nps"' in page and "autofocus" in page  # the seed's questionnaire
    response = agent_client.post(f"/surveys/calls/{ticket.pk}/", {**ANSWERS, "note": "客户很满意"})
    assert response.status_code == 302
    answer = SurveyResponse.objects.get(ticket=ticket)
    assert (answer.channel, answer.taken_by, answer.overall, answer.nps, answer.invitation) == (
        "phone",
        agent,
        5,
        9,
        None,
    )
    assert FollowUpCall.objects.get(ticket=ticket).outcome == "answered"
    assert ticket.reference not in agent_client.get("/surveys/calls/").content.decode()
    assert (_kpi("follow_up_rate").numerator, _kpi("csat").numerator, _kpi("nps").numerator) == (1, 1, 1)
    by_phone = KPIValue.objects.get(kpi="csat", granularity="day", dimension="via", dimension_value="phone")
    assert (by_phone.numerator, by_phone.denominator) == (1, 1)
    panel = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "By phone, taken by" in panel


def test_an_expired_emailed_survey_goes_to_the_queue_and_the_phone_answer_closes_it(agent_client, agent, team):
    ticket = _resolved(team, agent, email="late@example.com")
    assert ticket not in calls_due(agent)  # the link is still open
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert ticket in calls_due(agent)
        services.record_phone_answers(ticket=ticket, by=agent, answers={"overall": 4, "nps": 7})
        assert _kpi("csat").numerator == 1  # counted on the day it was given
    invitation = ticket.survey
    invitation.refresh_from_db()
    assert invitation.response.channel == "phone"
    assert invitation.answered_at is None  # the e-mail was not answered: its response rate stays true
    assert _kpi("follow_up_rate").numerator == 1


def test_an_unhappy_answer_by_phone_opens_the_same_recovery_case(agent, supervisor, team):
    ticket = _resolved(team, agent)
    answer = services.record_phone_answers(ticket=ticket, by=agent, answers={"overall": 1, "nps": 2})
    complaint = Complaint.objects.get(ticket=answer.follow_up)
    assert complaint.source == "survey" and complaint.severity == "major" and complaint.handler == supervisor
    assert answer.follow_up not in calls_due(agent)  # the follow-up ticket is complaint work, not a survey call


def test_no_answer_is_tried_again_on_other_days_at_most_three_times(agent_client, agent, team):
    ticket = _resolved(team, agent)
    start = timezone.now()
    response = agent_client.post(f"/surveys/calls/{ticket.pk}/unanswered/", {"outcome": "no_answer"})
    assert response.status_code == 302
    assert ticket not in calls_due(agent)  # not again today
    with pytest.raises(ApplicationError, match="already called today"):
        services.record_unanswered_call(ticket=ticket, by=agent, outcome="no_answer")
    for day in (1, 2):
        with time_machine.travel(start + timedelta(days=day)):
            assert ticket in calls_due(agent)
            services.record_unanswered_call(ticket=ticket, by=agent, outcome="no_answer")
    with time_machine.travel(start + timedelta(days=3)):
        assert ticket not in calls_due(agent)  # three attempts: off the queue
        with pytest.raises(ApplicationError, match="3 times"):
            services.record_unanswered_call(ticket=ticket, by=agent, outcome="no_answer")
    assert FollowUpCall.objects.filter(ticket=ticket).count() == 3


@pytest.mark.parametrize("outcome", ["refused", "wrong_number"])
def test_a_refusal_or_a_wrong_number_ends_the_follow_up(agent, team, outcome):
    ticket = _resolved(team, agent)
    services.record_unanswered_call(ticket=ticket, by=agent, outcome=outcome)
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert ticket not in calls_due(agent)
        with pytest.raises(ApplicationError):
            services.record_phone_answers(ticket=ticket, by=agent, answers={"overall": 5})


def test_missing_answers_are_refused_and_what_was_ticked_is_kept(agent_client, agent, team):
    ticket = _resolved(team, agent)
    response = agent_client.post(f"/surveys/calls/{ticket.pk}/", {"overall": "2", "note": "<script>x</script>"})
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'<input type="radio" name="overall" value="2"[^>]*checked', page)  # the tick is kept
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page
    assert not SurveyResponse.objects.exists() and not FollowUpCall.objects.exists()


def test_a_ticket_of_another_team_cannot_be_called(client, outsider, agent, team):
    ticket = _resolved(team, agent)
    client.force_login(outsider)
    assert client.get(f"/surveys/calls/{ticket.pk}/").status_code == 404
    assert client.post(f"/surveys/calls/{ticket.pk}/unanswered/", {"outcome": "refused"}).status_code == 404
    assert ticket.reference not in client.get("/surveys/calls/").content.decode()
    assert not FollowUpCall.objects.exists()


def test_the_queue_keeps_to_its_settings(agent, team, settings):
    late = _resolved(team, agent, email="late@example.com")
    old = _resolved(team, agent)
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert set(calls_due(agent)) == {late, old}
        settings.FOLLOW_UP_CALL_AFTER_EXPIRY = False  # only the customers without an address
        assert set(calls_due(agent)) == {old}
        settings.FOLLOW_UP_CALL_DAYS = 14  # resolved too long ago to call about
        assert not calls_due(agent).exists()
