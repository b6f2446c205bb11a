"""Fault runner: push delivery against a fake provider that misbehaves, before and after the
"exactly once" change (issue 16, item 7), printing duplicates and losses side by side.

A fake push provider on loopback speaks the Expo push API's format (``/push/send`` answers one
ticket per message, or an error status). For each behaviour below,
120 pushes wait in the outbox (two batches: 100 + 20); workers pass until nothing is due, then
again after every backoff and lease could have ended, three times. The provider counts what it
took: a message it took twice rang the phone twice (a duplicate), a message it never took is
lost.

- "old" is ``backend/notifications/push.py`` as of ``--old-ref`` (read with ``git show``; it
  waited 10 s for an answer and sent again after any failure),
- "new" is the working tree's (it waits ``EIC_PUSH_TIMEOUT_SECONDS``, 30 s by default, records a
  lost answer as MAYBE_SENT and sends again only what the provider did not take).

Times are scaled by ``--scale`` (0.1: the old 10 s timeout is 1 s, the new 30 s is 3 s, "late"
is 12 s x scale), so a run takes about a minute.

    .venv/bin/python scripts/fault_push.py
    .venv/bin/python scripts/fault_push.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import socket
import subprocess
import sys
import tempfile
import types
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from benchkit import bench_database
from sqlalchemy import delete, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.identity.models import User
from backend.kit.db import Database, new_id, utcnow
from backend.notifications import push as new_push
from backend.notifications import service
from backend.notifications.models import (
    Device,
    Notification,
    NotificationKind,
    Platform,
    PushMessage,
)

ROOT = Path(__file__).resolve().parent.parent
# The last commit before the change: push.py as it was.
OLD_REF = "775ce29697a0144fab2d4449a51dd6b67fd975d7"
MESSAGES = 120  # 60 notifications x 2 phones
OLD_TIMEOUT, NEW_TIMEOUT, LATE = 10.0, new_push.DEFAULT_TIMEOUT, 12.0


@dataclass
class Provider:
    """The fake provider: what it does with each next request, and what it took."""

    plan: list[str] = field(default_factory=list)
    late_seconds: float = 0.0
    requests: int = 0
    taken: list[str] = field(default_factory=list)  # data.messageId of every message taken
    first_taken: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, request: Request) -> JSONResponse:
        self.requests += 1
        messages = await request.json()
        behaviour = self.plan.pop(0) if self.plan else ""
        if behaviour == "refuse":  # an outage that takes nothing
            return JSONResponse({"errors": [{"code": "UNAVAILABLE"}]}, status_code=503)
        if behaviour == "fail":  # a failure before taking anything, told as a 500
            return JSONResponse({"errors": [{"code": "INTERNAL"}]}, status_code=500)
        tickets = []
        for message in messages:
            self.taken.append(message["data"]["messageId"])
            tickets.append({"status": "ok", "id": str(uuid.uuid4())})
        self.first_taken.set()
        if behaviour == "late":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.late_seconds)
        elif behaviour == "hold":
            await self.release.wait()
        elif behaviour.isdigit():
            return JSONResponse({"errors": [{"code": "INTERNAL"}]}, status_code=int(behaviour))
        return JSONResponse({"data": tickets})


@dataclass(frozen=True)
class Scenario:
    name: str
    plan: list[str]
    unreachable_first: bool = False  # the first pass finds no server at all
    kill_mid_send: bool = False  # the first worker is stopped while the provider holds it


SCENARIOS = [
    Scenario("healthy", []),
    Scenario("refuses before taking (503)", ["refuse", "refuse"]),
    Scenario("unreachable (connection refused)", [], unreachable_first=True),
    Scenario("takes, then answers 500", ["500", "500"]),
    Scenario("takes, then answers 504 (gateway)", ["504", "504"]),
    Scenario("takes, answers after 12 s", ["late", "late"]),
    Scenario("takes, never answers", ["hold", "hold"]),
    Scenario("worker killed mid-send", ["hold"], kill_mid_send=True),
    # the price of at most once for an unknown outcome: a 500 that took nothing looks the same
    Scenario("fails with 500, taking nothing", ["fail", "fail"]),
]


def old_push(ref: str, folder: Path) -> types.ModuleType:
    """push.py as of ``ref``, loaded beside the new one (same models, same tables)."""
    source = subprocess.run(  # noqa: S603 - git with the revision the user names
        ["git", "show", f"{ref}:backend/notifications/push.py"],  # noqa: S607 - git on PATH
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = folder / "push_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("push_old", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["push_old"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def fill(db: Database, user_id: uuid.UUID) -> None:
    """A clean outbox with 120 pushes due now."""
    async with db.write() as session:
        await session.execute(delete(PushMessage))
        await session.execute(delete(Notification))
        await session.flush()
        for n in range(MESSAGES // 2):
            await service.add(
                session,
                user_ids=[user_id],
                kind=NotificationKind.OFFER_RECEIVED,
                title=f"Offer {n}",
                body="4 t at 4500 JPY",
                subject_type="OFFER",
                subject_id=uuid.uuid4(),
                now=utcnow(),
            )


async def person_with_two_phones(db: Database) -> uuid.UUID:
    user_id = new_id()
    async with db.write() as session:
        session.add(
            User(
                id=user_id,
                email=f"fault-push-{user_id.hex[:8]}@eic.example",
                password_hash="-",  # noqa: S106 - nobody signs in: a recipient only
                display_name="Fault Push",
            )
        )
        await session.flush()
        for phone in ("a", "b"):
            session.add(
                Device(
                    user_id=user_id,
                    token=f"ExponentPushToken[fault-{user_id.hex[:8]}-{phone}]",
                    platform=Platform.ANDROID,
                    locale="ja",
                )
            )
    return user_id


async def statuses(db: Database) -> str:
    async with db.read() as session:
        rows = await session.execute(
            select(PushMessage.status, func.count()).group_by(PushMessage.status)
        )
        return " ".join(f"{s.value} {n}" for s, n in sorted(rows.all()))


def closed_url() -> str:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{free.getsockname()[1]}/push/send"


async def run(
    db: Database,
    user_id: uuid.UUID,
    holder: dict[str, Provider],
    url: str,
    scenario: Scenario,
    module: types.ModuleType,
    new: bool,
    scale: float,
) -> tuple[int, int, int, int, str]:
    """One scenario with one implementation: requests, taken, duplicates, lost, statuses."""
    await fill(db, user_id)
    state = holder["provider"] = Provider(plan=list(scenario.plan), late_seconds=LATE * scale)
    timeout = (NEW_TIMEOUT if new else OLD_TIMEOUT) * scale
    options: dict[str, Any] = {"timeout_seconds": timeout} if new else {}
    now = utcnow()
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as http:

        def pass_(at: Any, to: str = url, worker: str = "w1") -> Awaitable[Any]:
            deliver: Callable[..., Awaitable[Any]] = module.deliver_due
            return deliver(db=db, http=http, url=to, now=at, worker=worker, **options)

        if scenario.unreachable_first:
            await pass_(now, closed_url())
        if scenario.kill_mid_send:
            task = asyncio.ensure_future(pass_(now))
            await asyncio.wait_for(state.first_taken.wait(), 10)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _ in range(3):
            while (await pass_(now)).claimed:
                pass
            now += module.MAX_DELAY + module.LEASE + timedelta(seconds=1)
    state.release.set()
    counts = Counter(state.taken)
    taken = len(state.taken)
    return state.requests, taken, taken - len(counts), MESSAGES - len(counts), await statuses(db)


async def main_async(database_url: str, ref: str, scale: float, folder: Path) -> None:
    old = old_push(ref, folder)
    db = Database(database_url)
    holder: dict[str, Provider] = {"provider": Provider()}

    async def send(request: Request) -> JSONResponse:
        return await holder["provider"].send(request)

    app = Starlette(routes=[Route("/push/send", send, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/push/send"
        user_id = await person_with_two_phones(db)
        print(
            f"{MESSAGES} pushes per scenario; timeouts: old {OLD_TIMEOUT * scale:g} s, "
            f"new {NEW_TIMEOUT * scale:g} s; 'late' answers after {LATE * scale:g} s "
            f"(--scale {scale:g}); old = push.py at {ref[:7]}"
        )
        head = (
            f"{'provider behaviour':36} {'':4} {'requests':>8} {'taken':>6} {'dup':>5} "
            f"{'lost':>5}  outbox afterwards"
        )
        print(head)
        print("-" * len(head))
        for scenario in SCENARIOS:
            for label, module, new in (("old", old, False), ("new", new_push, True)):
                requests, taken, dup, lost, outbox = await run(
                    db, user_id, holder, url, scenario, module, new, scale
                )
                name = scenario.name if label == "old" else ""
                print(f"{name:36} {label:4} {requests:>8} {taken:>6} {dup:>5} {lost:>5}  {outbox}")
    finally:
        holder["provider"].release.set()
        server.should_exit = True
        await serving
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a scratch SQLite)")
    parser.add_argument("--old-ref", default=OLD_REF, help="the git revision of the old push.py")
    parser.add_argument("--scale", type=float, default=0.1, help="time scale (1: real timeouts)")
    args = parser.parse_args()
    # each worker logs what it retries and what it gives up: the table says it all
    logging.getLogger("eic.push").setLevel(logging.CRITICAL)
    with (
        bench_database(args.database_url, keep=False) as (url, _),
        tempfile.TemporaryDirectory() as folder,
    ):
        asyncio.run(main_async(url, args.old_ref, args.scale, Path(folder)))


if __name__ == "__main__":
    main()
