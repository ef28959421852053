"""Fixed personas, as healthchecks does: alice-style names for who is who.

- ``agent`` and ``colleague``: members of ``team`` (team A)
- ``supervisor``: supervises team A
- ``outsider``: an agent of ``other_team`` (team B)
- ``manager``: in the managers group, sees every team
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from tests.factories import TeamFactory, UserFactory, make_ticket
from tickets.selectors import MANAGERS_GROUP


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The suite runs the production settings; the test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
    # Strong hashing is what production wants and what makes user fixtures slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # No collectstatic before unit tests: serve assets by name, without the manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def agent(db):
    return UserFactory(username="alice", first_name="Alice")


@pytest.fixture
def colleague(db):
    return UserFactory(username="bob", first_name="Bob")


@pytest.fixture
def supervisor(db):
    return UserFactory(username="carol", first_name="Carol")


@pytest.fixture
def outsider(db):
    return UserFactory(username="mallory", first_name="Mallory")


@pytest.fixture
def manager(db):
    user = UserFactory(username="maria", first_name="Maria")
    user.groups.add(Group.objects.get_or_create(name=MANAGERS_GROUP)[0])
    return user


@pytest.fixture
def team(agent, colleague, supervisor):
    team = TeamFactory(name="热线服务组", supervisor=supervisor)
    team.members.add(agent, colleague)
    return team


@pytest.fixture
def other_team(outsider):
    team = TeamFactory(name="维修服务组")
    team.members.add(outsider)
    return team


@pytest.fixture
def ticket(team, agent):
    return make_ticket(team=team, by=agent, assignee=agent)


@pytest.fixture
def other_ticket(other_team, outsider):
    return make_ticket(team=other_team, by=outsider, subject="Other team's ticket")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def api(agent):
    client = APIClient()
    client.force_authenticate(agent)
    return client
