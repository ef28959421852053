"""The agent's workbench in Chromium: the queue's views, a saved view, and editing a ticket in place."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.xdist_group("servers"),
]

WORDS = {
    "zh-hans": {"accept": "zh-CN,zh;q=0.9", "all": "全部工单", "save": "保存视图", "edit": "修改工单信息",
                "saved": "工单信息已保存"},
    "en": {"accept": "en-US,en;q=0.9", "all": "All tickets", "save": "Save view", "edit": "Edit details",
           "saved": "The ticket's details were saved"},
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_agent_moves_between_views_saves_one_and_edits_a_ticket(
    live_server, page_factory, team, agent, colleague, client, language
):
    words = WORDS[language]
    mine = make_ticket(team=team, by=agent, assignee=agent, subject="我的工单")
    urgent = make_ticket(team=team, by=agent, assignee=colleague, subject="同事的紧急工单", priority="urgent")
    client.force_login(agent)
    page = page_factory(extra_http_headers={"Accept-Language": words["accept"]})
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])  # fmt: skip

    page.goto(live_server.url + "/tickets/")
    table = page.locator("table.queue")
    assert mine.reference in table.inner_text() and urgent.reference not in table.inner_text()

    page.locator(".queue-views a", has_text=words["all"]).click()
    page.wait_for_url(re.compile(r"view=all"))
    page.select_option("select[name=priority]", "urgent")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(re.compile(r"priority=urgent"))
    assert "view=all" in page.url  # the view survives the filter form
    page.fill("#view-name", "全组紧急")
    page.locator("form.save-view button", has_text=words["save"]).click()
    page.wait_for_load_state()

    page.goto(live_server.url + "/tickets/")
    page.locator(".queue-views a", has_text="全组紧急").click()
    page.wait_for_url(re.compile(r"priority=urgent"))
    assert urgent.reference in table.inner_text() and mine.reference not in table.inner_text()

    page.locator("table.queue a", has_text=urgent.reference).click()
    page.locator("#edit summary", has_text=words["edit"]).click()
    page.fill("#edit input[name=product]", "滚筒洗衣机 XQG100")
    page.select_option("#edit select[name=priority]", "high")
    page.locator("#edit button[type=submit]").click()
    page.wait_for_load_state()
    assert words["saved"] in page.locator("main").inner_text()
    assert "滚筒洗衣机 XQG100" in page.locator(".timeline").inner_text()
    urgent.refresh_from_db()
    assert urgent.priority == "high" and urgent.product == "滚筒洗衣机 XQG100"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_customer_is_found_as_the_agent_types_and_keys_open_the_reply(
    live_server, page_factory, team, agent, client, language
):
    from tests.factories import CustomerFactory

    words = WORDS[language]
    customer = CustomerFactory(name="韩梅梅", phone="13812345678", email="han@example.com")
    ticket = make_ticket(team=team, by=agent, assignee=agent, subject="热水器打不着火")
    client.force_login(agent)
    page = page_factory(extra_http_headers={"Accept-Language": words["accept"]})
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])  # fmt: skip

    page.goto(live_server.url + "/tickets/new/")
    page.locator("#customer-q").press_sequentially("138123", delay=30)
    match = page.locator("#customer-matches a", has_text="韩梅梅")
    match.wait_for()  # htmx brought the matches in while typing
    match.click()
    page.wait_for_url(re.compile(rf"customer={customer.pk}"))
    assert page.locator("input[name=customer_phone]").input_value() == "13812345678"

    page.goto(live_server.url + "/tickets/")
    page.locator("body").press("j")  # the first ticket of the list
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/tickets/{ticket.pk}/$"))
    page.locator("body").press("r")
    assert page.evaluate("document.activeElement.name") == "body"  # the reply box
    page.keyboard.type("您好，师傅明天上门。")
    page.locator("#reply button[type=submit]").click()
    page.wait_for_load_state()
    assert "您好，师傅明天上门。" in page.locator(".timeline").inner_text()
    page.locator("body").press("?")
    assert page.locator("dialog#shortcuts").is_visible()


def test_the_english_complaint_board_fits_a_1366_pixel_screen(live_server, page_factory, team, agent, client):
    from tickets import services

    for n in range(3):
        subject = f"Repeated failure of the compressor after the second repair visit {n}"
        ticket = make_ticket(team=team, by=agent, assignee=agent, category="complaint", subject=subject)
        services.add_note(ticket=ticket, by=agent, body="escalation pending")
    client.force_login(agent)
    page = page_factory(viewport={"width": 1366, "height": 768}, extra_http_headers={"Accept-Language": "en"})
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])  # fmt: skip
    page.goto(live_server.url + "/complaints/")
    assert "Complaint" in page.locator("h1").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling


MORE_WORDS = {
    "zh-hans": {"changed": "已修改 10 张工单", "merged": "已合并到本工单", "merge": "合并到另一张工单"},
    "en": {"changed": "10 tickets were changed", "merged": "was merged into this ticket",
           "merge": "Merge this ticket into another"},
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_ten_tickets_assigned_at_once_two_merged_and_a_canned_reply_filled_in(
    live_server, page_factory, team, agent, colleague, client, language
):
    from tests.factories import CustomerFactory
    from tickets import services
    from tickets.models import Ticket

    words = {**WORDS[language], **MORE_WORDS[language]}
    batch = [make_ticket(team=team, by=agent, subject=f"批量来电 {n}") for n in range(10)]
    customer = CustomerFactory(name="李雷", preferred_language="zh-hans")
    kept = make_ticket(team=team, by=agent, assignee=agent, customer=customer, subject="冰箱不制冷")
    duplicate = make_ticket(team=team, by=agent, customer=customer, subject="冰箱还是不冷",
                            description="第二次来电：冷藏室结冰。")  # fmt: skip
    services.save_canned_reply(by=agent, name="上门预约", action="pending", body_en="Dear {customer}",
                               body_zh="{customer}您好，工单{reference}已安排，{agent}敬上。")  # fmt: skip
    client.force_login(agent)
    page = page_factory(extra_http_headers={"Accept-Language": words["accept"]})
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])  # fmt: skip

    page.goto(live_server.url + "/tickets/?view=all")
    for ticket in batch:
        page.locator(f"input[name=tickets][value='{ticket.pk}']").check()
    page.select_option("#bulk select[name=action]", "assign")
    page.select_option("#bulk select[name=assignee]", colleague.username)
    page.locator("#bulk button[type=submit]").click()
    page.wait_for_load_state()
    assert words["changed"] in page.locator("main").inner_text()
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in batch]).values_list("assignee", flat=True)) == {colleague.pk}

    page.goto(live_server.url + f"/tickets/{duplicate.pk}/")
    page.locator("#merge summary", has_text=words["merge"]).click()
    page.fill("#merge input[name=into]", kept.reference)
    page.locator("#merge input[name=confirm]").check()
    page.locator("#merge button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/tickets/{kept.pk}/$"))
    assert words["merged"] in page.locator("main").inner_text()
    assert "第二次来电：冷藏室结冰。" in page.locator(".timeline").inner_text()

    page.fill("#canned", "已安排")  # words of its text
    page.locator(".canned-pick button[type=submit]").click()
    page.wait_for_url(re.compile(r"canned_q="))
    body = page.locator("#reply textarea[name=body]")
    assert body.input_value() == f"李雷您好，工单{kept.reference}已安排，Alice敬上。"
    page.locator("#reply form[method=post] button[type=submit]").click()
    page.wait_for_load_state()
    assert f"工单{kept.reference}已安排" in page.locator(".timeline").inner_text()
    kept.refresh_from_db()
    assert kept.status == "pending"  # the canned reply's action
