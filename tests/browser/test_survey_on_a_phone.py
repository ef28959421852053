"""The customer answers the survey on a phone-sized screen in Chromium."""

from __future__ import annotations

import re

import pytest

from outbox import links
from outbox.models import OutgoingEmail
from surveys.models import SurveyResponse
from tests.factories import CustomerFactory, make_ticket
from tickets import services

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.xdist_group("servers"),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.mark.parametrize(("language", "thanks"), [("zh-hans", "感谢您的反馈"), ("en", "Thank you for your feedback")])
def test_a_customer_answers_on_a_phone_and_sees_the_thank_you_page(
    live_server, page_factory, team, agent, language, thanks
):
    customer = CustomerFactory(email="phone@example.com", preferred_language=language)
    ticket = make_ticket(team=team, by=agent, customer=customer, subject="洗衣机 <b>漏水</b>")
    services.resolve_ticket(ticket=ticket, by=agent, note="已更换进水阀")
    body = links.fill(OutgoingEmail.objects.get(kind="survey_invitation").body_text)
    path = re.search(r"/s/[\w-]+/", body).group(0)

    page = page_factory(**PHONE)
    page.goto(live_server.url + path)
    assert page.locator("h1").is_visible()
    assert "洗衣机 <b>漏水</b>" in page.locator(".ticket-ref").inner_text()  # shown as text
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    overlaps = page.evaluate("""() => Array.from(document.querySelectorAll('fieldset.question')).flatMap(set => {
        const heading = set.querySelector('legend').getBoundingClientRect();
        return Array.from(set.querySelectorAll('label, .scale-ends, small')).filter(el => {
            const box = el.getBoundingClientRect();
            return box.height > 0 && box.top < heading.bottom - 1 && box.bottom > heading.top + 1
                && box.left < heading.right && box.right > heading.left;
        }).map(el => set.id + ': ' + el.textContent.trim().slice(0, 20));
    })""")
    assert overlaps == []  # no question heading runs into its answers

    for key in ("attitude", "speed", "professionalism", "problem_solving", "helpfulness", "overall"):
        page.locator(f"#q-{key} label.option").first.click()
    page.locator("#q-nps label.option").nth(9).click()
    page.fill("textarea[name=improve]", "希望周末也能上门")
    page.get_by_role("button", name=re.compile("提交|Submit")).click()

    page.wait_for_selector(".notice h1")
    assert thanks in page.locator(".notice h1").inner_text()
    answer = SurveyResponse.objects.get(ticket=ticket)
    assert (answer.overall, answer.nps, answer.answers["improve"]) == (5, 9, "希望周末也能上门")


def test_a_missing_answer_is_marked_and_the_other_answers_are_kept(live_server, page_factory, team, agent):
    ticket = make_ticket(team=team, by=agent, customer=CustomerFactory(preferred_language="zh-hans"))
    services.resolve_ticket(ticket=ticket, by=agent, note="done")
    path = re.search(r"/s/[\w-]+/", links.fill(OutgoingEmail.objects.get(kind="survey_invitation").body_text)).group(0)

    page = page_factory(**PHONE)
    page.goto(live_server.url + path)
    page.locator("#q-attitude label.option").nth(1).click()
    page.fill("textarea[name=comments]", "还不错")
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector(".form-errors")
    assert page.locator("#q-overall.has-error").count() == 1
    assert page.locator("#q-attitude input[value='4']").is_checked()
    assert page.input_value("textarea[name=comments]") == "还不错"
    assert not SurveyResponse.objects.exists()
