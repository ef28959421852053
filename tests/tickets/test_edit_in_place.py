"""A ticket's details changed on its page: each change in the timeline, stale forms refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import TeamFactory
from tickets import services
from tickets.models import Category, EventKind

pytestmark = pytest.mark.django_db


def _form(ticket, **changes):
    data = {
        "subject": ticket.subject, "category": ticket.category_id, "priority": ticket.priority,
        "channel": ticket.channel, "team": ticket.team_id, "reason": "", "product": ticket.product,
        "serial_number": ticket.serial_number, "labour_cost": "0", "logistics_cost": "0", "other_cost": "0",
        "version": services.version_of(ticket),
    }  # fmt: skip
    data.update(changes)
    return data


def test_the_details_change_in_place_and_the_timeline_says_what_changed(agent_client, ticket):
    page = agent_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert reverse("tickets:edit", args=[ticket.pk]) in page

    response = agent_client.post(
        reverse("tickets:edit", args=[ticket.pk]),
        _form(ticket, priority="urgent", product="滚筒洗衣机 XQG100", logistics_cost="35.50",
              category=Category.objects.get(slug="return").pk),
    )  # fmt: skip

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.product, ticket.logistics_cost) == ("urgent", "滚筒洗衣机 XQG100", Decimal("35.50"))
    assert ticket.category.slug == "return"
    event = ticket.events.get(kind=EventKind.UPDATED)
    assert {"priority", "product", "logistics_cost", "category"} <= set(event.after)
    timeline = agent_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert "滚筒洗衣机 XQG100" in timeline and "35.50" in timeline


def test_a_transfer_to_another_team_needs_a_reason_which_the_timeline_keeps(agent_client, ticket, agent):
    other = TeamFactory(name="上门维修组")
    other.members.add(agent)

    refused = agent_client.post(reverse("tickets:edit", args=[ticket.pk]), _form(ticket, team=other.pk))
    assert refused.status_code == 400 and "上门维修组" in refused.content.decode()
    ticket.refresh_from_db()
    assert ticket.team_id != other.pk

    agent_client.post(reverse("tickets:edit", args=[ticket.pk]), _form(ticket, team=other.pk, reason="需要上门检修"))
    ticket.refresh_from_db()
    assert ticket.team == other
    assert ticket.events.get(kind=EventKind.UPDATED).body == "需要上门检修"


def test_a_form_older_than_the_ticket_is_refused_and_what_was_typed_stays(agent_client, ticket, colleague):
    stale = _form(ticket, subject="洗衣机漏水（已核实型号）")
    services.update_ticket(ticket=ticket, by=colleague, priority="high")  # someone else, meanwhile

    response = agent_client.post(reverse("tickets:edit", args=[ticket.pk]), stale)

    assert response.status_code == 400
    assert "洗衣机漏水（已核实型号）" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.subject != "洗衣机漏水（已核实型号）" and ticket.priority == "high"


def test_filters_and_forms_name_people_as_the_lists_do(agent_client, ticket):
    queue = agent_client.get(reverse("tickets:list")).content.decode()
    page = agent_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    for html in (queue, page):
        assert '<option value="alice">Alice</option>' in html or '<option value="alice" selected>Alice</option>' in html


def test_the_customers_details_are_corrected_from_the_ticket_and_shown_on_all_their_tickets(
    agent_client, ticket, team, agent, other_team, outsider
):
    from tests.factories import CustomerFactory, make_ticket

    earlier = make_ticket(team=team, by=agent, customer=ticket.customer, subject="去年的报修")
    elsewhere = make_ticket(team=other_team, by=outsider, customer=ticket.customer, subject="别组的工单")
    CustomerFactory(email="taken@example.com")
    form = {"name": "李雷", "email": "li.lei@example.com", "phone": "13900000000", "preferred_language": "en",
            "note": "老客户，耳背，请大声说话"}  # fmt: skip

    refused = agent_client.post(reverse("tickets:customer", args=[ticket.pk]), {**form, "email": "taken@example.com"})
    assert refused.status_code == 400 and "taken@example.com" in refused.content.decode()

    assert agent_client.post(reverse("tickets:customer", args=[ticket.pk]), form).status_code == 302
    ticket.customer.refresh_from_db()
    assert (ticket.customer.phone, ticket.customer.preferred_language) == ("13900000000", "en")
    page = agent_client.get(reverse("tickets:detail", args=[earlier.pk])).content.decode()
    assert "老客户，耳背，请大声说话" in page and ticket.reference in page and elsewhere.reference not in page
    timeline = agent_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert "13900000000" in timeline.split('class="timeline"', 1)[1]


def test_two_tickets_of_the_same_fault_are_linked_and_each_shows_the_other(agent_client, ticket, team, agent):
    from tests.factories import make_ticket
    from tickets.models import TicketLink

    incident = make_ticket(team=team, by=agent, subject="小区停电导致多台设备故障")
    response = agent_client.post(reverse("tickets:link", args=[ticket.pk]),
                                 {"reference": incident.reference.lower(), "kind": "part_of"})  # fmt: skip
    assert response.status_code == 302
    assert TicketLink.objects.get().to_ticket == incident
    for one, other in ((ticket, incident), (incident, ticket)):
        page = agent_client.get(reverse("tickets:detail", args=[one.pk])).content.decode()
        assert other.reference in page.split('id="links"', 1)[1].split("</section>", 1)[0]
        assert one.events.filter(kind=EventKind.LINKED, after__linked=other.reference).exists()

    again = agent_client.post(reverse("tickets:link", args=[incident.pk]), {"reference": ticket.reference,
                                                                           "kind": "related"})  # fmt: skip
    itself = agent_client.post(reverse("tickets:link", args=[ticket.pk]), {"reference": ticket.reference,
                                                                          "kind": "related"})  # fmt: skip
    unknown = agent_client.post(reverse("tickets:link", args=[ticket.pk]), {"reference": "SR-1999-000001",
                                                                           "kind": "related"})  # fmt: skip
    assert again.status_code == itself.status_code == unknown.status_code == 400
    assert TicketLink.objects.count() == 1


def test_tags_are_set_in_place_filter_the_queue_and_are_added_in_bulk(agent_client, ticket, team, agent):
    from tests.factories import make_ticket
    from tickets.models import Tag

    response = agent_client.post(
        reverse("tickets:edit", args=[ticket.pk]), _form(ticket, tags="XQG100，批次 2026-11; 保内")
    )
    assert response.status_code == 302
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["XQG100", "保内", "批次 2026-11"]
    assert ticket.events.get(kind=EventKind.UPDATED).after["tags"] == "XQG100, 保内, 批次 2026-11"

    other = make_ticket(team=team, by=agent, subject="另一台")
    agent_client.post(reverse("tickets:bulk"), {"action": "tag", "tag": "xqg100", "tickets": [other.pk]})
    assert list(other.tags.values_list("name", flat=True)) == ["XQG100"]  # the same tag, whatever the case
    assert Tag.objects.count() == 3

    queue = agent_client.get(reverse("tickets:list"), {"view": "all", "tag": "XQG100"}).content.decode()
    assert ticket.reference in queue and other.reference in queue
    only = agent_client.get(reverse("tickets:list"), {"view": "all", "tag": "保内"}).content.decode()
    assert ticket.reference in only and other.reference not in only

    ticket.refresh_from_db()
    many = ", ".join(f"t{n}" for n in range(11))
    refused = agent_client.post(reverse("tickets:edit", args=[ticket.pk]), _form(ticket, tags=many, priority="high"))
    assert refused.status_code == 400 and "10" in refused.content.decode()
    ticket.refresh_from_db()
    assert ticket.tags.count() == 3 and ticket.priority != "high"  # nothing of the refused form was kept
