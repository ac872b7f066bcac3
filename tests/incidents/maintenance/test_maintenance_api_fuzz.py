"""The maintenance endpoints, fed inputs generated from the OpenAPI schema against a real window, never 500.

The project-wide fuzz test (tests/console/test_api_fuzz.py) meets no window: every code it sends
is a 404. Here the generated calls address an existing window (on a component without a market,
so no move waits for an engine), and its answers are checked against the schema too.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.console.test_api_fuzz import in_process_requests, load_schema, not_a_server_error_but_engine_unavailable
from tests.incidents.maintenance.test_maintenance_views import upcoming

__all__ = ["in_process_requests"]  # a fixture, used by name

schema = load_schema().include(path_regex=r"^/api/v1/maintenance/")
ADDRESSED: dict[str, object] = {}


@schema.hook
def map_case(context, case):
    # Address the window the fixture made instead of random codes.
    ids = case.path_parameters or {}
    if "code" in ids:
        ids["code"] = ADDRESSED.get("code", ids["code"])
    return case


@pytest.fixture
def addressed(commander, admin, trading):
    window = upcoming(commander, [trading], description="A **real** window.")
    ADDRESSED.update(code=window.code)
    return Token.objects.create(user=admin).key


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_generated_input_to_a_real_window_gets_a_server_error(case, addressed, in_process_requests):
    case.call_and_validate(
        headers={"Authorization": f"Token {addressed}"},
        checks=[not_a_server_error_but_engine_unavailable, response_schema_conformance],
    )
