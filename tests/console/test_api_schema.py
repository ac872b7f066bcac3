"""The OpenAPI document: generated without warnings, so clients and Swagger UI can trust it."""

from __future__ import annotations

from django.core.management import call_command


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    schema = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))
    text = schema.read_text()
    console = ["/api/v1/me/", "/api/v1/users/", "/api/v1/audit/", "/api/v1/auth/token/"]
    engine = ["/api/v1/markets/", "/api/v1/markets/{symbol}/mode/", "/api/v1/orders/", "/api/v1/orders/batch/"]
    maintenance = ["/api/v1/maintenance/", "/api/v1/maintenance/{code}/", "/api/v1/maintenance/{code}/start/",
                   "/api/v1/maintenance/{code}/end/", "/api/v1/maintenance/{code}/complete/",
                   "/api/v1/maintenance/{code}/extend/", "/api/v1/maintenance/{code}/reschedule/",
                   "/api/v1/maintenance/{code}/cancel/"]  # fmt: skip
    for path in [*console, *engine, *maintenance, "/api/v1/orders/{order_id}/"]:
        assert f"{path}:" in text
