"""Sign in as a demo firm, search the market, and list the firm's trades.

Install the client (``pip install ./clients/python``), start the service (``make run``, or
``make run PORT=8080``), then give the example the service's address:

    python clients/python/examples/market_and_trades.py http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import asyncio

from eic_client import EICClient


async def main(base_url: str, email: str, password: str) -> None:
    async with EICClient(base_url) as eic:
        await eic.sign_in(email, password)
        found = await eic.run(
            "MarketSearch", {"filter": {"materialCode": "wood-shavings"}, "first": 5}
        )
        for edge in found["listings"]["edges"]:
            listing = edge["node"]
            print(f"{listing['title']}: {listing['quantity']} {listing['unit']['code']}")
        async for trade in eic.pages("MyTrades", {}, lambda data: data["trades"]):
            print(f"trade {trade['id']}: {trade['status']} {trade['listingTitle']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the service's base address, such as http://127.0.0.1:8000")
    parser.add_argument("--email", default="katsuyama-pellets@demo.eic.example")
    parser.add_argument("--password", default="eic-demo-2026")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.url.rstrip("/"), arguments.email, arguments.password))
