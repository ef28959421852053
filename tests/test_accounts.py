"""An agent changes their own password, or resets a forgotten one by e-mail."""

from __future__ import annotations

import random
import re

import pytest
from django.contrib.auth import get_user_model

from outbox import links
from outbox import services as outbox_services
from outbox.models import OutgoingEmail
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
NEW = "a brand new password 2026"


@pytest.fixture
def address():
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def test_an_agent_changes_their_own_password(client, address):
    user = UserFactory(username="zhangsan")
    client.force_login(user)
    assert 'href="/accounts/password/change/"' in client.get("/tickets/").content.decode()
    wrong = {"old_password": "nope", "new_password1": NEW, "new_password2": NEW}
    refused = client.post("/accounts/password/change/", wrong, REMOTE_ADDR=address)
    assert refused.status_code == 200 and 'class="error"' in refused.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    right = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    done = client.post("/accounts/password/change/", right, REMOTE_ADDR=address)
    assert done.status_code == 302 and done["Location"] == "/accounts/password/change/done/"
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_changing_a_password_needs_a_login(client):
    response = client.get("/accounts/password/change/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_forgotten_password_is_reset_through_a_link_sent_by_the_outbox(client, smtp_server, address):
    user = UserFactory(username="lisi", email="lisi@desk.example.com")
    assert 'href="/accounts/password/reset/"' in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password/reset/", {"email": "LiSi@desk.example.com"}, REMOTE_ADDR=address)
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/sent/"

    email = OutgoingEmail.objects.get(kind="password_reset")
    assert email.to == "lisi@desk.example.com"
    assert "/accounts/reset/" not in email.body_text  # the outbox holds no working link
    assert outbox_services.deliver(email.pk)
    (message,) = smtp_server.wait_for(1)
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", smtp_server.text_of(message)).group(1)

    form = client.get(link, follow=True)  # Django moves the token out of the address first
    assert form.status_code == 200 and "new_password1" in form.content.decode()
    reset_path = form.redirect_chain[-1][0]
    done = client.post(reset_path, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password(NEW)
    again = client.get(link, follow=True)  # a link works once
    assert "new_password1" not in again.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, address):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, REMOTE_ADDR=address)
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/sent/"
    assert not OutgoingEmail.objects.exists()


def test_reset_requests_are_throttled_per_address(client, address):
    UserFactory(username="wangwu", email="wangwu@desk.example.com")
    answers = [
        client.post("/accounts/password/reset/", {"email": "wangwu@desk.example.com"}, REMOTE_ADDR=address).status_code
        for _ in range(5)
    ]
    assert answers[:3] == [302] * 3 and set(answers[3:]) == {429}
    assert OutgoingEmail.objects.filter(kind="password_reset").count() == 3


def test_the_reset_link_resolver_makes_a_working_link():
    user = get_user_model().objects.create_user("zhaoliu", "zhaoliu@example.com", PASSWORD)
    assert "/accounts/reset/" in links.fill(links.placeholder("password_reset", user.pk))
