"""The survey journey through real parts: a Celery worker delivers the invitation to an
SMTP server on loopback, and the customer follows the link in the message received."""

from __future__ import annotations

import re

import pytest

from outbox.models import OutgoingEmail
from surveys.models import SurveyResponse
from tests.factories import CustomerFactory, make_ticket
from tests.waiting import eventually

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.xdist_group("servers"),
]


def test_resolving_emails_the_survey_through_a_worker_and_the_customer_answers_it(
    client, agent, team, smtp_server, celery_worker
):
    celery_worker(EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}")
    customer = CustomerFactory(name="陈小姐", email="chen@example.com", preferred_language="zh-hans")
    ticket = make_ticket(team=team, by=agent, customer=customer, subject="热水器不加热")
    client.force_login(agent)

    response = client.post(f"/tickets/{ticket.pk}/resolve/", {"note": "更换加热管"})
    assert response.status_code == 302

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "chen@example.com"
    assert ticket.reference in message["Subject"]
    text = smtp_server.text_of(message)
    link = re.search(r"https?://\S+/s/([\w-]+)/", text)
    assert link, text
    # The message reaches the SMTP server a moment before the worker records it as sent: wait for that state.
    eventually(lambda: OutgoingEmail.objects.get(kind="survey_invitation").status == "sent", what="never marked sent")

    client.logout()
    path = f"/s/{link.group(1)}/"
    page = client.get(path)
    assert page.status_code == 200 and "热水器不加热" in page.content.decode()
    answers = {"attitude": "5", "speed": "5", "professionalism": "4", "problem_solving": "5", "helpfulness": "5",
               "overall": "5", "nps": "10", "comments": "师傅很专业"}  # fmt: skip
    thanks = client.post(path, answers)
    assert thanks.status_code == 200 and "感谢" in thanks.content.decode()
    assert SurveyResponse.objects.get(ticket=ticket).overall == 5
