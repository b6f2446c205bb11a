"""Response sizes of the apps' main queries, plain and gzip-compressed, on the demo data.

Loads the demo clusters into a scratch database, then sends the market search (``MarketSearch``,
a page of 20 listing cards), the matches of a listing (``ListingMatches``), the trades list
(``MyTrades``) and a first offline sync page (``SyncChanges`` from before the demo's first change,
as the Maniwa lumber mill) by their persisted ids through the ASGI app, once without and once with
``Accept-Encoding: gzip``, and prints the bytes on the wire and the request sizes by id and by text.

    .venv/bin/python scripts/bench_response_sizes.py
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from benchkit import bench_database, cursor_from_the_start
from sqlalchemy import select

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.graphql.operations import operations_of
from backend.graphql.schema import build_schema
from backend.kit.db import Database
from backend.marketplace.models import Listing, ListingStatus
from backend.settings import Settings

SIGN_IN = """
mutation SignIn($input: TokenCreateInput!) { tokenCreate(input: $input) { accessToken } }
"""


async def _sizes(http: httpx.AsyncClient, request: dict[str, Any], token: str) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {token}"}
    plain = await http.post(
        "/graphql", json=request, headers={**headers, "Accept-Encoding": "identity"}
    )
    packed = await http.post(
        "/graphql", json=request, headers={**headers, "Accept-Encoding": "gzip"}
    )
    assert "errors" not in plain.json(), plain.json()
    assert packed.headers.get("content-encoding") == "gzip"
    # httpx has already decompressed .content: the wire size is the raw stream's
    return len(plain.content), int(packed.headers["content-length"])


async def _head_cursor(http: httpx.AsyncClient, token: str) -> str:
    answer = await http.post(
        "/graphql",
        json={"query": "{ changes { cursor } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    cursor: str = answer.json()["data"]["changes"]["cursor"]
    return cursor


async def _run(settings: Settings) -> None:
    db = Database(settings.database_url)
    await demo.seed_demo(db, Passwords(settings))
    operations = {o.name: o for o in operations_of(build_schema(Settings(_env_file=None))._schema)}
    async with db.read() as session:
        listing_id = await session.scalar(
            select(Listing.id)
            .where(Listing.status == ListingStatus.ACTIVE, Listing.material_code == "wood-shavings")
            .limit(1)
        )
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://eic.bench"
    ) as http:
        signed_in = await http.post(
            "/graphql",
            json={
                "query": SIGN_IN,
                "variables": {
                    "input": {
                        "email": demo.demo_email("maniwa-lumber"),
                        "password": demo.DEMO_PASSWORD,
                    }
                },
            },
        )
        token = signed_in.json()["data"]["tokenCreate"]["accessToken"]
        cases = {
            "MarketSearch (20 listing cards)": ("MarketSearch", {"first": 20}),
            "ListingMatches (a shavings listing, first 20)": (
                "ListingMatches",
                {"listingId": str(listing_id)},
            ),
            "MyTrades (the mill's trades)": ("MyTrades", {"first": 20}),
            "SyncChanges (the mill's first sync page, first 100)": (
                "SyncChanges",
                {"since": cursor_from_the_start(await _head_cursor(http, token)), "first": 100},
            ),
        }
        for label, (name, variables) in cases.items():
            operation = operations[name]
            plain, packed = await _sizes(
                http, {"id": operation.sha256, "variables": variables}, token
            )
            by_id = len(json.dumps({"id": operation.sha256, "variables": variables}))
            by_text = len(json.dumps({"query": operation.document, "variables": variables}))
            print(
                f"{label}: response {plain:,} B plain, {packed:,} B gzip "
                f"({100 * packed / plain:.0f} %); request {by_id:,} B by id, {by_text:,} B as text"
            )
    await db.dispose()


def main() -> None:
    with bench_database(None, keep=False) as (_url, settings):
        asyncio.run(_run(settings))


if __name__ == "__main__":
    main()
