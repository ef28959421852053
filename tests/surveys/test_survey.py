"""The satisfaction survey, from the resolve to the customer's answer and the follow-up."""

from __future__ import annotations

import random
import re
import secrets
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from outbox import links
from outbox import services as outbox_services
from outbox.models import OutgoingEmail
from surveys import services
from surveys.models import SurveyInvitation, SurveyResponse, SurveyTemplate
from tests.factories import CustomerFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db

GOOD = {"attitude": "5", "speed": "4", "professionalism": "5", "problem_solving": "4", "helpfulness": "5",
        "overall": "5", "nps": "9", "improve": "", "comments": "很好"}  # fmt: skip


@pytest.fixture
def client_ip():
    """A fresh client address per test, so the per-address rate limit never spills over."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def _resolve(ticket, by):
    ticket_services.resolve_ticket(ticket=ticket, by=by, note="已上门维修")
    ticket.refresh_from_db()
    return ticket


def _link(ticket) -> str:
    email = OutgoingEmail.objects.get(ticket=ticket, kind="survey_invitation")
    return re.search(r"http://\S+/s/[\w-]+/", links.fill(email.body_text)).group(0)


def _path(ticket) -> str:
    return "/s/" + _link(ticket).rsplit("/s/", 1)[1]


@pytest.fixture
def resolved(ticket, agent):
    return _resolve(ticket, agent)


class TestInvitation:
    def test_resolving_queues_an_invitation_with_a_personal_link(self, resolved, settings):
        invitation = resolved.survey
        email = OutgoingEmail.objects.get(kind="survey_invitation")
        assert email.to == resolved.customer.email and email.ticket == resolved
        link = _link(resolved)
        assert link.startswith(settings.SITE_URL + "/s/")
        token = link.rstrip("/").rsplit("/", 1)[1]
        assert len(token) >= 43  # 256 bits, base64
        assert token not in str(SurveyInvitation.objects.filter(pk=invitation.pk).values().get())  # only a hash
        # The stored message holds no working link either: it is written in as the message goes out.
        stored = str(OutgoingEmail.objects.filter(pk=email.pk).values().get())
        assert token not in stored and "[[link:survey:" in email.body_text and "[[link:survey:" in email.body_html

    def test_the_sent_message_carries_the_working_link_and_the_outbox_keeps_none(self, resolved, smtp_server):
        email = OutgoingEmail.objects.get(kind="survey_invitation")
        assert outbox_services.deliver(email.pk) is True
        (message,) = smtp_server.wait_for(1)
        link = _link(resolved)
        assert link in smtp_server.text_of(message)
        email.refresh_from_db()
        assert email.status == "sent" and link.rsplit("/s/", 1)[1] not in email.body_text + email.body_html

    def test_the_survey_page_tells_the_browser_to_send_no_referrer(self, resolved, client, client_ip):
        response = client.get(_path(resolved), REMOTE_ADDR=client_ip)
        assert response.status_code == 200 and response["Referrer-Policy"] == "no-referrer"
        gone = client.get("/s/" + "x" * 43 + "/", REMOTE_ADDR=client_ip)
        assert gone.status_code == 404 and gone["Referrer-Policy"] == "no-referrer"

    @time_machine.travel("2026-06-01 10:00:05+08:00", tick=False)  # the whole test inside one window of the limit
    def test_opening_survey_pages_is_rate_limited_per_address(self, resolved, client, settings):
        settings.SURVEY_GET_RATE = "30/m"
        address = f"203.0.113.{random.randrange(1, 255)}"
        for _ in range(5):  # a mail scanner opening one link a few times is fine
            assert client.get(_path(resolved), REMOTE_ADDR=address).status_code == 200
        answers = [client.get(f"/s/{secrets.token_urlsafe(32)}/", REMOTE_ADDR=address).status_code for _ in range(40)]
        assert answers[:25] == [404] * 25 and set(answers[25:]) == {429}
        assert client.get(_path(resolved), REMOTE_ADDR="198.51.100.7").status_code == 200  # another address

    def test_a_customer_without_an_address_gets_no_survey_and_the_page_says_so(self, team, agent, agent_client):
        ticket = _resolve(make_ticket(team=team, by=agent, customer=CustomerFactory(email="")), agent)
        assert not SurveyInvitation.objects.exists() and not OutgoingEmail.objects.exists()
        page = agent_client.get(f"/tickets/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "no e-mail address" in page

    def test_a_ticket_gets_one_link_even_when_resolved_again(self, resolved, agent):
        ticket_services.reopen_ticket(ticket=resolved, by=agent, reason="again")
        _resolve(resolved, agent)
        assert SurveyInvitation.objects.count() == 1
        assert OutgoingEmail.objects.filter(kind="survey_invitation").count() == 1

    @pytest.mark.parametrize(
        ("language", "subject_words", "page_words"),
        [("en", "How did we do?", "How satisfied are you with our service attitude?"),
         ("zh-hans", "两分钟", "您对我们的服务态度是否满意?")],
    )  # fmt: skip
    def test_email_and_page_speak_the_customers_language(
        self, team, agent, client, client_ip, language, subject_words, page_words
    ):
        customer = CustomerFactory(preferred_language=language)
        ticket = _resolve(make_ticket(team=team, by=agent, customer=customer), agent)
        assert subject_words in OutgoingEmail.objects.get(kind="survey_invitation").subject
        page = client.get(_path(ticket), REMOTE_ADDR=client_ip).content.decode()
        assert page_words in page and ticket.reference in page


class TestAnswering:
    def test_opening_the_page_records_it_and_submits_nothing(self, resolved, client, client_ip):
        for _ in range(2):
            response = client.get(_path(resolved), REMOTE_ADDR=client_ip)
            assert response.status_code == 200
        invitation = SurveyInvitation.objects.get()
        assert invitation.open_count == 2 and invitation.first_opened_at is not None
        assert invitation.answered_at is None and not SurveyResponse.objects.exists()
        assert resolved.subject in response.content.decode()

    def test_submitting_stores_the_answers_and_thanks_the_customer(self, resolved, client, client_ip):
        response = client.post(_path(resolved), {**GOOD, "contact_name": "李雷"}, REMOTE_ADDR=client_ip)
        assert response.status_code == 200
        assert "感谢" in response.content.decode()
        answer = SurveyResponse.objects.get()
        assert (answer.overall, answer.nps, answer.ticket, answer.contact_name) == (5, 9, resolved, "李雷")
        assert answer.answers["comments"] == "很好" and answer.follow_up is None

    def test_submitting_again_is_refused_and_stores_nothing(self, resolved, client, client_ip):
        client.post(_path(resolved), GOOD, REMOTE_ADDR=client_ip)
        again = client.post(_path(resolved), {**GOOD, "overall": "1"}, REMOTE_ADDR=client_ip)
        assert again.status_code == 410
        assert SurveyResponse.objects.get().overall == 5
        assert client.get(_path(resolved), REMOTE_ADDR=client_ip).status_code == 410

    def test_missing_answers_show_the_form_again_with_what_was_typed(self, resolved, client, client_ip):
        data = {**GOOD, "overall": "", "comments": "师傅很准时"}
        response = client.post(_path(resolved), data, REMOTE_ADDR=client_ip)
        assert response.status_code == 400
        page = response.content.decode()
        assert "师傅很准时" in page
        assert re.search(r'name="attitude" value="5"[^>]*checked', page)
        assert 'id="q-overall"' in page and "has-error" in page
        assert not SurveyResponse.objects.exists()

    def test_each_link_shows_its_own_versions_wording_in_the_chosen_language(
        self, resolved, team, agent, client, client_ip
    ):
        old_path = _path(resolved)
        chinese = client.get(old_path, REMOTE_ADDR=client_ip).content.decode()
        english = client.get(old_path + "?lang=en", REMOTE_ADDR=client_ip).content.decode()
        assert "您对我们的服务态度是否满意?" in chinese and "How satisfied are you" not in chinese
        assert "How satisfied are you with our service attitude?" in english
        # a reworded version in use for new invitations: old links keep their wording
        current = resolved.survey.template
        questions = list(current.questions.all())
        current.pk, current.version = None, current.version + 1
        SurveyTemplate.objects.update(is_active=False)
        current.save()
        for question in questions:
            question.pk, question.template = None, current
            if question.key == "attitude":
                question.text_zh = "您对上门师傅的服务态度是否满意?"
            question.save()
        newer = _resolve(make_ticket(team=team, by=agent), agent)
        assert "您对上门师傅的服务态度是否满意?" in client.get(_path(newer), REMOTE_ADDR=client_ip).content.decode()
        assert "您对我们的服务态度是否满意?" in client.get(old_path, REMOTE_ADDR=client_ip).content.decode()

    def test_an_expired_link_is_refused_kindly(self, resolved, client, client_ip):
        path = _path(resolved)
        with time_machine.travel(timezone.now() + timedelta(days=15)):
            assert client.get(path, REMOTE_ADDR=client_ip).status_code == 410
            response = client.post(path, GOOD, REMOTE_ADDR=client_ip)
        assert response.status_code == 410
        assert "expired" in response.content.decode().lower() or "过期" in response.content.decode()
        assert not SurveyResponse.objects.exists()

    @pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t[:20],
                                        lambda t: "x" * 43, lambda t: "1"])  # fmt: skip
    def test_an_altered_or_forged_token_is_404_and_stores_nothing(self, resolved, client, client_ip, mangle):
        token = _path(resolved).strip("/").split("/")[1]
        path = f"/s/{mangle(token)}/"
        assert client.get(path, REMOTE_ADDR=client_ip).status_code == 404
        assert client.post(path, GOOD, REMOTE_ADDR=client_ip).status_code == 404
        assert not SurveyResponse.objects.exists()
        assert SurveyInvitation.objects.get().open_count == 0

    def test_a_token_answers_only_its_own_ticket(self, resolved, team, agent, client, client_ip):
        other = _resolve(make_ticket(team=team, by=agent, subject="别的工单"), agent)
        page = client.get(_path(other), REMOTE_ADDR=client_ip).content.decode()
        assert other.reference in page and resolved.reference not in page
        client.post(_path(other), GOOD, REMOTE_ADDR=client_ip)
        assert SurveyResponse.objects.get().ticket == other

    def test_the_survey_post_is_rate_limited_per_link(self, resolved, client, client_ip):
        codes = [
            client.post(_path(resolved), {**GOOD, "overall": ""}, REMOTE_ADDR=f"10.9.9.{n}").status_code
            for n in range(12)
        ]
        assert codes[:10] == [400] * 10 and codes[10:] == [429, 429]

    def test_the_survey_post_rests_on_the_link_alone_as_a_browser_without_referrer_sends_it(self, resolved, client_ip):
        """The page asks for no referrer, so browsers send "Origin: null" with its form: the link's token
        is the credential (no cookie, no session), and a forged or altered token is refused (404)."""
        from django.test import Client

        strict = Client(enforce_csrf_checks=True)
        assert strict.post("/s/" + "x" * 43 + "/", GOOD, HTTP_ORIGIN="null", REMOTE_ADDR=client_ip).status_code == 404
        assert not SurveyResponse.objects.exists()
        assert strict.post(_path(resolved), GOOD, HTTP_ORIGIN="null", REMOTE_ADDR=client_ip).status_code == 200
        assert SurveyResponse.objects.get().ticket == resolved


class TestFollowUp:
    @pytest.mark.parametrize(("overall", "nps"), [("2", "8"), ("1", ""), ("4", "6")])
    def test_an_unhappy_answer_opens_a_follow_up_for_the_supervisor(
        self, resolved, client, client_ip, supervisor, overall, nps
    ):
        supervisor.email = "carol@desk.example.com"
        supervisor.save()
        client.post(_path(resolved), {**GOOD, "overall": overall, "nps": nps, "improve": "<b>慢</b>"},
                    REMOTE_ADDR=client_ip)  # fmt: skip
        answer = SurveyResponse.objects.get()
        follow_up = answer.follow_up
        assert follow_up is not None and follow_up != resolved
        assert follow_up.category.slug == "complaint" and follow_up.assignee == supervisor
        assert follow_up.team == resolved.team and follow_up.customer == resolved.customer
        assert follow_up.status == Status.NEW and resolved.reference in follow_up.subject
        assert "<b>慢</b>" in follow_up.description  # quoted as typed; pages escape it
        mail = OutgoingEmail.objects.get(kind="survey_follow_up")
        assert mail.to == "carol@desk.example.com" and follow_up.reference in mail.body_text

    def test_a_happy_answer_opens_nothing(self, resolved, client, client_ip):
        client.post(_path(resolved), GOOD, REMOTE_ADDR=client_ip)
        assert Ticket.objects.count() == 1
        assert not OutgoingEmail.objects.filter(kind="survey_follow_up").exists()

    def test_the_agent_sees_the_answers_and_the_follow_up_on_the_ticket_page(
        self, resolved, client, client_ip, agent_client
    ):
        client.post(_path(resolved), {**GOOD, "overall": "1", "improve": "<script>alert(1)</script>"},
                    REMOTE_ADDR=client_ip)  # fmt: skip
        page = agent_client.get(f"/tickets/{resolved.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
        assert "非常不满意" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
        follow_up = SurveyResponse.objects.get().follow_up
        assert follow_up.reference in page
        follow_page = agent_client.get(f"/tickets/{follow_up.pk}/").content.decode()
        assert resolved.reference in follow_page and "<script>alert" not in follow_page


class TestReminder:
    def test_one_reminder_after_three_days_and_never_again(self, resolved):
        assert services.send_due_reminders() == 0
        with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
            assert services.send_due_reminders() == 1
            assert services.send_due_reminders() == 0
        with time_machine.travel(timezone.now() + timedelta(days=6)):
            assert services.send_due_reminders() == 0
        reminder = OutgoingEmail.objects.get(kind="survey_reminder")
        assert _link(resolved).split("/s/")[1] in links.fill(reminder.body_text)  # the same link

    def test_no_reminder_once_answered_or_expired(self, resolved, team, agent, client, client_ip):
        client.post(_path(resolved), GOOD, REMOTE_ADDR=client_ip)
        late = _resolve(make_ticket(team=team, by=agent), agent)
        with time_machine.travel(timezone.now() + timedelta(days=20)):
            assert services.send_due_reminders() == 0
        assert late.survey.reminder_sent_at is None


class TestResults:
    def test_a_manager_lists_and_filters_all_responses(self, resolved, other_team, outsider, client, client_ip,
                                                       manager):  # fmt: skip
        client.post(_path(resolved), {**GOOD, "overall": "2", "improve": "<script>alert(2)</script>"},
                    REMOTE_ADDR=client_ip)  # fmt: skip
        other = _resolve(make_ticket(team=other_team, by=outsider, subject="other"), outsider)
        client.post(_path(other), GOOD, REMOTE_ADDR=client_ip)
        client.force_login(manager)
        page = client.get("/surveys/").content.decode()
        assert resolved.reference in page and other.reference in page
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "<script>alert" not in page
        unhappy = client.get("/surveys/?detractor=true").content.decode()
        assert resolved.reference in unhappy and other.reference not in unhappy

    def test_an_agent_sees_only_their_teams_responses(self, resolved, other_team, outsider, client, client_ip):
        other = _resolve(make_ticket(team=other_team, by=outsider), outsider)
        client.post(_path(other), GOOD, REMOTE_ADDR=client_ip)
        client.force_login(outsider)
        assert other.reference in client.get("/surveys/").content.decode()
        from tests.factories import UserFactory

        client.force_login(UserFactory(username="nobody"))
        assert other.reference not in client.get("/surveys/").content.decode()

    def test_the_api_serves_responses_with_filters(self, resolved, client, client_ip, api):
        client.post(_path(resolved), {**GOOD, "overall": "1", "improve": "<i>x</i>"}, REMOTE_ADDR=client_ip)
        body = api.get("/api/surveys/responses/", {"detractor": "true"}).json()
        (item,) = body["results"]
        assert item["reference"] == resolved.reference and item["overall"] == 1 and item["is_detractor"]
        assert item["answers"]["improve"] == "<i>x</i>"
        assert api.get("/api/surveys/responses/", {"overall": "5"}).json()["results"] == []

    def test_the_api_hides_other_teams_responses(self, resolved, client, client_ip, outsider):
        from rest_framework.test import APIClient

        client.post(_path(resolved), GOOD, REMOTE_ADDR=client_ip)
        api = APIClient()
        api.force_authenticate(outsider)
        assert api.get("/api/surveys/responses/").json()["results"] == []
        assert APIClient().get("/api/surveys/responses/").status_code == 401
