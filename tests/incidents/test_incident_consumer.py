"""The live incident page's websocket: who may listen, and the timeline entries it hears as services write them."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from exchange_console.asgi import application
from incidents import services
from incidents.models import Incident
from tests.console.test_role_matrix import ws_headers  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.timeout(60), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def declare(commander):
    """Return a function declaring an incident as the commander (call it through sync_to_async)."""

    def make(title: str = "Orders time out") -> Incident:
        return services.declare_incident(title=title, by=commander, message="Investigating.")

    return make


async def connect(headers, code: str) -> tuple[bool, WebsocketCommunicator]:
    communicator = WebsocketCommunicator(application, f"/ws/incidents/{code}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return connected, communicator


async def next_entry(communicator: WebsocketCommunicator, kind: str) -> dict:
    """The next timeline entry of `kind` (a service writes several entries for one change)."""
    while True:
        message = await communicator.receive_json_from(timeout=5)
        assert message["type"] == "timeline.entry"
        if message["entry"]["kind"] == kind:
            return message["entry"]


@pytest.mark.parametrize("name", ["anonymous", "outsider"])
async def test_it_refuses_anonymous_visitors_and_users_without_a_role(ws_headers, declare, name):  # noqa: F811
    incident = await sync_to_async(declare)()
    connected, communicator = await connect(await sync_to_async(ws_headers)(name), incident.code)
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_an_unknown_incident(ws_headers):  # noqa: F811
    connected, communicator = await connect(await sync_to_async(ws_headers)("viewer"), "INC-1999-0001")
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_a_foreign_origin(ws_headers, declare):  # noqa: F811
    incident = await sync_to_async(declare)()
    headers = await sync_to_async(ws_headers)("commander", origin="https://evil.example")
    connected, communicator = await connect(headers, incident.code)
    assert not connected
    await communicator.disconnect()


async def test_a_viewer_hears_a_note_a_service_writes(ws_headers, declare, support):  # noqa: F811
    incident = await sync_to_async(declare)()
    connected, communicator = await connect(await sync_to_async(ws_headers)("viewer"), incident.code)
    assert connected
    try:
        await sync_to_async(services.add_note)(incident=incident, body="DB team paged.\nMore later.", by=support)
        entry = await next_entry(communicator, "note")
    finally:
        await communicator.disconnect()
    assert entry["summary"] == "DB team paged."
    assert entry["actor_name"] == support.username
    assert set(entry) == {"id", "at", "kind", "actor_name", "summary", "detail"}
    assert entry["id"] == await sync_to_async(lambda: incident.timeline.get(kind="note").pk)()


async def test_a_status_move_arrives_as_its_entries(ws_headers, declare, commander):  # noqa: F811
    incident = await sync_to_async(declare)()
    _, communicator = await connect(await sync_to_async(ws_headers)("support"), incident.code)
    try:
        await sync_to_async(services.post_update)(incident=incident, body="Cause found.", by=commander,
                                                  status="identified")  # fmt: skip
        moved = await next_entry(communicator, "status_changed")
        update = await next_entry(communicator, "update")
    finally:
        await communicator.disconnect()
    assert moved["summary"] == "status investigating -> identified"
    assert update["summary"] == "Cause found."


async def test_it_hears_only_its_own_incident(ws_headers, declare, support):  # noqa: F811
    mine, other = await sync_to_async(declare)("Mine"), await sync_to_async(declare)("Other")
    _, communicator = await connect(await sync_to_async(ws_headers)("viewer"), mine.code)
    try:
        await sync_to_async(services.add_note)(incident=other, body="Elsewhere.", by=support)
        assert await communicator.receive_nothing(timeout=0.5, interval=0.05)
        await sync_to_async(services.add_note)(incident=mine, body="Here.", by=support)
        assert (await next_entry(communicator, "note"))["summary"] == "Here."
    finally:
        await communicator.disconnect()


async def test_what_a_client_sends_is_ignored(ws_headers, declare):  # noqa: F811
    incident = await sync_to_async(declare)()
    connected, communicator = await connect(await sync_to_async(ws_headers)("commander"), incident.code)
    assert connected
    await communicator.send_json_to({"type": "status", "status": "resolved"})
    assert await communicator.receive_nothing(timeout=0.3, interval=0.05)
    await communicator.disconnect()
    assert (await sync_to_async(Incident.objects.get)(pk=incident.pk)).status == "investigating"
