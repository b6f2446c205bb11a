"""What cluster insights read of the impact ledger, kept as trades complete.

- ``impact_entries.paid`` (delivered quantity times the agreed price, exact) and
  ``trade_currency``. An entry already copies the factors it was computed with so that history
  stays as it was computed; what the supplier was paid is part of what a completed trade
  achieved (the NISP-style "additional sales"). The monthly outcomes then read the ledger alone:
  the join to ``trades`` was about a third of that statement on 200,000 entries.
- ``impact_month_parties``: each organisation that supplied or took in a completed trade in a
  calendar month of its cluster's time zone, once. A month's organisations are counted there
  instead of over every supplier and taker id of the month's entries.

Both are filled here from the existing ledger.

Revision ID: 7c4d2b9e1f60
Revises: 5b0e7d3c2a91
Create Date: 2026-12-07 14:30:00.000000

"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "7c4d2b9e1f60"
down_revision: str | Sequence[str] | None = "5b0e7d3c2a91"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000


def _fill_month_parties_on_sqlite() -> None:
    # SQLite knows no time zones: the months are worked out here, from each cluster's zone.
    bind = op.get_bind()
    zones = {
        cluster_id: ZoneInfo(zone)
        for cluster_id, zone in bind.execute(sa.text("SELECT id, timezone FROM clusters"))
    }
    parties: set[tuple[str, str, str]] = set()
    rows = bind.execute(
        sa.text("SELECT cluster_id, recorded_at, supplier_id, receiver_id FROM impact_entries")
    )
    for cluster_id, recorded_at, supplier_id, receiver_id in rows:
        moment = recorded_at if isinstance(recorded_at, datetime) else _parse(recorded_at)
        month = moment.astimezone(zones[cluster_id]).date().replace(day=1).isoformat()
        parties.add((cluster_id, month, supplier_id))
        parties.add((cluster_id, month, receiver_id))
    insert = sa.text(
        "INSERT INTO impact_month_parties (cluster_id, month, organisation_id) "
        "VALUES (:cluster_id, :month, :organisation_id)"
    )
    ordered = sorted(parties)
    for start in range(0, len(ordered), CHUNK):
        bind.execute(
            insert,
            [
                {"cluster_id": c, "month": m, "organisation_id": o}
                for c, m, o in ordered[start : start + CHUNK]
            ],
        )


def _parse(stored: str) -> datetime:
    moment = datetime.fromisoformat(stored)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("impact_entries") as batch:
        batch.add_column(sa.Column("paid", sa.Numeric(36, 8), nullable=True))
        batch.add_column(sa.Column("trade_currency", sa.String(3), nullable=True))
    # Correlated subqueries: the same statement on both databases.
    op.execute(
        "UPDATE impact_entries SET "
        "paid = (SELECT impact_entries.quantity * trades.price_per_unit FROM trades "
        "WHERE trades.id = impact_entries.trade_id), "
        "trade_currency = (SELECT trades.currency FROM trades "
        "WHERE trades.id = impact_entries.trade_id)"
    )
    with op.batch_alter_table("impact_entries") as batch:
        batch.alter_column("paid", existing_type=sa.Numeric(36, 8), nullable=False)
        batch.alter_column("trade_currency", existing_type=sa.String(3), nullable=False)

    op.create_table(
        "impact_month_parties",
        sa.Column("cluster_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_impact_month_parties_cluster_id_clusters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_impact_month_parties_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "cluster_id", "month", "organisation_id", name=op.f("pk_impact_month_parties")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO impact_month_parties (cluster_id, month, organisation_id) "
            "SELECT DISTINCT e.cluster_id, "
            "date_trunc('month', e.recorded_at AT TIME ZONE c.timezone)::date, p.organisation_id "
            "FROM impact_entries e JOIN clusters c ON c.id = e.cluster_id "
            "CROSS JOIN LATERAL (VALUES (e.supplier_id), (e.receiver_id)) AS p(organisation_id)"
        )
    else:
        _fill_month_parties_on_sqlite()


def downgrade() -> None:
    op.drop_table("impact_month_parties")
    with op.batch_alter_table("impact_entries") as batch:
        batch.drop_column("trade_currency")
        batch.drop_column("paid")
