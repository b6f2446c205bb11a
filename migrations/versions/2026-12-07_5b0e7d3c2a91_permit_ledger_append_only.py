"""The permit allocation ledger is append-only: triggers refuse UPDATE of its entries.

Only the columns a foreign key may set to null (who acted, for whom) stay updatable, so that
deleting a user or an organisation still works. DELETE is not refused: whole permits (with
their conditions and ledgers) go by cascade, and the tests empty every table between tests;
no code path deletes an entry on its own.

Revision ID: 5b0e7d3c2a91
Revises: eda145481230
Create Date: 2026-12-07 13:10:00.000000

"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b0e7d3c2a91"
down_revision: str | Sequence[str] | None = "eda145481230"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# every column but acted_by_id and acting_organisation_id (ON DELETE SET NULL)
GUARDED = (
    "id, condition_id, organisation_id, reason, change, balance_after, transfer_id, note, "
    "created_at"
)
MESSAGE = "permit_allocation_entries is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TRIGGER permit_allocation_entries_append_only "
            f"BEFORE UPDATE OF {GUARDED} ON permit_allocation_entries "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION permit_allocation_entries_refuse() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
        END $$"""
    )
    op.execute(
        f"CREATE TRIGGER permit_allocation_entries_append_only "
        f"BEFORE UPDATE OF {GUARDED} ON permit_allocation_entries "
        f"FOR EACH ROW EXECUTE FUNCTION permit_allocation_entries_refuse()"
    )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS permit_allocation_entries_append_only"
        + ("" if op.get_bind().dialect.name == "sqlite" else " ON permit_allocation_entries")
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS permit_allocation_entries_refuse()")
