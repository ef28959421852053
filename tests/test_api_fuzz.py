"""The API fuzzed from its own OpenAPI document (schemathesis): no 5xx, no answer outside the schema.

Every operation gets generated requests — valid ones and malformed ones — sent over HTTP to the
desk on a live server, as a logged-in agent with a token.
"""

from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import CustomerFactory, make_ticket

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def token(team, agent):
    """An agent with a ticket, a complaint and a survey answer to find, and their API token."""
    ticket = make_ticket(team=team, by=agent, assignee=agent, customer=CustomerFactory(), category="complaint")
    make_ticket(team=team, by=agent, subject="<script>alert(1)</script>")
    assert ticket.complaint
    return Token.objects.create(user=agent).key


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_request_within_its_schema(case, live_server, token):
    response = case.call(base_url=live_server.url, headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:500])
    case.validate_response(
        response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
    )
