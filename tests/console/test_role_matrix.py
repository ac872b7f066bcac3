"""The role matrix of DESIGN.md, proven for every persona on views, the API and websockets."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from console.permissions import Capability, Role, can
from exchange_console.asgi import application

ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN = (
    "anonymous", "outsider", "viewer", "support", "commander", "admin",
)  # fmt: skip

# DESIGN.md, Roles: each row adds to the one above it.
RIGHTS = {
    VIEWER: {Capability.VIEW_CONSOLE},
    SUPPORT: {Capability.POST_UPDATES, Capability.POST_INTERNAL_NOTES, Capability.MANAGE_SUBSCRIBERS},
    COMMANDER: {
        Capability.MANAGE_INCIDENTS, Capability.RUN_POSTMORTEMS, Capability.APPROVE_POSTMORTEMS,
        Capability.SCHEDULE_MAINTENANCE, Capability.CONTROL_ENGINE,
    },
    ADMIN: {
        Capability.MANAGE_USERS, Capability.MANAGE_COMPONENTS, Capability.MANAGE_ALERT_RULES,
        Capability.VIEW_AUDIT_LOG,
    },
}  # fmt: skip


def rights_up_to(persona: str) -> set[Capability]:
    held: set[Capability] = set()
    for role in (VIEWER, SUPPORT, COMMANDER, ADMIN):
        held |= RIGHTS[role]
        if role == persona:
            return held
    return set()


@pytest.mark.parametrize("name", [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN])
def test_each_persona_holds_exactly_the_rights_of_its_row(persona, name):
    user = persona(name)
    held = {capability for capability in Capability if can(user, capability)}
    assert held == rights_up_to(name)


def test_a_superuser_counts_as_admin_and_an_inactive_user_as_nobody(admin, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=None)
    assert can(root, Capability.VIEW_AUDIT_LOG)
    admin.is_active = False
    assert not can(admin, Capability.VIEW_CONSOLE)


def test_the_highest_of_several_roles_wins(viewer):
    from django.contrib.auth.models import Group

    viewer.groups.add(Group.objects.get(name=Role.COMMANDER.group_name))
    fresh = type(viewer).objects.get(pk=viewer.pk)
    assert can(fresh, Capability.CONTROL_ENGINE)


def client_for(persona, name: str) -> Client:
    client = Client()
    user = persona(name)
    if user is not None:
        client.force_login(user)
    return client


LOGIN, FORBIDDEN, OK = "login", 403, 200

VIEW_MATRIX = {
    "/console/": {ANONYMOUS: LOGIN, OUTSIDER: FORBIDDEN, VIEWER: OK, SUPPORT: OK, COMMANDER: OK, ADMIN: OK},
    "/console/engine/history/": {
        ANONYMOUS: LOGIN, OUTSIDER: FORBIDDEN, VIEWER: OK, SUPPORT: OK, COMMANDER: OK, ADMIN: OK,
    },
    "/console/audit/": {
        ANONYMOUS: LOGIN, OUTSIDER: FORBIDDEN, VIEWER: FORBIDDEN, SUPPORT: FORBIDDEN, COMMANDER: FORBIDDEN, ADMIN: OK,
    },
    "/console/maintenance/": {
        ANONYMOUS: LOGIN, OUTSIDER: FORBIDDEN, VIEWER: OK, SUPPORT: OK, COMMANDER: OK, ADMIN: OK,
    },
    "/console/maintenance/new/": {
        ANONYMOUS: LOGIN, OUTSIDER: FORBIDDEN, VIEWER: FORBIDDEN, SUPPORT: FORBIDDEN, COMMANDER: OK, ADMIN: OK,
    },
}  # fmt: skip


@pytest.mark.parametrize("name", [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN])
@pytest.mark.parametrize("path", list(VIEW_MATRIX))
def test_console_pages_answer_each_persona_as_the_matrix_says(persona, path, name):
    response = client_for(persona, name).get(path)
    expected = VIEW_MATRIX[path][name]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")
    else:
        assert response.status_code == expected


@pytest.mark.parametrize("name", [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN])
def test_only_the_admin_role_opens_the_admin_site(persona, name):
    response = client_for(persona, name).get("/admin/")
    if name == ADMIN:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")


UNAUTHORIZED = 401
API_MATRIX = {
    "/api/v1/me/": {ANONYMOUS: UNAUTHORIZED, OUTSIDER: 403, VIEWER: 200, SUPPORT: 200, COMMANDER: 200, ADMIN: 200},
    "/api/v1/users/": {ANONYMOUS: UNAUTHORIZED, OUTSIDER: 403, VIEWER: 403, SUPPORT: 403, COMMANDER: 403, ADMIN: 200},
    "/api/v1/audit/": {ANONYMOUS: UNAUTHORIZED, OUTSIDER: 403, VIEWER: 403, SUPPORT: 403, COMMANDER: 403, ADMIN: 200},
    "/api/schema/": {ANONYMOUS: UNAUTHORIZED, OUTSIDER: 403, VIEWER: 200, SUPPORT: 200, COMMANDER: 200, ADMIN: 200},
    "/api/v1/maintenance/": {
        ANONYMOUS: UNAUTHORIZED, OUTSIDER: 403, VIEWER: 200, SUPPORT: 200, COMMANDER: 200, ADMIN: 200,
    },
}  # fmt: skip


@pytest.mark.parametrize("name", [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN])
@pytest.mark.parametrize("path", list(API_MATRIX))
def test_api_endpoints_answer_each_persona_as_the_matrix_says(persona, path, name):
    response = client_for(persona, name).get(path)
    assert response.status_code == API_MATRIX[path][name]


def test_the_api_tells_a_user_their_role_and_rights(persona):
    body = client_for(persona, SUPPORT).get("/api/v1/me/").json()
    assert body["role"] == "support"
    assert set(body["capabilities"]) == {capability.value for capability in rights_up_to(SUPPORT)}


def test_swagger_ui_is_served_from_the_sidecar_not_a_cdn(persona):
    response = client_for(persona, VIEWER).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn." not in html


@pytest.fixture
def ws_headers(persona):
    """Return the handshake headers of a persona's browser: its session cookie and origin."""

    # The origin validator keeps the ALLOWED_HOSTS of import time, which lack "testserver".
    def headers(name: str, origin: str = "http://localhost:8000") -> list[tuple[bytes, bytes]]:
        result = [(b"origin", origin.encode())]
        client = client_for(persona, name)
        if "sessionid" in client.cookies:
            result.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
        return result

    return headers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", [ANONYMOUS, OUTSIDER, VIEWER, SUPPORT, COMMANDER, ADMIN])
async def test_the_websocket_accepts_console_users_and_refuses_the_rest(ws_headers, name):
    headers = await sync(ws_headers)(name)
    communicator = WebsocketCommunicator(application, "/ws/echo/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    try:
        assert connected is (name not in (ANONYMOUS, OUTSIDER))
        if connected:
            await communicator.send_json_to({"hello": name})
            assert await communicator.receive_json_from(timeout=5) == {"type": "echo", "payload": {"hello": name}}
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_refuses_a_foreign_origin_even_for_an_admin(ws_headers):
    headers = await sync(ws_headers)(ADMIN, origin="https://evil.example")
    communicator = WebsocketCommunicator(application, "/ws/echo/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    await communicator.disconnect()


def sync(function):
    from asgiref.sync import sync_to_async

    return sync_to_async(function)
