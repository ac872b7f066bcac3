"""NUL in an address is a 400 naming the problem, never a 500 (PostgreSQL refuses NUL in any text)."""

from __future__ import annotations

import pytest

from tests.console.test_role_matrix import VIEWER, client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/api/v1/update-templates/?incident=INC%00", "/api/v1/incidents/INC%00/", "/api/v1/incidents/?open%00=1",
     "/console/incidents/?q=%00"],
)  # fmt: skip
def test_a_nul_in_the_path_or_query_is_a_400(persona, path):
    response = client_for(persona, VIEWER).get(path)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_an_api_answer_says_it_in_json(persona):
    response = client_for(persona, VIEWER).get("/api/v1/alerts/?open=%00")
    assert response.json() == {"detail": "NUL characters (%00) are not allowed in the address."}
