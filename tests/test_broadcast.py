"""The Redis broadcaster against the real Redis: a new subscription is confirmed even when the
process's reader is already listening to another channel (as every instance's is, to access
changes) while its SUBSCRIBE goes out.

On uvloop, which `eic serve` runs on, the reader often read Redis's confirmation before the new
channel was registered; the confirmation was dropped and the subscription refused as unavailable
after the confirmation wait (seen through nginx in tests/deploy/test_proxy.py, about one
subscription in three; 6 to 12 of these 40 before the fix)."""

from __future__ import annotations

import asyncio

import uvloop

from backend.kit.broadcast import RedisBroadcaster
from tests.conftest import TEST_REDIS_URL

SUBSCRIPTIONS = 40


async def subscribe_one_after_another(prefix: str) -> list[str]:
    """Subscribe to new channels one after another, each a moment after the last, while the
    reader listens to another; what each received of a message published to it."""
    broadcaster = RedisBroadcaster(TEST_REDIS_URL, prefix, confirm_seconds=1)
    received = []
    try:
        async with broadcaster.subscribe("access-changed"):
            for number in range(SUBSCRIPTIONS):
                await asyncio.sleep(0.05)  # the reader waits for a message meanwhile
                async with broadcaster.subscribe(f"thread-{number}") as messages:
                    await broadcaster.publish(f"thread-{number}", f"post {number}")
                    async with asyncio.timeout(5):
                        received.append(await anext(aiter(messages)))
    finally:
        await broadcaster.close()
    return received


async def test_new_channels_are_confirmed_while_the_reader_listens_to_another(
    redis_prefix: str,
) -> None:
    # Given a process on uvloop whose reader listens to one channel; when it subscribes to 40
    # new ones in turn and each is published to
    received = await asyncio.to_thread(uvloop.run, subscribe_one_after_another(redis_prefix))

    # then each subscription was confirmed (none refused as unavailable) and got its message
    assert received == [f"post {number}" for number in range(SUBSCRIPTIONS)]
