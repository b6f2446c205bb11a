"""``backend.kit.prepared.Prepared`` gives what executing the Core statement gives: the same SQL
text, the same values of every type both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select

from backend.catalogue.models import Unit
from backend.identity.models import Cluster
from backend.kit.db import Database
from backend.kit.prepared import Prepared
from tests.conftest import count_statements

CLUSTERS = select(*Cluster.__table__.c).where(
    Cluster.id.in_(bindparam("ids", expanding=True)), Cluster.slug != "no-such-cluster"
)
UNITS = select(Unit.code, Unit.factor, Unit.name).where(Unit.factor > bindparam("least"))


async def both(db: Database, statement: Any, values: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    prepared = Prepared(statement)
    async with db.read_rows() as connection:
        expected = (await connection.execute(statement, values)).all()
        with count_statements(db) as log:
            got = await prepared.rows(connection, values)
            again = await prepared.rows(connection, values)  # from the kept form
    assert got == again
    assert len(log.statements) == 2  # the engine's events see each statement
    assert [tuple(row) for row in got] == [tuple(row) for row in expected]
    assert [type(v) for row in got for v in row] == [type(v) for row in expected for v in row]
    return got, expected


async def test_types_and_expanding_lists_read_as_executing_the_statement(
    db: Database, cluster_id: str
) -> None:
    got, _ = await both(db, CLUSTERS, {"ids": [uuid.UUID(cluster_id), uuid.uuid4()]})
    assert len(got) == 1
    row = got[0]
    assert row.id == uuid.UUID(cluster_id)  # read by name, a UUID on both databases
    assert row.created_at.tzinfo is not None  # aware datetimes, as UTCDateTime gives
    assert isinstance(row.languages, list)  # JSON decoded
    # another length of the list is another form; an empty list matches nothing
    assert len((await both(db, CLUSTERS, {"ids": [uuid.UUID(cluster_id)]}))[0]) == 1
    assert (await both(db, CLUSTERS, {"ids": []}))[0] == []


async def test_decimal_parameters_and_columns(db: Database) -> None:
    got, _ = await both(db, UNITS, {"least": Decimal("0.5")})
    assert got, "the catalogue's units"
    assert all(isinstance(r.factor, Decimal) and r.factor > Decimal("0.5") for r in got)


async def test_a_call_with_other_values_than_its_form_is_compiled_for_them(db: Database) -> None:
    async with db.read_rows() as connection:
        one, other = (await connection.execute(select(Unit.code).limit(2))).scalars().all()
        prepared = Prepared(select(Unit.code).where(Unit.code == bindparam("code", one)))
        assert [r.code for r in await prepared.rows(connection)] == [one]
        assert [r.code for r in await prepared.rows(connection, {"code": other})] == [other]
        assert [r.code for r in await prepared.rows(connection)] == [one]
        # each set of values keeps its own form: alternating calls compile nothing more
        assert len(prepared._forms) == 2


async def test_a_list_the_statement_holds_is_sent_as_it_is(db: Database) -> None:
    async with db.read_rows() as connection:
        codes = (await connection.execute(select(Unit.code).limit(3))).scalars().all()
    statement = select(Unit.code).where(
        Unit.code.in_(codes[:2]), Unit.code.in_(bindparam("codes", expanding=True))
    )
    got, _ = await both(db, statement, {"codes": codes[1:]})
    assert [row.code for row in got] == [codes[1]]
