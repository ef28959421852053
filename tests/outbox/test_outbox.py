"""The e-mail outbox: written with the change, sent after it, retried, never twice."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.db import connection, transaction
from django.utils import timezone

from outbox import services
from outbox.models import EmailStatus, OutgoingEmail
from tests.factories import CustomerFactory, make_ticket
from tests.servers import redis_server_binary
from tests.smtp import free_port
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


def _queue(to="li@example.com", **extra):
    return services.queue_email(
        to=to,
        template="ticket_reply",
        context={"ticket": extra.pop("ticket"), "customer": extra.pop("customer"), "body": "您好,已处理。"},
        language=extra.pop("language", "zh-hans"),
        kind="ticket_reply",
    )


def test_a_public_reply_is_written_to_the_outbox_in_the_customers_language(team, agent):
    customer = CustomerFactory(email="amy@example.com", preferred_language="en")
    ticket = make_ticket(team=team, by=agent, customer=customer, subject="Fridge <b>noisy</b>")
    ticket_services.add_reply(ticket=ticket, by=agent, body="We will visit tomorrow <script>x</script>")
    email = OutgoingEmail.objects.get()
    assert (email.to, email.kind, email.status, email.ticket) == ("amy@example.com", "ticket_reply", "pending", ticket)
    assert "Dear" in email.body_text and "We will visit tomorrow" in email.body_text
    assert "&lt;script&gt;" in email.body_html and "<script>" not in email.body_html
    assert email.subject == f"[{ticket.reference}] Fridge <b>noisy</b>"


def test_an_internal_note_never_reaches_the_customer(ticket, agent):
    ticket_services.add_note(ticket=ticket, by=agent, body="secret")
    assert not OutgoingEmail.objects.exists()


def test_no_email_is_queued_for_a_customer_without_an_address(team, agent):
    ticket = make_ticket(team=team, by=agent, customer=CustomerFactory(email=""))
    ticket_services.add_reply(ticket=ticket, by=agent, body="hello")
    assert not OutgoingEmail.objects.exists()
    assert ticket.events.get(kind="reply").after["emailed"] is False


def test_a_rolled_back_change_leaves_no_email(ticket):
    with pytest.raises(RuntimeError), transaction.atomic():
        _queue(ticket=ticket, customer=ticket.customer)
        raise RuntimeError("the change failed")
    assert not OutgoingEmail.objects.exists()


def test_delivery_speaks_smtp_and_marks_the_row_sent(smtp_server, ticket):
    email = _queue(ticket=ticket, customer=ticket.customer)
    assert services.deliver(email.pk) is True
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "li@example.com" and message["Message-ID"] == email.message_id
    assert "您好,已处理。" in smtp_server.text_of(message)
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.sent_at and email.attempts == 1
    assert services.deliver(email.pk) is False  # a second delivery of a sent message does nothing
    assert len(smtp_server.messages) == 1


def test_a_temporary_refusal_is_retried_with_backoff_and_the_error_is_kept(smtp_server, ticket, settings):
    smtp_server.refuse = "451 Try again later"
    email = _queue(ticket=ticket, customer=ticket.customer)
    assert services.deliver(email.pk) is False
    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING and email.attempts == 1
    assert "451" in email.last_error
    assert email.next_attempt_at > timezone.now()
    assert services.sweep() == 0  # not due yet
    smtp_server.refuse = None
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert services.sweep() == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.last_error == ""


@pytest.mark.parametrize("reply", ["550 Mailbox unavailable", "554 Message refused"])
def test_a_permanent_refusal_fails_the_message_at_once_and_send_again_still_works(smtp_server, ticket, reply):
    smtp_server.refuse = reply
    email = _queue(ticket=ticket, customer=ticket.customer)
    assert services.deliver(email.pk) is False
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and email.attempts == 1
    assert reply[:3] in email.last_error
    assert services.sweep() == 0 and not smtp_server.messages  # no retry of a refused message
    smtp_server.refuse = None
    assert services.retry_now(OutgoingEmail.objects.filter(pk=email.pk)) == 1
    assert services.sweep() == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and len(smtp_server.messages) == 1


def test_a_refused_recipient_fails_at_once_but_a_busy_mailbox_is_retried():
    refused = smtplib.SMTPRecipientsRefused
    assert services.permanent_failure(refused({"a@example.com": (550, b"no such user")}))
    assert not services.permanent_failure(refused({"a@example.com": (452, b"mailbox full")}))
    assert not services.permanent_failure(TimeoutError("timed out"))


def test_a_server_that_never_answers_times_out_and_is_retried(settings, ticket):
    """A server that accepts the connection and then says nothing: the attempt ends at EMAIL_TIMEOUT."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", silent.getsockname()[1], 1
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        email = _queue(ticket=ticket, customer=ticket.customer)
        started = time.monotonic()
        assert services.deliver(email.pk) is False
        assert time.monotonic() - started < 10
    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING and email.attempts == 1
    assert "timed out" in email.last_error.lower()
    assert email.next_attempt_at > timezone.now()


def test_it_gives_up_after_the_maximum_number_of_attempts(settings, ticket):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.OUTBOX_MAX_ATTEMPTS = 3
    email = _queue(ticket=ticket, customer=ticket.customer)
    for _ in range(3):
        OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        services.deliver(email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and email.attempts == 3
    assert "Connection refused" in email.last_error or "Errno" in email.last_error


def test_backoff_doubles_and_is_capped():
    assert [services.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert services.backoff(30) == timedelta(hours=6)


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_a_message_once(smtp_server):
    # Written directly: queue_email would already have delivered it (eager tasks, autocommit).
    email = OutgoingEmail.objects.create(kind="test", to="li@example.com", subject="s", body_text="b", language="en")
    barrier = threading.Barrier(4)
    results = []

    def send():
        barrier.wait()
        results.append(services.deliver(email.pk))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1


@pytest.fixture(params=["stopped", "hung"])
def dead_broker(request, tmp_path):
    """A Redis that was running and is now stopped (refuses connections) or hung (SIGSTOP: accepts and
    never answers)."""
    port = free_port()
    server = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)

    def fail() -> None:
        if request.param == "stopped":
            server.terminate()
            server.wait(10)
        else:
            server.send_signal(signal.SIGSTOP)

    yield url, fail
    if server.poll() is None:
        server.send_signal(signal.SIGCONT)
        server.terminate()
        server.wait(10)


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_resolve_succeeds_and_the_sweeper_sends_later_once(
    client, agent, team, smtp_server, caplog, monkeypatch, dead_broker
):
    """Celery's broker out of reach: the agent's resolve still works without waiting on the broker
    (the outbox row already guarantees delivery); the invitation waits for the sweeper."""
    waits = []
    monkeypatch.setattr("kombu.utils.functional.sleep", waits.append)  # kombu's wait between connection retries
    from config.celery import app

    ticket = make_ticket(team=team, by=agent, customer=CustomerFactory(email="wang@example.com"))
    client.force_login(agent)
    app.conf.update(CELERY_TASK_ALWAYS_EAGER=False, task_always_eager=False)
    original = app.conf.broker_url
    url, fail = dead_broker
    # Celery reads the environment's CELERY_BROKER_URL first (the embedded launcher sets it), then its prefixed key.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app.conf.update(CELERY_BROKER_URL=url, broker_url=url)
    assert app.conf.broker_url == url
    services.enqueue_delivery(0)  # the web process has published before: its connections are warm
    fail()
    started = time.monotonic()
    try:
        response = client.post(f"/tickets/{ticket.pk}/resolve/", {"note": "已更换压缩机"})
        took = time.monotonic() - started
    finally:
        app.conf.update(CELERY_BROKER_URL=original, broker_url=original)
    assert response.status_code == 302
    assert "the outbox sweeper will send it" in caplog.text  # the broker really was unreachable
    assert sum(waits) < 0.5, waits  # gave up after one refused connection instead of retrying for 2 s
    assert took < 2, took  # a hung broker held the request for its 5 s socket timeout
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    email = OutgoingEmail.objects.get(kind="survey_invitation")
    assert email.status == EmailStatus.PENDING and not smtp_server.messages

    assert services.sweep() == 1
    assert services.sweep() == 0
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "wang@example.com"
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT


def test_the_admin_shows_the_error_and_sends_again_on_request(admin_client, ticket, settings):
    email = _queue(ticket=ticket, customer=ticket.customer)
    OutgoingEmail.objects.filter(pk=email.pk).update(status="failed", attempts=8, last_error="SMTPDataError: 554")
    page = admin_client.get(f"/admin/outbox/outgoingemail/{email.pk}/change/").content.decode()
    assert "SMTPDataError: 554" in page
    admin_client.post("/admin/outbox/outgoingemail/", {"action": "retry_now", "_selected_action": [email.pk]})
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT  # eager in unit tests: sent at once through the test backend


@pytest.fixture
def admin_client(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client
