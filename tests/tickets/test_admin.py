"""Reference data is managed in /admin/: teams, categories, SLA policies, customers."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tickets.models import SLAPolicy, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", ["team", "category", "slapolicy", "customer", "ticket"])
def test_each_reference_list_opens(admin_client, ticket, model):
    assert admin_client.get(f"/admin/tickets/{model}/").status_code == 200


def test_a_team_is_created_with_members_and_a_supervisor(admin_client, agent, colleague, supervisor):
    response = admin_client.post(
        "/admin/tickets/team/add/",
        {"name": "退换货服务组", "supervisor": supervisor.pk, "members": [agent.pk, colleague.pk]},
    )
    assert response.status_code == 302
    team = Team.objects.get(name="退换货服务组")
    assert team.supervisor == supervisor and set(team.members.all()) == {agent, colleague}


def test_a_second_general_policy_for_the_same_priority_is_refused(admin_client):
    response = admin_client.post(
        "/admin/tickets/slapolicy/add/", {"priority": "normal", "response_minutes": 10, "resolution_minutes": 100}
    )
    assert response.status_code == 200  # the form again, with the error
    assert SLAPolicy.objects.filter(priority="normal", category=None).count() == 1


def test_tickets_cannot_be_edited_behind_the_desks_back(admin_client, ticket):
    assert admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").status_code == 200
    response = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", {"status": "closed"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == "new"
