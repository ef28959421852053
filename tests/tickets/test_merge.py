"""Merging a duplicate into another ticket: the conversation, files and survey move; the duplicate is
closed with a pointer and counted once in the KPIs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint
from config.exceptions import ApplicationError
from kpis.engine import refresh_kpis
from kpis.models import KPIValue
from kpis.registry import BY_KEY
from kpis.selectors import drilldown_q
from surveys.models import SurveyInvitation
from tests.factories import CustomerFactory, make_ticket
from tickets import attachments, services
from tickets.models import EventKind, Status, Ticket

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def pair(team, agent):
    customer = CustomerFactory(email="wang@example.com")
    kept = make_ticket(team=team, by=agent, assignee=agent, customer=customer, subject="空调不制冷")
    duplicate = make_ticket(team=team, by=agent, customer=customer, subject="空调还是不冷",
                            description="客户第二次来电：室外机不转。", channel="email")  # fmt: skip
    return kept, duplicate


def test_the_duplicates_conversation_and_files_move_and_it_is_closed_with_a_pointer(pair, agent):
    kept, duplicate = pair
    services.add_reply(ticket=duplicate, by=agent, body="我们已收到，会尽快安排。")
    services.add_note(
        ticket=duplicate, by=agent, body="室外机可能缺氟",
        attachments=[attachments.Upload.from_bytes("外机.png", PNG)],
    )  # fmt: skip
    replies_before = Ticket.objects.get(pk=kept.pk).public_reply_count

    survivor = services.merge_tickets(ticket=duplicate, into=kept, by=agent, note="同一台空调")

    duplicate.refresh_from_db()
    assert survivor.pk == kept.pk
    assert duplicate.status == Status.CLOSED and duplicate.merged_into_id == kept.pk and duplicate.closed_at
    kinds = list(kept.events.values_list("kind", flat=True))
    assert EventKind.REPLY in kinds and EventKind.NOTE in kinds and EventKind.MERGED in kinds
    merged = kept.events.get(kind=EventKind.MERGED)
    assert merged.body == "客户第二次来电：室外机不转。" and merged.after["duplicate"] == duplicate.reference
    assert [a.name for a in kept.attachments.all()] == ["外机.png"]
    assert not duplicate.attachments.exists()
    pointer = duplicate.events.get(kind=EventKind.MERGED_INTO)
    assert pointer.body == "同一台空调" and pointer.after["merged_into"] == kept.reference
    assert Ticket.objects.get(pk=kept.pk).public_reply_count == replies_before + 1
    # The duplicate had counted as the customer coming back on the earlier ticket: it no longer does.
    assert Ticket.objects.get(pk=kept.pk).repeat_count == 0
    assert kept.events.get(kind=EventKind.REPEATED).after["withdrawn"] == "merged"
    # A merged duplicate takes notes only: its work goes on in the other ticket.
    assert services.allowed_actions(duplicate) == {"note"}
    with pytest.raises(ApplicationError, match=kept.reference):
        services.reopen_ticket(ticket=duplicate, by=agent, reason="再看看")


@pytest.mark.parametrize("case", ["itself", "merged_twice", "into_merged", "into_resolved", "closed_duplicate"])
def test_a_merge_that_makes_no_sense_is_refused_and_changes_nothing(pair, team, agent, case):
    kept, duplicate = pair
    third = make_ticket(team=team, by=agent, subject="第三张")
    source, target = duplicate, kept
    if case == "itself":
        target = duplicate
    elif case == "merged_twice":
        services.merge_tickets(ticket=duplicate, into=kept, by=agent)
        target = third
    elif case == "into_merged":
        services.merge_tickets(ticket=kept, into=third, by=agent)
    elif case == "into_resolved":
        services.resolve_ticket(ticket=kept, by=agent, note="已修好")
    elif case == "closed_duplicate":
        services.resolve_ticket(ticket=duplicate, by=agent, note="已修好")
        services.close_ticket(ticket=duplicate, by=agent)
    before = {t.pk: (t.status, t.merged_into_id, t.events.count()) for t in Ticket.objects.all()}

    with pytest.raises(ApplicationError) as refused:
        services.merge_tickets(ticket=source, into=target, by=agent)

    assert refused.value.field == "into" and refused.value.message
    assert {t.pk: (t.status, t.merged_into_id, t.events.count()) for t in Ticket.objects.all()} == before


def test_the_survey_moves_with_the_duplicate_and_the_customer_is_surveyed_once(pair, agent, settings):
    kept, duplicate = pair
    services.resolve_ticket(ticket=duplicate, by=agent, note="电话指导重启")
    invitation = SurveyInvitation.objects.get(ticket=duplicate)

    services.merge_tickets(ticket=duplicate, into=kept, by=agent)
    services.resolve_ticket(ticket=kept, by=agent, note="更换电容")

    assert SurveyInvitation.objects.get(pk=invitation.pk).ticket_id == kept.pk
    assert SurveyInvitation.objects.filter(ticket__in=[kept, duplicate]).count() == 1


def test_a_complaint_moves_along_unless_both_tickets_have_an_open_one(team, agent):
    customer = CustomerFactory()
    kept = make_ticket(team=team, by=agent, assignee=agent, customer=customer)
    complaint_ticket = make_ticket(team=team, by=agent, customer=customer, category="complaint")
    services.merge_tickets(ticket=complaint_ticket, into=kept, by=agent)
    assert Complaint.objects.get().ticket_id == kept.pk

    second = make_ticket(team=team, by=agent, customer=customer, category="complaint", subject="又投诉")
    with pytest.raises(ApplicationError, match="投诉尚未关闭"):
        services.merge_tickets(ticket=second, into=kept, by=agent)
    assert Ticket.objects.get(pk=second.pk).merged_into_id is None
    assert Complaint.objects.filter(ticket=second).exists()


def test_a_mail_answering_the_duplicate_reaches_the_ticket_it_was_merged_into(pair, agent):
    kept, duplicate = pair
    services.merge_tickets(ticket=duplicate, into=kept, by=agent)

    landed = services.receive_message(
        ticket=duplicate, body="师傅几点到？", at=timezone.now(), message_id="<q@example.com>",
        sender="wang@example.com",
    )  # fmt: skip

    assert landed.pk == kept.pk
    assert kept.events.filter(kind=EventKind.RECEIVED, body="师傅几点到？").exists()
    assert Ticket.objects.get(pk=duplicate.pk).status == Status.CLOSED


def test_a_merged_duplicate_is_counted_once_in_the_kpis_and_their_lists(pair, agent):
    kept, duplicate = pair
    refresh_kpis(full=True)
    workload = KPIValue.objects.get(kpi="workload", granularity="day", dimension="all")
    assert workload.denominator == 2

    with_later = timezone.now() + timedelta(minutes=10)
    with time_machine.travel(with_later, tick=False):
        services.merge_tickets(ticket=duplicate, into=kept, by=agent)
        assert not refresh_kpis().run.full

    day = timezone.localdate()
    for kpi in ("workload", "backlog_rate"):
        value = KPIValue.objects.get(kpi=kpi, granularity="day", period_start=day, dimension="all")
        listed = Ticket.objects.filter(
            drilldown_q(BY_KEY[kpi], "den", day, day + timedelta(days=1), now=with_later + timedelta(seconds=1))
        )
        assert value.denominator == 1 == listed.count(), kpi
        assert list(listed) == [kept]


def test_the_ticket_page_merges_and_shows_both_ends(agent_client, pair):
    kept, duplicate = pair
    url = reverse("tickets:merge", args=[duplicate.pk])

    refused = agent_client.post(url, {"into": kept.reference}, HTTP_ACCEPT_LANGUAGE="en")  # not confirmed
    assert refused.status_code == 400 and Ticket.objects.get(pk=duplicate.pk).merged_into_id is None
    assert "Tick the box" in refused.content.decode()
    unknown = agent_client.post(url, {"into": "SR-1999-000001", "confirm": "on"})
    assert unknown.status_code == 400 and "SR-1999-000001" in unknown.content.decode()

    typed = {"into": kept.reference.lower(), "confirm": "on", "note": "重复来电"}
    response = agent_client.post(url, typed, follow=True)

    assert response.redirect_chain[-1][0] == reverse("tickets:detail", args=[kept.pk])
    page = response.content.decode()
    assert duplicate.reference in page and "客户第二次来电：室外机不转。" in page
    pointer = agent_client.get(reverse("tickets:detail", args=[duplicate.pk])).content.decode()
    assert 'id="merged-into"' in pointer and kept.reference in pointer and 'id="reply"' not in pointer


def test_bulk_merge_puts_the_ticked_duplicates_into_one_ticket(agent_client, team, agent, other_ticket):
    kept = make_ticket(team=team, by=agent, subject="批量合并目标")
    duplicates = [make_ticket(team=team, by=agent, subject=f"重复 {n}") for n in range(3)]
    ticked = [kept.pk, *(d.pk for d in duplicates), other_ticket.pk]

    response = agent_client.post(
        reverse("tickets:bulk"), {"action": "merge", "into": kept.reference, "tickets": ticked}, follow=True
    )

    assert set(Ticket.objects.filter(merged_into=kept).values_list("pk", flat=True)) == {d.pk for d in duplicates}
    assert Ticket.objects.get(pk=kept.pk).merged_into_id is None
    said = " ".join(str(m) for m in response.context["messages"])
    assert "3" in said and f"#{other_ticket.pk}" in said
    assert kept.events.filter(kind=EventKind.MERGED).count() == 3


def test_the_api_merges_and_says_where(api, pair, agent):
    kept, duplicate = pair
    refused = api.post(reverse("api-ticket-merge", args=[duplicate.pk]), {"into": duplicate.reference}, format="json")
    assert refused.status_code == 400 and "into" in refused.json()

    response = api.post(reverse("api-ticket-merge", args=[duplicate.pk]), {"into": kept.reference}, format="json")

    assert response.status_code == 200 and response.json()["id"] == kept.pk
    shown = api.get(reverse("api-ticket", args=[duplicate.pk])).json()
    assert shown["merged_into"] == kept.pk and shown["status"] == "closed"


def test_a_merged_duplicate_is_not_called_for_a_survey(team, agent):
    from surveys.selectors import calls_due

    customer = CustomerFactory(email="")  # no address: resolved tickets go to the call queue
    kept = make_ticket(team=team, by=agent, assignee=agent, customer=customer)
    duplicate = make_ticket(team=team, by=agent, customer=customer, subject="重复来电")
    services.resolve_ticket(ticket=duplicate, by=agent, note="电话里已解决")
    assert calls_due(agent).filter(pk=duplicate.pk).exists()

    services.merge_tickets(ticket=duplicate, into=kept, by=agent)

    assert not calls_due(agent).filter(pk=duplicate.pk).exists()


def test_the_duplicates_mails_go_with_it_held_ones_included(pair, agent, mailbox):
    from mailboxes.models import InboundMessage, Outcome

    kept, duplicate = pair
    held = InboundMessage.objects.create(
        mailbox=mailbox, message_id="<held@example.com>", sender="brother@example.com", subject="空调还是不冷",
        received_at=timezone.now(), body_text="我是他弟弟，师傅什么时候来？", outcome=Outcome.HELD, ticket=duplicate,
    )  # fmt: skip

    services.merge_tickets(ticket=duplicate, into=kept, by=agent)

    assert InboundMessage.objects.get(pk=held.pk).ticket_id == kept.pk
