"""The impact ledger's month parties (who traded in each calendar month of the cluster's time
zone) and paid amounts: written with each entry, filled from the ledger by the migration that
added them, and giving insights the same months' organisations as the entries themselves."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import select

from backend import cli
from backend.identity.models import Cluster
from backend.insights.period import period_of
from backend.kit.db import Database, utcnow
from backend.marketplace import service as marketplace
from backend.marketplace.models import ImpactEntry, MonthParty, Trade
from backend.migrating import alembic_config
from backend.settings import Settings
from tests.conftest import make_settings

BEFORE = "5b0e7d3c2a91"  # the revision before the ledger kept paid amounts and month parties


async def _ledger_facts(
    db: Database,
) -> tuple[set[tuple[uuid.UUID, date, uuid.UUID]], dict[uuid.UUID, tuple[Decimal, str]]]:
    async with db.read() as session:
        parties = {
            (row.cluster_id, row.month, row.organisation_id)
            for row in (await session.execute(select(MonthParty))).scalars()
        }
        paid = {
            entry_id: (Decimal(str(amount)), currency)
            for entry_id, amount, currency in (
                await session.execute(
                    select(ImpactEntry.id, ImpactEntry.paid, ImpactEntry.trade_currency)
                )
            ).all()
        }
    return parties, paid


async def _expected_facts(
    db: Database,
) -> tuple[set[tuple[uuid.UUID, date, uuid.UUID]], dict[uuid.UUID, tuple[Decimal, str]]]:
    """The same facts worked out here from the entries, their trades and the clusters' zones."""
    async with db.read() as session:
        zones = {
            cluster.id: ZoneInfo(cluster.timezone)
            for cluster in (await session.execute(select(Cluster))).scalars()
        }
        rows = (
            await session.execute(
                select(ImpactEntry, Trade.price_per_unit, Trade.currency).join(
                    Trade, Trade.id == ImpactEntry.trade_id
                )
            )
        ).all()
    parties: set[tuple[uuid.UUID, date, uuid.UUID]] = set()
    paid: dict[uuid.UUID, tuple[Decimal, str]] = {}
    for entry, price, currency in rows:
        month = entry.recorded_at.astimezone(zones[entry.cluster_id]).date().replace(day=1)
        parties.add((entry.cluster_id, month, entry.supplier_id))
        parties.add((entry.cluster_id, month, entry.receiver_id))
        paid[entry.id] = (Decimal(str(entry.quantity * price)), currency)
    return parties, paid


def _rounded(paid: dict[uuid.UUID, tuple[Decimal, str]]) -> dict[uuid.UUID, tuple[Decimal, str]]:
    # SQLite keeps NUMERIC as a float: compared to the cent's hundredth
    return {k: (amount.quantize(Decimal("0.0001")), c) for k, (amount, c) in paid.items()}


async def test_trades_write_month_parties_and_the_migration_fills_them_alike(
    empty_database_url: str,
) -> None:
    # Given the demo's year of trades, each completed through impact.record
    settings = make_settings(empty_database_url)
    await asyncio.to_thread(cli.migrate, settings)
    await cli._seed_demo(settings, if_empty=False)
    db = Database(empty_database_url)
    try:
        written = await _ledger_facts(db)
        expected = await _expected_facts(db)
        # then each entry's parties are in the month of its cluster's time zone, once, and each
        # entry keeps what the supplier was paid, in the trade's currency
        assert len(written[0]) > 100
        assert written[0] == expected[0]
        assert _rounded(written[1]) == _rounded(expected[1])
        # and when the database goes back to the revision before them and up again, the
        # migration fills both from the ledger with the same rows
        config = alembic_config(empty_database_url)
        await db.dispose()
        await asyncio.to_thread(command.downgrade, config, BEFORE)
        await asyncio.to_thread(command.upgrade, config, "head")
        refilled = await _ledger_facts(db)
        assert refilled[0] == written[0]
        assert _rounded(refilled[1]) == _rounded(written[1])
    finally:
        await db.dispose()


async def test_whole_months_count_the_same_organisations_as_the_ledger(
    db: Database, settings: Settings
) -> None:
    # Given the demo (seeded into the test database)
    await cli._seed_demo(settings, if_empty=False)
    async with db.read() as session:
        clusters = list((await session.execute(select(Cluster))).scalars())
    now = utcnow()
    this_month = date(now.year, now.month, 1)
    year_ago = date(this_month.year - 1, this_month.month, 1)
    checked = 0
    for cluster in clusters:
        # a period cut at both ends (its first and last months partial), and the last twelve
        # whole months
        for starts_on, ends_on in (
            (year_ago.replace(day=15), None),
            (year_ago, this_month - timedelta(days=1)),
        ):
            period = period_of(
                starts_on=starts_on, ends_on=ends_on, time_zone=cluster.timezone, now=now
            )
            assert period.whole_months  # some months come from the month parties
            # when the months' organisations are counted from the month parties where whole
            kept = await marketplace.monthly_outcomes(
                db=db,
                cluster_id=cluster.id,
                month_starts=period.month_starts,
                ends_at=period.ends_at,
                whole_months=period.whole_months,
                name_below=3,
            )
            # and from the ledger's entries alone
            counted = await marketplace.monthly_outcomes(
                db=db,
                cluster_id=cluster.id,
                month_starts=period.month_starts,
                ends_at=period.ends_at,
                whole_months={},
                name_below=3,
            )
            # then both give the same organisations per month and name the same few
            assert kept.organisations == counted.organisations
            assert kept.few == counted.few
            assert kept.rows == counted.rows
            # and the amounts paid are money of 4 places (SQLite sums the entries' exact
            # 8-place amounts as floats)
            assert all(row.paid_to_suppliers.as_tuple().exponent == -4 for row in kept.rows)
            checked += sum(kept.organisations.values())
    assert checked > 0
