"""Sign in as a demo firm, search the market, and list the firm's trades.

Start the service first (`make run`), then:

    PYTHONPATH=clients/python .venv/bin/python clients/python/examples/market_and_trades.py \
        http://127.0.0.1:8000
"""

from __future__ import annotations

import asyncio
import sys

from eic_client import EICClient


async def main(base_url: str) -> None:
    async with EICClient(base_url) as eic:
        await eic.sign_in("katsuyama-pellets@demo.eic.example", "eic-demo-2026")
        found = await eic.run(
            "MarketSearch", {"filter": {"materialCode": "wood-shavings"}, "first": 5}
        )
        for edge in found["listings"]["edges"]:
            listing = edge["node"]
            print(f"{listing['title']}: {listing['quantity']} {listing['unit']['code']}")
        async for trade in eic.pages("MyTrades", {}, lambda data: data["trades"]):
            print(f"trade {trade['id']}: {trade['status']} {trade['listingTitle']}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
