"""Every timeline entry is announced to its incident's Channels group once its transaction commits."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from incidents import live, services
from incidents.models import Incident

pytestmark = pytest.mark.django_db


async def listen(group: str, ready: asyncio.Event, received: list, count: int) -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    ready.set()
    try:
        while len(received) < count:
            received.append(await asyncio.wait_for(layer.receive(channel), timeout=5))
    finally:
        await layer.group_discard(group, channel)


def test_a_note_reaches_the_incident_group_after_commit(commander, django_capture_on_commit_callbacks):
    incident = services.declare_incident(title="Orders time out", by=commander)
    received: list = []

    async def scenario() -> None:
        ready = asyncio.Event()
        listener = asyncio.create_task(listen(live.group_name(incident.pk), ready, received, 1))
        await ready.wait()
        await sync_to_async(note)(incident)  # back on the test thread: its database transaction
        await listener

    def note(target: Incident) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.add_note(incident=target, body="Database team paged.", by=commander)
        live._sender().flush()

    async_to_sync(scenario)()
    [message] = received
    assert message["type"] == "timeline.entry"
    assert message["entry"]["kind"] == "note"
    assert message["entry"]["summary"] == "Database team paged."
    assert message["entry"]["actor_name"] == commander.username
