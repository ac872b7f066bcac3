"""The post-mortem endpoints, fed inputs generated from the OpenAPI schema against a real post-mortem, never 500.

The project-wide fuzz test (tests/console/test_api_fuzz.py) meets no post-mortem: every code it
sends is a 404. Here the generated calls address an existing post-mortem, its timeline entries
and action items (with the null owners, dates and figures the schema must allow), so answers
with data are checked against the schema too.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import response_schema_conformance

from incidents.postmortems import services
from tests.console.test_api_fuzz import in_process_requests, load_schema, not_a_server_error_but_engine_unavailable

__all__ = ["in_process_requests"]  # a fixture, used by name

schema = load_schema().include(path_regex=r"^/api/v1/(postmortems|action-items|incidents/\{code\}/postmortem/)")
ADDRESSED: dict[str, object] = {}


@schema.hook
def map_case(context, case):
    # Address the post-mortem the fixture made, and its rows, instead of random names and ids.
    ids = case.path_parameters or {}
    for name in ("code", "entry_id", "item_id"):
        if name in ids:
            ids[name] = ADDRESSED.get(name, ids[name])
    return case


@pytest.fixture
def addressed(postmortem, commander, admin):
    entry = services.add_timeline_entry(postmortem=postmortem, at=postmortem.window_start, kind="note",
                                        summary="Written for the post-mortem", by=commander)  # fmt: skip
    item = services.add_action_item(postmortem=postmortem, title="Nobody's yet", by=commander)
    ADDRESSED.update(code=postmortem.incident.code, entry_id=entry.pk, item_id=item.pk)
    return Token.objects.create(user=admin).key


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_generated_input_to_a_real_post_mortem_gets_a_server_error(case, addressed, in_process_requests):
    case.call_and_validate(
        headers={"Authorization": f"Token {addressed}"},
        checks=[not_a_server_error_but_engine_unavailable, response_schema_conformance],
    )
