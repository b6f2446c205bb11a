"""Benchmark: what the apps' main mutations cost, one request at a time, through the real ASGI
app (in process, as the tests call it) on the demo data.

Each round, with the apps' own documents (clients/operations/, with their fragments), a Maniwa
sawmill saves a published listing (ListingSave, with its own id) and edits it (ListingEdit), the
pellet maker offers on it (OfferCreate), the sawmill accepts (OfferAccept), sends and reports
the delivery (TradeMarkInTransit, TradeMarkDelivered), the pellet maker completes it
(TradeComplete); the pellet maker starts a thread in a cluster forum (ThreadCreate), the sawmill
replies (PostCreate) and the pellet maker thanks it (PostReact); the sawmill registers for a new
event of the Okayama lab (EventRegister), pledges to a new purchasing group of the Biomass Town
community (PurchaseGroupPledge) and changes its pledge (PurchaseGroupPledgeUpdate). The events
and groups are made outside the measurement.

Prints, per mutation: the SQL statements it sent (the last round's), and the median and p90 of
the CPU time of this process per request (``time.process_time``: the app, the in-process client
and the database driver; for SQLite the database too, for PostgreSQL not the server) and of the
wall time, over ``--rounds`` rounds after ``--warmup`` unmeasured ones.

    .venv/bin/python scripts/bench_writes.py                       # SQLite in a temp folder
    .venv/bin/python scripts/bench_writes.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL it creates (and afterwards drops) a scratch database beside the one named.
``--short`` runs two rounds after one warm-up (CI checks that the script works, not its figures).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from benchkit import bench_database, percentile
from sqlalchemy import event

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.graphql.operations import load_manifest
from backend.kit.db import Database
from backend.settings import Settings

MEASURED = (
    "ListingSave",
    "ListingEdit",
    "OfferCreate",
    "OfferAccept",
    "TradeMarkInTransit",
    "TradeMarkDelivered",
    "TradeComplete",
    "ThreadCreate",
    "PostCreate",
    "PostReact",
    "EventRegister",
    "PurchaseGroupPledge",
    "PurchaseGroupPledgeUpdate",
)
SIGN_IN = """
mutation SignIn($input: TokenCreateInput!) { tokenCreate(input: $input) { accessToken } }
"""
FORUM_CREATE = """
mutation F($input: ForumCreateInput!) {
  forumCreate(input: $input) { forum { id } errors { code message field } }
}
"""
EVENT_CREATE = """
mutation E($input: EventCreateInput!) {
  eventCreate(input: $input) { event { id } errors { code message field } }
}
"""
EVENT_PUBLISH = "mutation P($id: ID!) { eventPublish(id: $id) { event { id } errors { code } } }"
GROUP_CREATE = """
mutation G($input: PurchaseGroupCreateInput!) {
  purchaseGroupCreate(input: $input) { purchaseGroup { id } errors { code message field } }
}
"""
MANIWA = {"lat": 35.07, "lon": 133.75, "placeName": "Maniwa"}


def app_operation(name: str) -> str:
    """The apps' own document for an operation (with its fragments), as the manifest has it."""
    [document] = [text for text in load_manifest().values() if text.startswith(f"mutation {name}(")]
    return document


class Bench:
    def __init__(self, http: httpx.AsyncClient, db: Database) -> None:
        self.http = http
        self.statements = 0
        self.counts: dict[str, int] = {}
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.wall: dict[str, list[float]] = defaultdict(list)
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1

    async def call(self, document: str, variables: dict[str, Any], token: str) -> Any:
        response = await self.http.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        if "errors" in body:
            raise SystemExit(f"request failed: {body}")
        [payload] = body["data"].values()
        if isinstance(payload, dict) and payload.get("errors"):
            raise SystemExit(f"request failed: {body}")
        return payload

    async def send(self, name: str, token: str, measure: bool, **variables: Any) -> Any:
        """One of the apps' mutations; counted and timed when ``measure``."""
        document = app_operation(name)
        before = self.statements
        cpu, wall = time.process_time(), time.perf_counter()
        payload = await self.call(document, variables, token)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if measure:
            self.counts[name] = self.statements - before
            self.cpu[name].append(cpu * 1000)
            self.wall[name].append(wall * 1000)
        return payload


async def sign_in(bench: Bench, key: str) -> str:
    payload = await bench.call(
        SIGN_IN,
        {"input": {"email": demo.demo_email(key), "password": demo.DEMO_PASSWORD}},
        token="",
    )
    token: str = payload["accessToken"]
    return token


async def run(url: str, settings: Settings, rounds: int, warmup: int) -> None:
    db = Database(url)
    await demo.seed_demo(db, Passwords(settings))
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.bench") as http:
        bench = Bench(http, db)
        mill = await sign_in(bench, "maniwa-lumber")
        pellets = await sign_in(bench, "katsuyama-pellets")
        town = await sign_in(bench, "biomass-town")
        lab = await sign_in(bench, "okayama-biomass-lab")
        forum = await bench.call(
            FORUM_CREATE, {"input": {"title": "Bench forum", "visibility": "CLUSTER"}}, town
        )
        forum_id = forum["forum"]["id"]
        for number in range(warmup + rounds):
            measure = number >= warmup
            await one_round(bench, measure, mill, pellets, town, lab, forum_id, number)
    await db.dispose()
    print(f"{'mutation':28} {'statements':>10} {'CPU p50':>9} {'CPU p90':>9} {'wall p50':>9}")
    for name in MEASURED:
        cpu, wall = bench.cpu[name], bench.wall[name]
        print(
            f"{name:28} {bench.counts[name]:>10} {statistics.median(cpu):>7.2f}ms "
            f"{percentile(cpu, 90):>7.2f}ms {statistics.median(wall):>7.2f}ms"
        )
    total_cpu = sum(statistics.median(bench.cpu[name]) for name in MEASURED)
    total_statements = sum(bench.counts.values())
    print(f"{'all of them':28} {total_statements:>10} {total_cpu:>7.2f}ms")


async def one_round(
    bench: Bench,
    measure: bool,
    mill: str,
    pellets: str,
    town: str,
    lab: str,
    forum_id: str,
    number: int,
) -> None:
    form = {
        "id": str(uuid.uuid4()),
        "kind": "OFFER",
        "category": "BY_PRODUCT",
        "title": f"Cedar shavings, lot {number}",
        "description": "Planer shavings, kiln dry",
        "materialCode": "wood-shavings",
        "quantity": "10",
        "unit": "TNE",
        "pricePerUnit": "5000",
        "location": MANIWA,
        "specs": [{"key": "moisture", "value": "12 %"}],
        "publish": True,
    }
    saved = await bench.send("ListingSave", mill, measure, input=form)
    listing_id = saved["listing"]["id"]
    cluster_id = saved["listing"]["organisation"]["cluster"]["id"]
    await bench.send(
        "ListingEdit", mill, measure, input={"id": listing_id, "title": "Cedar shavings, dry"}
    )
    offer = await bench.send(
        "OfferCreate",
        pellets,
        measure,
        input={"listingId": listing_id, "quantity": "4", "pricePerUnit": "4500"},
    )
    accepted = await bench.send("OfferAccept", mill, measure, id=offer["offer"]["id"])
    trade_id = accepted["trade"]["id"]
    await bench.send("TradeMarkInTransit", mill, measure, id=trade_id)
    await bench.send("TradeMarkDelivered", mill, measure, id=trade_id, deliveredQuantity="4")
    await bench.send("TradeComplete", pellets, measure, id=trade_id)

    thread = await bench.send(
        "ThreadCreate",
        pellets,
        measure,
        input={"forumId": forum_id, "title": f"Shavings for pellets {number}", "body": "Who?"},
    )
    post = await bench.send(
        "PostCreate",
        mill,
        measure,
        input={"threadId": thread["thread"]["id"], "body": "We do", "id": str(uuid.uuid4())},
    )
    await bench.send(
        "PostReact", pellets, measure, input={"postId": post["post"]["id"], "reaction": "THANKS"}
    )

    created = await bench.call(
        EVENT_CREATE,
        {
            "input": {
                "title": f"Boiler seminar {number}",
                "kind": "SEMINAR",
                "format": "HYBRID",
                "capacity": 30,
                "startsAt": "2030-03-10T14:00:00+09:00",
                "endsAt": "2030-03-10T16:00:00+09:00",
                "timezone": "Asia/Tokyo",
                "language": "ja",
                "location": MANIWA,
                "onlineUrl": "https://meet.example.org/boiler",
                "topics": ["wood-shavings", "Boilers"],
                "clusterId": cluster_id,
            }
        },
        lab,
    )
    event_id = created["event"]["id"]
    await bench.call(EVENT_PUBLISH, {"id": event_id}, lab)
    await bench.send("EventRegister", mill, measure, input={"eventId": event_id, "seats": 2})

    group = await bench.call(
        GROUP_CREATE,
        {
            "input": {
                "title": f"Wood chips for the boilers {number}",
                "itemName": "Wood chips",
                "materialCode": "wood-shavings",
                "unit": "TNE",
                "direction": "BUY",
                "minQuantity": "10",
                "maxQuantity": "100",
                "priceTiers": [{"minQuantity": "10", "pricePerUnit": "9000"}],
                "deadline": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
                "visibility": "CLUSTER",
            }
        },
        town,
    )
    group_id = group["purchaseGroup"]["id"]
    pledged = await bench.send(
        "PurchaseGroupPledge", mill, measure, input={"groupId": group_id, "quantity": "5"}
    )
    await bench.send(
        "PurchaseGroupPledgeUpdate",
        mill,
        measure,
        input={"pledgeId": pledged["pledge"]["id"], "quantity": "6"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL; SQLite in a temp folder if none")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--short", action="store_true", help="two rounds: does it work")
    args = parser.parse_args()
    rounds, warmup = (2, 1) if args.short else (args.rounds, args.warmup)
    with bench_database(args.database_url, keep=False) as (url, settings):
        asyncio.run(run(url, settings, rounds, warmup))


if __name__ == "__main__":
    main()
