"""The phone-first desk in Chromium: a call solved on the line is logged and resolved in one form,
and a follow-up call's answers are recorded with the keyboard alone."""

from __future__ import annotations

import re

import pytest

from surveys.models import SurveyResponse
from tests.factories import CustomerFactory, make_ticket
from tickets import services
from tickets.models import Category, Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.xdist_group("servers"),
]


def _agent_page(page_factory, live_server, agent, client):
    client.force_login(agent)
    page = page_factory(extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    return page


def test_a_call_solved_on_the_line_is_logged_and_resolved_in_one_step(live_server, page_factory, team, agent, client):
    page = _agent_page(page_factory, live_server, agent, client)
    page.goto(live_server.url + "/tickets/new/")
    assert page.locator("input[name=answered]").is_checked()  # a phone desk: the call is answered
    assert page.locator("input[name=customer_name]").get_attribute("autofocus") is not None  # typing starts there
    page.fill("input[name=customer_name]", "王五")
    page.fill("input[name=customer_phone]", "13900001111")
    page.fill("input[name=subject]", "遥控器无法配对")
    page.select_option("select[name=category]", str(Category.objects.get(slug="inquiry").pk))
    page.select_option("select[name=team]", str(team.pk))
    page.fill("textarea[name=resolution]", "指导客户长按配对键 5 秒, 已恢复")
    page.locator("main form button[value=solved]").click()  # one page load: logged and resolved
    page.wait_for_url(re.compile(r"/tickets/\d+/$"))
    assert "已登记并解决" in page.locator(".messages, [role=status], main").first.inner_text()
    ticket = Ticket.objects.get()
    assert ticket.status == "resolved" and ticket.first_response_at == ticket.requested_at
    assert ticket.assignee == agent


def test_a_follow_up_call_is_recorded_with_the_keyboard(live_server, page_factory, team, agent, client):
    ticket = make_ticket(team=team, by=agent, assignee=agent, customer=CustomerFactory(email="", phone="13800002222"))
    services.resolve_ticket(ticket=ticket, by=agent, note="已修好")
    page = _agent_page(page_factory, live_server, agent, client)
    page.goto(live_server.url + "/surveys/calls/")
    page.locator(f"a[href='/surveys/calls/{ticket.pk}/']").click()
    page.wait_for_url(re.compile(rf"/surveys/calls/{ticket.pk}/$"))
    # From the first question on, the keyboard alone: Space picks, Tab goes to the next question, the
    # arrows move within one. (The page autofocuses the first question; a background page may not get
    # the focus, so the test puts it there.)
    page.locator("input[name=attitude]").first.focus()
    for _question in ("attitude", "speed", "professionalism", "problem_solving", "helpfulness", "overall"):
        page.keyboard.press("Space")  # the first (best) answer
        page.keyboard.press("Tab")
    for _ in range(9):
        page.keyboard.press("ArrowRight")  # NPS 0 → 9
    page.locator("form.survey button[type=submit]").click()
    page.wait_for_url(re.compile(r"/surveys/calls/$"))
    answer = SurveyResponse.objects.get(ticket=ticket)
    assert (answer.channel, answer.overall, answer.nps, answer.taken_by) == ("phone", 5, 9, agent)
    assert ticket.reference not in page.locator("main").inner_text()
