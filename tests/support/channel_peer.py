"""A channel-layer peer in its own OS process, driven by the cross-process channel layer tests.

python -m tests.support.channel_peer receive GROUP [--timeout SECONDS]
    Join GROUP, print "READY" once the subscription is live in Redis, then print the
    first message sent to the group as "MESSAGE <json>" (or "TIMEOUT", exit status 1).
python -m tests.support.channel_peer send CHANNEL JSON
    Send the message JSON to CHANNEL and print "SENT".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid

import django

PROBE_TYPE = "peer.probe"


async def receive(group: str, timeout: float) -> int:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        await asyncio.wait_for(_confirm_subscription(layer, group, channel), timeout)
        print("READY", flush=True)
        message = await asyncio.wait_for(_next_message(layer, channel), timeout)
    except TimeoutError:
        print("TIMEOUT", flush=True)
        return 1
    print("MESSAGE " + json.dumps(message, ensure_ascii=False), flush=True)
    return 0


async def _confirm_subscription(layer, group: str, channel: str) -> None:
    # Pub/sub only reaches subscribers Redis already knows about. Our own probe coming back
    # through the group proves Redis has the subscription, so any later send reaches us too.
    nonce = uuid.uuid4().hex
    await layer.group_send(group, {"type": PROBE_TYPE, "nonce": nonce})
    while True:
        message = await layer.receive(channel)
        if message.get("type") == PROBE_TYPE and message.get("nonce") == nonce:
            return


async def _next_message(layer, channel: str) -> dict:
    while True:
        message = await layer.receive(channel)
        if message.get("type") != PROBE_TYPE:  # other peers in the group probe it too
            return message


async def send(channel: str, message: dict) -> int:
    from channels.layers import get_channel_layer

    await get_channel_layer().send(channel, message)
    print("SENT", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.channel_peer")
    actions = parser.add_subparsers(dest="action", required=True)
    receiving = actions.add_parser("receive")
    receiving.add_argument("group")
    receiving.add_argument("--timeout", type=float, default=30.0)
    sending = actions.add_parser("send")
    sending.add_argument("channel")
    sending.add_argument("message", type=json.loads)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_console.settings")
    django.setup()
    if args.action == "receive":
        return asyncio.run(receive(args.group, args.timeout))
    return asyncio.run(send(args.channel, args.message))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
