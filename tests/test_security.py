"""Production settings, the Content-Security-Policy, cookies, login throttling and the token endpoint's limit."""

from __future__ import annotations

import os
import random
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # As a server would be started: none of the test run's own switches (the browser tests allow sync ORM calls).
    unset = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    environment = {key: value for key, value in os.environ.items() if key not in unset}
    environment.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_the_deploy_check_is_clean_under_the_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="desk.example.com")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_desk_refuses_to_start_without_a_secret_key():
    result = _manage("check", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.fixture
def address():
    """A fresh client address per test: lock-outs and rate limits count per address."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.mark.django_db
class TestPages:
    def test_every_page_carries_a_policy_that_forbids_inline_script_and_style(self, client, manager, ticket):
        client.force_login(manager)
        for path in ("/tickets/", f"/tickets/{ticket.pk}/", "/tickets/new/", "/dashboard/", "/complaints/",
                     "/surveys/", f"/dashboard/agents/{manager.username}/"):  # fmt: skip
            response = client.get(path)
            assert response.status_code == 200, path
            policy = response["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "style-src 'self'" in policy and "'unsafe-inline'" not in policy
            html = response.content.decode()
            # What the policy would block: inline <script>, style attributes and elements, event handlers.
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
            assert not re.search(r"<style\b|\sstyle=\"|\son[a-z]+=\"", html), path

    def test_the_login_page_is_under_the_policy_too(self, client):
        response = client.get(reverse("login"))
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"

    def test_the_session_cookie_is_secure_and_out_of_reach_of_scripts(self, client, address):
        UserFactory(username="lilei", password=PASSWORD)
        response = client.post(reverse("login"), {"username": "lilei", "password": PASSWORD}, REMOTE_ADDR=address)
        assert response.status_code == 302
        cookie = response.cookies["sessionid"]
        assert cookie["secure"] and cookie["httponly"]
        assert response.cookies["csrftoken"]["secure"]


@pytest.mark.django_db
class TestLoginThrottling:
    def _fail(self, client, address, times, username="lilei"):
        for _ in range(times):
            response = client.post(reverse("login"), {"username": username, "password": "wrong"}, REMOTE_ADDR=address)
        return response

    def test_wrong_passwords_are_answered_with_the_form_until_the_limit(self, client, address, settings):
        UserFactory(username="lilei", password=PASSWORD)
        response = self._fail(client, address, settings.AXES_FAILURE_LIMIT - 1)
        assert response.status_code == 200 and "form" in response.content.decode()

    def test_after_the_limit_even_the_right_password_is_refused_for_a_while(self, client, address, settings):
        UserFactory(username="lilei", password=PASSWORD)
        locked = self._fail(client, address, settings.AXES_FAILURE_LIMIT)
        assert locked.status_code == 429
        assert "15" in locked.content.decode()  # how long, in minutes
        right = client.post(reverse("login"), {"username": "lilei", "password": PASSWORD}, REMOTE_ADDR=address,
                            HTTP_ACCEPT_LANGUAGE="zh-CN")  # fmt: skip
        assert right.status_code == 429 and "_auth_user_id" not in client.session
        assert "登录失败次数过多" in right.content.decode()

    def test_a_lock_out_holds_one_user_name_at_one_address(self, client, address, settings):
        UserFactory(username="lilei", password=PASSWORD)
        UserFactory(username="hanmeimei", password=PASSWORD)
        self._fail(client, address, settings.AXES_FAILURE_LIMIT)
        other_user = client.post(reverse("login"), {"username": "hanmeimei", "password": PASSWORD}, REMOTE_ADDR=address)
        assert other_user.status_code == 302
        client.logout()
        elsewhere = client.post(reverse("login"), {"username": "lilei", "password": PASSWORD}, REMOTE_ADDR="10.255.0.1")
        assert elsewhere.status_code == 302

    def test_the_token_endpoint_counts_toward_the_same_lock_out(self, address, settings):
        UserFactory(username="lilei", password=PASSWORD)
        api = APIClient(REMOTE_ADDR=address)
        for _ in range(settings.AXES_FAILURE_LIMIT):
            api.post("/api/auth/token/", {"username": "lilei", "password": "wrong"})
        response = api.post("/api/auth/token/", {"username": "lilei", "password": PASSWORD})
        assert response.status_code == 429
        assert "15" in response.json()["detail"] and "token" not in response.json()

    def test_the_token_endpoint_is_rate_limited_per_address(self, address):
        UserFactory(username="lilei", password=PASSWORD)
        api = APIClient(REMOTE_ADDR=address)
        # The limit counts per minute window: the clock stands still so that the 21 attempts fall in one
        # window however long they take (a window's end between them would start the count again).
        with time_machine.travel(timezone.now(), tick=False):
            answers = [api.post("/api/auth/token/", {"username": f"guess{n}", "password": "x"}).status_code
                       for n in range(21)]  # fmt: skip
        assert answers[:20] == [400] * 20 and answers[20] == 429
        assert (
            APIClient(REMOTE_ADDR="10.254.0.1")
            .post("/api/auth/token/", {"username": "lilei", "password": PASSWORD})
            .json()["token"]
        )


@pytest.mark.django_db
class TestErrorPages:
    """With DEBUG off (as the suite runs), errors are the desk's own pages, in the visitor's language."""

    @pytest.mark.parametrize(("language", "title"), [("zh-hans", "页面不存在"), ("en", "Page not found")])
    def test_a_missing_page_is_branded_and_bilingual(self, client, language, title):
        response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE=language)
        html = response.content.decode()
        assert response.status_code == 404 and title in html and 'href="/"' in html
        assert "Traceback" not in html and "urlpatterns" not in html

    def test_a_server_error_shows_the_desks_page_without_detail(self, settings):
        from django.test import Client

        settings.ROOT_URLCONF = "tests.error_urls"
        response = Client(raise_request_exception=False).get("/boom/", HTTP_ACCEPT_LANGUAGE="en")
        html = response.content.decode()
        assert response.status_code == 500 and "Something went wrong" in html
        assert "ZeroDivisionError" not in html and "Traceback" not in html

    def test_the_api_answers_json_even_to_a_browser(self, agent, ticket):
        client = APIClient()
        client.force_authenticate(agent)
        accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        response = client.get("/api/tickets/", HTTP_ACCEPT=accept)
        assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
        assert response.json()["results"][0]["reference"] == ticket.reference


class TestLogs:
    def _console(self):
        import logging

        (handler,) = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
        return handler

    def _captured(self, action) -> str:
        import io

        handler = self._console()
        stream = io.StringIO()
        previous = handler.setStream(stream)
        try:
            action()
        finally:
            handler.setStream(previous)
        return stream.getvalue()

    @pytest.mark.django_db
    def test_a_refused_host_header_is_one_warning_line_without_a_traceback(self, client):
        out = self._captured(lambda: client.get("/healthz", HTTP_HOST="evil.example"))
        assert "Invalid HTTP_HOST header" in out and "Traceback" not in out
        assert len(out.strip().splitlines()) == 1

    @pytest.mark.django_db
    def test_an_oversized_body_is_one_warning_line_without_a_traceback(self, client, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
        out = self._captured(lambda: client.post("/accounts/login/", {"username": "x" * 5000, "password": "y"}))
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1

    @pytest.mark.django_db
    def test_a_survey_token_never_reaches_the_log(self, client):
        token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefg"
        out = self._captured(lambda: client.get(f"/s/{token}/"))
        assert "Not Found" in out and "/s/***/" in out and token not in out

    def test_the_access_log_masks_survey_and_reset_tokens(self):
        from types import SimpleNamespace

        from gunicorn.config import Config

        from config.gunicorn import MaskingLogger

        token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefg"
        logger = MaskingLogger(Config())
        for path, shown in [(f"/s/{token}/", "/s/***/"), (f"/accounts/reset/MQ/{token}/", "/accounts/reset/***/***/")]:
            request = SimpleNamespace(method="GET", path=path, query="", uri=path, version=(1, 1), headers=[])
            response = SimpleNamespace(status="200 OK", sent=10, headers=[])
            environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": path}
            from datetime import timedelta

            atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
            assert token not in atoms["r"] + atoms["U"] and shown in atoms["r"] and atoms["U"] == shown
