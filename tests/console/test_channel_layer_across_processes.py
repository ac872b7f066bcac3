"""The channel layer delivers messages between OS processes through the real Redis."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from contextlib import ExitStack

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tests.support.processes import OutputLines, running

TIMEOUT_SECONDS = 30

# Every kind of value the layer's msgpack encoding must carry unchanged.
MESSAGE = {
    "type": "engine.health",
    "text": "Grüße from the other side ✓",
    "lots": [1, 2, 3],
    "price": 101.25,
    "nested": {"halted": False, "reason": None},
}


def peer(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "tests.support.channel_peer", *arguments]


def unique_group() -> str:
    # Runs share one Redis: a fresh group per test keeps them out of each other's way.
    return f"test.peer.{uuid.uuid4().hex}"


def test_a_group_message_sent_here_reaches_a_subscriber_in_another_process():
    # given a child process subscribed to a fresh group
    group = unique_group()
    with running(peer("receive", group, "--timeout", str(TIMEOUT_SECONDS))) as child:
        output = OutputLines(child)
        output.expect("READY", timeout=TIMEOUT_SECONDS, what="channel peer")
        # when this process sends to the group, as producers outside consumers do
        async_to_sync(get_channel_layer().group_send)(group, MESSAGE)
        # then the child prints exactly that message
        received = json.loads(output.expect("MESSAGE ", timeout=TIMEOUT_SECONDS, what="channel peer"))
        assert child.wait(timeout=TIMEOUT_SECONDS) == 0
    assert received == MESSAGE


def test_one_group_message_reaches_every_subscribed_process():
    # given two child processes in the same group
    group = unique_group()
    with ExitStack() as stack:
        children = [stack.enter_context(running(peer("receive", group))) for _ in range(2)]
        outputs = [OutputLines(child) for child in children]
        for output in outputs:
            output.expect("READY", timeout=TIMEOUT_SECONDS, what="channel peer")
        # when
        async_to_sync(get_channel_layer().group_send)(group, MESSAGE)
        # then both print it
        received = [
            json.loads(output.expect("MESSAGE ", timeout=TIMEOUT_SECONDS, what="channel peer")) for output in outputs
        ]
    assert received == [MESSAGE, MESSAGE]


async def test_a_message_sent_from_another_process_reaches_a_channel_listening_here():
    # given a channel of this process that Redis knows is subscribed
    layer = get_channel_layer()
    channel = await listening_channel(layer)
    # when a child process sends to it by name
    with running(peer("send", channel, json.dumps(MESSAGE))) as child:
        received = await asyncio.wait_for(layer.receive(channel), TIMEOUT_SECONDS)
        # then it arrives here unchanged
        assert await asyncio.to_thread(child.wait, TIMEOUT_SECONDS) == 0
    assert received == MESSAGE


async def listening_channel(layer) -> str:
    """Return a new channel of this process, once a probe sent through Redis has come back on it."""
    channel = await layer.new_channel()
    probe = {"type": "test.probe", "nonce": uuid.uuid4().hex}
    await layer.send(channel, probe)
    assert await asyncio.wait_for(layer.receive(channel), TIMEOUT_SECONDS) == probe
    return channel
