"""The desk speaks Simplified Chinese and English: chosen by the browser, switchable."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_chinese_browser_gets_the_chinese_desk(agent_client, ticket):
    html = agent_client.get("/tickets/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "售后服务台" in html and "新建工单" in html and "报修" in html and "新建" in html


def test_an_english_browser_gets_the_english_desk(agent_client, ticket):
    html = agent_client.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "After-sales Service Desk" in html and "New ticket" in html and "Fault / repair" in html
    assert "新建工单" not in html


def test_the_header_switcher_changes_the_language(agent_client, ticket):
    response = agent_client.post(
        "/i18n/setlang/", {"language": "en", "next": "/tickets/"}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert response.status_code == 302
    html = agent_client.get("/tickets/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "New ticket" in html


def test_refusals_are_translated(agent_client, ticket):
    response = agent_client.post(f"/tickets/{ticket.pk}/close/", {}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "只有已解决的工单才能关闭。" in response.content.decode()
