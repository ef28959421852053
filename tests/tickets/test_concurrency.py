"""Two agents acting on one ticket at the same moment: both recorded, no counter lost."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from django.db import connection

from tests.factories import make_ticket
from tickets import services
from tickets.models import EventKind, Status

pytestmark = pytest.mark.django_db(transaction=True)


def _race(*actions):
    """Run each action in its own thread (own database connection), released together."""
    barrier = threading.Barrier(len(actions))
    errors = []

    def run(action):
        try:
            barrier.wait()
            action()
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_two_replies_at_once_are_both_recorded_and_counted(team, agent, colleague):
    ticket = make_ticket(team=team, by=agent)
    errors = _race(
        lambda: services.add_reply(ticket=ticket.pk, by=agent, body="from alice"),
        lambda: services.add_reply(ticket=ticket.pk, by=colleague, body="from bob"),
    )
    assert errors == []
    ticket.refresh_from_db()
    assert ticket.public_reply_count == 2
    assert sorted(ticket.events.filter(kind=EventKind.REPLY).values_list("body", flat=True)) == [
        "from alice",
        "from bob",
    ]


def test_resolve_and_reply_at_once_both_land_in_order(team, agent, colleague):
    ticket = make_ticket(team=team, by=agent, assignee=agent)
    errors = _race(
        lambda: services.resolve_ticket(ticket=ticket.pk, by=agent, note="fixed"),
        lambda: services.add_reply(ticket=ticket.pk, by=colleague, body="on my way"),
    )
    ticket.refresh_from_db()
    kinds = list(ticket.events.values_list("kind", flat=True))
    if errors:
        # The resolve won the lock; the reply was then refused cleanly (a resolved ticket takes no reply).
        assert kinds == ["created", "resolved"] and ticket.public_reply_count == 0
    else:
        assert kinds == ["created", "reply", "resolved"] and ticket.public_reply_count == 1
    assert ticket.status == Status.RESOLVED and ticket.resolved_at is not None


def test_many_reassignments_at_once_keep_an_exact_count(team, agent, colleague, supervisor):
    ticket = make_ticket(team=team, by=agent, assignee=agent)
    targets = [colleague, supervisor, agent, colleague, supervisor, agent]
    _race(*[lambda who=who: services.assign_ticket(ticket=ticket.pk, by=agent, assignee=who) for who in targets])
    ticket.refresh_from_db()
    moves = ticket.events.filter(kind=EventKind.ASSIGNED).count()
    assert moves >= 2
    assert ticket.reassign_count == moves


def _wait_until_a_backend_waits_on_a_lock(timeout: float = 20.0) -> None:
    """Until some connection is blocked on a row or index lock (the race is then certain to happen)."""
    import time

    from django.db import connections

    probe = connections.create_connection("default")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with probe.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    return
            time.sleep(0.02)
        raise AssertionError("no request ever waited on the lock")
    finally:
        probe.close()


def _held(action, release: threading.Event, done: threading.Event):
    """Run ``action`` in a transaction that stays open until ``release`` is set."""
    from django.db import transaction

    def run():
        try:
            with transaction.atomic():
                action()
                done.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    return run


def test_two_api_creates_for_one_new_customer_at_once_share_the_customer(team, agent, colleague):
    from rest_framework.test import APIClient

    from tickets.models import Customer, Ticket

    customer = {"name": "韩梅梅", "email": "Han.MeiMei@example.com", "phone": ""}
    body = {"subject": "漏水", "customer": customer, "category": "repair", "channel": "phone", "team": team.pk}
    release, first_inserted, answers = threading.Event(), threading.Event(), []

    def create_first():
        services.find_or_create_customer(name="韩梅梅", email="han.meimei@example.com")

    def create_second():
        try:
            client = APIClient()
            client.force_authenticate(colleague)
            answers.append(client.post("/api/tickets/", body, format="json").status_code)
        finally:
            connection.close()

    holder = threading.Thread(target=_held(create_first, release, first_inserted))
    holder.start()
    assert first_inserted.wait(20)
    second = threading.Thread(target=create_second)
    second.start()
    _wait_until_a_backend_waits_on_a_lock()  # the API's insert waits on the first one's unique e-mail
    release.set()
    holder.join(30)
    second.join(30)
    assert answers == [201]
    assert Customer.objects.count() == 1 and Ticket.objects.get().customer == Customer.objects.get()


def test_two_complaints_raised_on_one_ticket_at_once_make_one(team, agent, supervisor):
    from rest_framework.test import APIClient

    from complaints import services as complaint_services
    from complaints.models import Complaint

    ticket = make_ticket(team=team, by=agent)
    release, first_inserted, answers = threading.Event(), threading.Event(), []

    def raise_second():
        try:
            client = APIClient()
            client.force_authenticate(supervisor)
            answers.append(client.post("/api/complaints/", {"ticket": ticket.pk, "severity": "major"}, format="json"))
        finally:
            connection.close()

    holder = threading.Thread(
        target=_held(lambda: complaint_services.open_complaint(ticket=ticket, by=agent), release, first_inserted)
    )
    holder.start()
    assert first_inserted.wait(20)
    second = threading.Thread(target=raise_second)
    second.start()
    _wait_until_a_backend_waits_on_a_lock()
    release.set()
    holder.join(30)
    second.join(30)
    (answer,) = answers
    assert answer.status_code in (200, 201) and answer.json()["ticket"] == ticket.pk
    assert Complaint.objects.filter(ticket=ticket).count() == 1


class TestARowHeldByAnotherTransaction:
    """A request gives up on a row lock within the lock timeout and says "busy", keeping what was typed."""

    @pytest.fixture
    def held(self, team, agent):
        from django.db import connections

        ticket = make_ticket(team=team, by=agent)
        other = connections.create_connection("default")
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM tickets_ticket WHERE id = %s FOR UPDATE", [ticket.pk])
        with connection.cursor() as cursor:  # the test's own connection: give up quickly
            cursor.execute("SET lock_timeout = '300ms'")
        yield ticket
        other.rollback()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    def test_the_web_connection_carries_a_lock_and_a_statement_timeout(self, db):
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
            cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            assert cursor.fetchone() == ("3s", "30s")

    def test_a_form_answers_busy_with_the_typed_reply_and_stores_nothing(self, held, client, agent):
        client.force_login(agent)
        response = client.post(f"/tickets/{held.pk}/reply/", {"body": "师傅明天上午到<b>府</b>", "request_key": "f1"})
        html = response.content.decode()
        assert response.status_code == 503 and response["Retry-After"]
        assert "师傅明天上午到&lt;b&gt;府&lt;/b&gt;</textarea>" in html  # kept, escaped, ready to send again
        assert f'action="/tickets/{held.pk}/reply/"' in html
        assert not held.events.filter(kind=EventKind.REPLY).exists()

    def test_the_api_answers_503_with_retry_after_and_stores_nothing(self, held, agent):
        from rest_framework.test import APIClient

        api = APIClient()
        api.force_authenticate(agent)
        response = api.post(f"/api/tickets/{held.pk}/replies/", {"body": "稍后再试"}, format="json")
        assert response.status_code == 503 and response["Retry-After"] == "5" and response.json()["detail"]
        assert not held.events.filter(kind=EventKind.REPLY).exists()

    def test_workers_and_commands_wait_longer(self, db):
        from django.db import connections
        from django.db.backends.signals import connection_created

        from config.celery import _in_the_background

        _in_the_background()
        worker = connections.create_connection("default")
        try:
            with worker.cursor() as cursor:
                cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
                assert cursor.fetchone() == ("1min", "0")
        finally:
            worker.close()
            connection_created.disconnect(dispatch_uid="desk-background-limits")
        # manage.py marks its commands (migrate, refresh_kpis) as background work.
        code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES)"
        env = {**os.environ, "DESK_BACKGROUND": "true", "DJANGO_SETTINGS_MODULE": "config.settings"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert "lock_timeout=60s" in out.stdout and "statement_timeout=0" in out.stdout
