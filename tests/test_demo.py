"""The demo data tell a true story: a phone-first department that works, with nothing for a sweep to
catch up on when ``make run`` opens it."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F, Q
from django.utils import timezone

from complaints.models import Complaint
from complaints.services import escalate_overdue
from notifications.models import Notification
from surveys.models import FollowUpCall, SurveyResponse
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    out = io.StringIO()
    call_command("seed_demo", tickets=600, days=45, stdout=out)
    return out.getvalue()


def test_the_demo_department_works_and_leaves_nothing_for_the_sweeps(demo):
    assert escalate_overdue() == 0  # neither an escalation nor a delay left to catch up on
    complaints = Complaint.objects.all()
    closed = complaints.filter(status="closed")
    assert closed.count() > complaints.count() / 2
    assert not closed.filter(Q(confirmed_at__isnull=True) | Q(root_cause__isnull=True)).exists()
    assert closed.filter(closed_at__lte=F("due_at")).count() > 0.8 * closed.count()  # mostly on time
    assert not complaints.filter(first_handled_at__isnull=True).exists()
    assert complaints.filter(level__gt=1).exists()
    assert complaints.filter(delayed_at__isnull=False).count() < complaints.count() / 10
    assert not Ticket.objects.filter(complaint__status="closed", resolved_at__isnull=True).exists()
    # every open ticket already past its target has had its breach notice (and digest), as in a running desk
    late = Ticket.objects.filter(status__in=["new", "open"], resolution_due_at__lt=timezone.now() - timedelta(hours=1))
    assert late.exists()
    for ticket in late:
        notices = Notification.objects.filter(ticket=ticket, kind="breach", clock="resolution")
        assert notices.filter(emailed_at__isnull=False).exists()


def test_the_demo_is_phone_first(demo):
    calls = Ticket.objects.filter(channel="phone")
    assert calls.exists() and not calls.exclude(first_response_at=F("requested_at")).exists()
    assert calls.filter(resolved_at__lt=F("requested_at") + timedelta(minutes=20)).exists()
    assert SurveyResponse.objects.filter(channel="phone").exists()
    assert FollowUpCall.objects.filter(outcome="no_answer").exists()
    unhappy = SurveyResponse.objects.filter(Q(overall__lte=2) | Q(nps__lte=6))
    assert unhappy.exists() and not unhappy.filter(follow_up__isnull=True).exists()  # every detractor followed up


def test_the_demo_has_tags_shared_canned_replies_and_merged_duplicates(demo):
    from tickets.models import CannedReply

    assert Ticket.objects.filter(tags__isnull=False).distinct().count() > 600 / 6
    assert CannedReply.objects.filter(team__isnull=False).count() >= 6
    merged = Ticket.objects.filter(merged_into__isnull=False)
    assert merged.exists() and not merged.exclude(status="closed").exists()
    assert not merged.filter(merged_into__merged_into__isnull=False).exists()


def test_running_it_again_adds_nothing(demo):
    tickets, complaints = Ticket.objects.count(), Complaint.objects.count()
    call_command("seed_demo", tickets=600, days=45, stdout=io.StringIO())
    assert (Ticket.objects.count(), Complaint.objects.count()) == (tickets, complaints)
