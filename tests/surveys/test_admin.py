"""Survey templates are edited in admin; a version that was sent is frozen."""

from __future__ import annotations

import pytest
from django.test import Client

from outbox.models import OutgoingEmail
from surveys.models import SurveyTemplate
from tests.factories import UserFactory
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_default_template_has_the_seed_questions_with_overall_and_nps():
    template = SurveyTemplate.objects.get(is_active=True)
    keys = list(template.questions.values_list("key", flat=True))
    assert keys == ["attitude", "speed", "professionalism", "problem_solving", "helpfulness", "overall", "nps",
                    "improve", "comments"]  # fmt: skip
    assert template.questions.get(role="overall").choices_zh[0] == "非常满意"
    assert template.questions.get(role="nps").kind == "nps"
    assert (template.expiry_days, template.reminder_days) == (14, 3)


def test_a_sent_version_is_frozen_and_a_new_version_carries_the_edits(admin_client, ticket, agent):
    template = SurveyTemplate.objects.get(is_active=True)
    ticket_services.resolve_ticket(ticket=ticket, by=agent, note="done")  # sends this version
    page = admin_client.get(f"/admin/surveys/surveytemplate/{template.pk}/change/").content.decode()
    assert 'name="intro_zh"' not in page  # read-only now

    admin_client.post("/admin/surveys/surveytemplate/", {"action": "new_version", "_selected_action": [template.pk]})
    new = SurveyTemplate.objects.get(version=2)
    assert not new.is_active and new.questions.count() == template.questions.count()
    page = admin_client.get(f"/admin/surveys/surveytemplate/{new.pk}/change/").content.decode()
    assert 'name="intro_zh"' in page

    admin_client.post("/admin/surveys/surveytemplate/", {"action": "activate", "_selected_action": [new.pk]})
    new.refresh_from_db()
    template.refresh_from_db()
    assert new.is_active and not template.is_active
    assert ticket.survey.template == template  # the sent invitation keeps its version


@pytest.mark.parametrize("model", ["surveytemplate", "surveyinvitation", "surveyresponse"])
def test_survey_admin_lists_open(admin_client, model):
    assert admin_client.get(f"/admin/surveys/{model}/").status_code == 200


def test_the_developer_outbox_exists_only_with_debug_and_only_for_staff(admin_client, ticket, agent, settings):
    assert admin_client.get("/dev/outbox/").status_code == 404  # DEBUG is off here
    ticket_services.resolve_ticket(ticket=ticket, by=agent, note="done")
    email = OutgoingEmail.objects.get(kind="survey_invitation")
    settings.DEBUG = True
    agent_client = Client()
    agent_client.force_login(agent)
    for path in ("/dev/outbox/", f"/dev/outbox/{email.pk}/"):
        anonymous = Client().get(path)
        assert (
            anonymous.status_code == 302 and "login" in anonymous["Location"]
        )  # addresses and links: not for visitors
        assert agent_client.get(path).status_code == 302  # nor for agents who are not staff
    page = admin_client.get(f"/dev/outbox/{email.pk}/")
    assert page.status_code == 200, page
    html = page.content.decode()
    assert f'<a href="{settings.SITE_URL}/s/' in html  # the link is written in, clickable
