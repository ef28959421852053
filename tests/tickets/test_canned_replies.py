"""Canned replies (常用回复): written once, used from the reply box with the ticket's details filled in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CustomerFactory, make_ticket
from tickets import services
from tickets.models import CannedReply, EventKind, Status

pytestmark = pytest.mark.django_db

TEXT = "{customer}您好，您的工单 {reference} 已由 {agent} 受理，预计 {due} 前处理完毕。"


def test_a_canned_reply_fills_the_reply_box_in_the_customers_language(agent_client, team, agent):
    response = agent_client.post(reverse("tickets:canned"), {
        "name": "受理确认", "body_zh": TEXT, "body_en": "Dear {customer}, {reference} is with {agent}.", "action": "",
    })  # fmt: skip
    assert response.status_code == 302
    canned = CannedReply.objects.get()
    chinese = make_ticket(team=team, by=agent, customer=CustomerFactory(name="李雷", preferred_language="zh-hans"))
    english = make_ticket(team=team, by=agent, customer=CustomerFactory(name="Ann Lee", preferred_language="en"))

    page = agent_client.get(reverse("tickets:detail", args=[chinese.pk]), {"canned": canned.pk}).content.decode()
    assert f"李雷您好，您的工单 {chinese.reference} 已由 Alice 受理" in page and "{due}" not in page
    page = agent_client.get(reverse("tickets:detail", args=[english.pk]), {"canned": canned.pk}).content.decode()
    assert f"Dear Ann Lee, {english.reference} is with Alice." in page


def test_reply_and_wait_for_the_customer_in_one_step(agent_client, ticket):
    agent_client.post(reverse("tickets:canned"), {"name": "请补充照片", "body_zh": "请补充故障照片。",
                                                  "action": "pending"})  # fmt: skip
    canned = CannedReply.objects.get()
    page = agent_client.get(reverse("tickets:detail", args=[ticket.pk]), {"canned": canned.pk}).content.decode()
    assert '<option value="pending" selected>' in page

    agent_client.post(reverse("tickets:reply", args=[ticket.pk]), {"body": "请补充故障照片。", "then": "pending"})
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert list(ticket.events.filter(kind__in=[EventKind.REPLY, EventKind.PENDING]).values_list("kind", flat=True)) == [
        EventKind.REPLY, EventKind.PENDING,
    ]  # fmt: skip


def test_a_supervisor_shares_replies_with_the_team_and_others_see_only_theirs(
    agent_client, team, supervisor, outsider, ticket
):
    lead = Client()
    lead.force_login(supervisor)
    lead.post(reverse("tickets:canned"), {"name": "全组通用", "body_zh": "您好。", "team": team.pk})
    refused = agent_client.post(reverse("tickets:canned"), {"name": "越权共享", "body_zh": "您好。", "team": team.pk})
    assert refused.status_code == 400 and not CannedReply.objects.filter(name="越权共享").exists()

    shared = CannedReply.objects.get(name="全组通用")
    assert "全组通用" in agent_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    other = Client()
    other.force_login(outsider)
    assert "全组通用" not in other.get(reverse("tickets:canned")).content.decode()
    assert other.get(reverse("tickets:detail", args=[ticket.pk]), {"canned": shared.pk}).status_code == 404

    agent_client.post(reverse("tickets:canned_delete", args=[shared.pk]))  # not the agent's to delete
    assert CannedReply.objects.filter(pk=shared.pk).exists()
    lead.post(reverse("tickets:canned_delete", args=[shared.pk]))
    assert not CannedReply.objects.filter(pk=shared.pk).exists()


def test_a_canned_reply_is_found_by_words_of_its_name_or_text(agent_client, agent, ticket):
    services.save_canned_reply(by=agent, name="上门预约", body_zh="师傅将于明天上午上门。")
    services.save_canned_reply(by=agent, name="配件缺货", body_zh="配件正在调货，预计三天。")
    url = reverse("tickets:detail", args=[ticket.pk])

    by_text = agent_client.get(url, {"canned_q": "调货"}).content.decode()
    by_name = agent_client.get(url, {"canned_q": "上门"}).content.decode()
    nothing = agent_client.get(url, {"canned_q": "退款<script>"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "配件正在调货，预计三天。</textarea>" in by_text
    assert "师傅将于明天上午上门。</textarea>" in by_name
    assert "No canned reply has" in nothing and "退款&lt;script&gt;" in nothing and "退款<script>" not in nothing
