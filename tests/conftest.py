"""Fixed personas, as healthchecks does: alice-style names for who is who.

- ``agent`` and ``colleague``: members of ``team`` (team A)
- ``supervisor``: supervises team A
- ``outsider``: an agent of ``other_team`` (team B)
- ``manager``: in the managers group, sees every team
"""

from __future__ import annotations

import importlib
import os
import tempfile
import uuid

import pytest
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIClient

from config.celery import app as celery_app
from tests.factories import TeamFactory, UserFactory, make_ticket
from tests.smtp import SMTPServer
from tickets.access import MANAGERS_GROUP

pytest_plugins = ["tests.mail_fixtures"]


def pytest_configure(config):
    """A queue of this test process's own on the shared broker: the Celery workers the tests start
    inherit it, and no other test process, test run or desk on the same Redis takes their tasks."""
    queue = f"desk-tests-{uuid.uuid4().hex}"
    os.environ["CELERY_QUEUE"] = queue
    celery_app.conf.update(CELERY_TASK_DEFAULT_QUEUE=queue, task_default_queue=queue)


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Unit tests run tasks in-process; tests marked ``worker`` use a real Celery worker."""
    eager = request.node.get_closest_marker("worker") is None
    previous = celery_app.conf.task_always_eager
    # Under the name the Django settings give it: Celery reads the CELERY_-prefixed key first.
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=eager, task_always_eager=eager)
    assert celery_app.conf.task_always_eager is eager
    yield
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=previous, task_always_eager=previous)


@pytest.fixture(scope="session", autouse=True)
def _test_settings():
    """Session-wide, so that the live server (a session fixture) starts with them too."""
    overrides = override_settings(
        # The suite runs the production settings; test clients and the live server speak plain HTTP.
        SECURE_SSL_REDIRECT=False,
        # Strong hashing is what production wants and what makes user fixtures slow.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        # No collectstatic before the tests: assets are served by name, without the manifest.
        STORAGES={
            **django_settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        # Every test opens survey pages from 127.0.0.1; the limit has its own test, from its own address.
        SURVEY_GET_RATE="10000/m",
        # Attachments and held mails are written to a folder of this test process's own.
        MEDIA_ROOT=tempfile.mkdtemp(prefix="desk-media-"),
        # Rate-limit counters live in Redis, which outlives a test run: each run counts afresh.
        CACHES={
            **django_settings.CACHES,
            "default": {**django_settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
            "ratelimit": {**django_settings.CACHES["ratelimit"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
        },
    )
    overrides.enable()
    yield
    overrides.disable()


@pytest.fixture(autouse=True)
def _fresh_dashboards():
    """Each test starts without the dashboard bodies another test's runs left in this process."""
    caches["dashboards"].clear()


#: The data migrations that load reference data (categories, SLA policies, survey template, schedules).
REFERENCE_DATA = [
    "tickets.migrations.0002_reference_sequence_and_defaults",
    "tickets.migrations.0009_default_service_calendar",
    "tickets.migrations.0011_hotline_categories",
    "outbox.migrations.0002_sweep_schedule",
    "surveys.migrations.0002_default_template_and_schedule",
    "kpis.migrations.0002_schedule",
    "kpis.migrations.0009_refresh_every_minute_rebuild_nightly",
    "complaints.migrations.0002_defaults_schedule_and_backfill",
    "complaints.migrations.0009_default_severity_rules_and_reminders",
    "notifications.migrations.0002_sweep_schedule",
]


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests empty every table when they end; load the reference data again
    (the data migrations' own functions, which are idempotent) for each of them."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker and marker.kwargs.get("transaction")) or "live_server" in request.fixturenames
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    for module in REFERENCE_DATA:
        migration = importlib.import_module(module)
        load = getattr(migration, "add_defaults", None) or migration.add_schedule
        load(django_apps, None)


@pytest.fixture(autouse=True)
def _desk_open_round_the_clock(request, _reference_data):
    """Tests about anything but the calendars must not depend on the hour they run at: the desk's
    calendar counts every hour, unless a test is marked ``office_hours`` (tests/tickets/test_worktime.py)."""
    if request.node.get_closest_marker("office_hours"):
        return
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker and marker.kwargs.get("transaction")) or "live_server" in request.fixturenames
    if not (marker or "db" in request.fixturenames or transactional):
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.utils import timezone

    from tickets.models import ServiceCalendar

    ServiceCalendar.objects.filter(is_default=True).update(always_open=True, updated_at=timezone.now())


@pytest.fixture
def agent(db):
    return UserFactory(username="alice", first_name="Alice")


@pytest.fixture
def colleague(db):
    return UserFactory(username="bob", first_name="Bob")


@pytest.fixture
def supervisor(db):
    return UserFactory(username="carol", first_name="Carol")


@pytest.fixture
def outsider(db):
    return UserFactory(username="mallory", first_name="Mallory")


@pytest.fixture
def manager(db):
    user = UserFactory(username="maria", first_name="Maria")
    user.groups.add(Group.objects.get_or_create(name=MANAGERS_GROUP)[0])
    return user


@pytest.fixture
def team(agent, colleague, supervisor):
    team = TeamFactory(name="热线服务组", supervisor=supervisor)
    team.members.add(agent, colleague)
    return team


@pytest.fixture
def other_team(outsider):
    team = TeamFactory(name="维修服务组")
    team.members.add(outsider)
    return team


@pytest.fixture
def ticket(team, agent):
    return make_ticket(team=team, by=agent, assignee=agent)


@pytest.fixture
def other_ticket(other_team, outsider):
    return make_ticket(team=other_team, by=outsider, subject="Other team's ticket")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def api(agent):
    client = APIClient()
    client.force_authenticate(agent)
    return client


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback (aiosmtpd); the desk's e-mail goes to it."""
    server = SMTPServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the items
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the tests that start servers and real workers run one after another on one
    process: their Celery workers share the broker's queue, and the machine has two cores."""
    for item in items:
        if any(item.get_closest_marker(name) for name in ("slow", "worker", "browser")):
            item.add_marker(pytest.mark.xdist_group("servers"))
