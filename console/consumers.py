"""Websocket consumers of the console app."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from console.permissions import Capability, can

# Close code sent when the handshake was accepted but the role check failed later.
CLOSE_FORBIDDEN = 4403


class RoleCheckedConsumer(AsyncJsonWebsocketConsumer):
    """Accept the connection only for users holding `capability` (checked in connect())."""

    capability = Capability.VIEW_CONSOLE

    async def connect(self) -> None:
        if not await database_sync_to_async(can)(self.scope.get("user"), self.capability):
            await self.close()  # before accept(): the server answers the handshake with 403
            return
        await self.accept()


class EchoConsumer(RoleCheckedConsumer):
    """Send every JSON message back: proves authentication and roles on websockets."""

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "echo", "payload": content})
