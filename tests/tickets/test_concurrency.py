"""Two agents acting on one ticket at the same moment: both recorded, no counter lost."""

from __future__ import annotations

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
    ticket = make_ticket(team=team, by=agent)
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
