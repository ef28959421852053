"""Finding the customer on the new-ticket form: by phone prefix, e-mail prefix or name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(db):
    return {
        "li": CustomerFactory(name="李雷", phone="13912345678", email="li.lei@example.com"),
        "han": CustomerFactory(name="韩梅梅", phone="13812345678", email="han@example.com"),
        "wang": CustomerFactory(name="王雷", phone="13700000000", email="wang@example.org"),
    }


@pytest.mark.parametrize(
    ("typed", "found"),
    [("1391", {"li"}), ("138 1234", {"han"}), ("LI.lei@", {"li"}), ("梅梅", {"han"}), ("王雷", {"wang"}), ("x", set())],
)
def test_the_search_finds_by_phone_prefix_email_prefix_or_name(agent_client, customers, typed, found):
    html = agent_client.get(reverse("tickets:customer_search"), {"q": typed}, HTTP_HX_REQUEST="true")
    shown = {key for key, customer in customers.items() if customer.name in html.content.decode()}
    assert shown == found
    assert "<html" not in html.content.decode()  # for htmx: the list alone


def test_without_javascript_the_search_is_a_page_and_a_match_fills_the_form(agent_client, customers):
    page = agent_client.get(reverse("tickets:customer_search"), {"q": "1391"}).content.decode()
    assert "<html" in page and f"?customer={customers['li'].pk}" in page
    form = agent_client.get(reverse("tickets:create"), {"customer": customers["li"].pk}).content.decode()
    assert 'value="李雷"' in form and 'value="13912345678"' in form and 'value="li.lei@example.com"' in form
    assert agent_client.get(reverse("tickets:create"), {"customer": "999999"}).status_code == 404


def test_a_visitor_cannot_search_customers(client, customers):
    response = client.get(reverse("tickets:customer_search"), {"q": "1391"})
    assert response.status_code == 302 and "李雷" not in response.content.decode()
