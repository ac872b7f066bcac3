"""The live incident page's websocket, `/ws/incidents/<code>/`: new timeline entries as they are written.

Each socket joins its incident's group (`incidents.live.group_name`); `incidents.live.announce`
sends every timeline entry there once its transaction commits, and `timeline_entry` hands it on.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from console.permissions import Capability, can
from incidents import live
from incidents.models import Incident


def incident_id_for(user: Any, code: str) -> int | None:
    """The incident's id if `user` may read it (the page's rule: every console user), else None."""
    if not can(user, Capability.VIEW_CONSOLE):
        return None
    return Incident.objects.filter(code=code).values_list("pk", flat=True).first()


class IncidentConsumer(AsyncJsonWebsocketConsumer):
    """One incident page's socket: viewers and up, told each new timeline entry, saying nothing back."""

    group: str | None = None

    async def connect(self) -> None:
        code = self.scope["url_route"]["kwargs"]["code"]
        incident_id = await database_sync_to_async(incident_id_for)(self.scope.get("user"), code)
        if incident_id is None:
            await self.close()  # before accept(): the handshake is answered 403, unknown codes alike
            return
        self.group = live.group_name(incident_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen; changes go through the pages and the API, with CSRF and role checks."""

    async def timeline_entry(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "timeline.entry", "entry": message["entry"]})
