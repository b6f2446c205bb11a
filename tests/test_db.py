"""backend/kit/db.py: giving rows of a unit of work their relations (``attach``, ``held_row``)
without reading them back, on the real database."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import JSON, String, bindparam, cast, func, select, type_coerce

from backend.forums.models import Forum, ForumVisibility
from backend.identity.models import Cluster, Organisation
from backend.kit.db import Database, attach, held_row, read_json


async def test_attach_takes_the_rows_the_session_holds_and_loads_the_others_at_once(
    db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    # given a community's forum, a firm's forum and a cluster forum (no organisation)
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    mill = await register("mill@example.org", cluster_id, name="Sawmill")
    cluster = uuid.UUID(cluster_id)
    async with db.write() as session:
        session.add_all(
            [
                Forum(
                    cluster_id=cluster,
                    organisation_id=uuid.UUID(shg.organisation_id),
                    title="a: the union's",
                    visibility=ForumVisibility.MEMBERS,
                ),
                Forum(
                    cluster_id=cluster,
                    organisation_id=uuid.UUID(mill.organisation_id),
                    title="b: the sawmill's",
                    visibility=ForumVisibility.CLUSTER,
                ),
                Forum(
                    cluster_id=cluster, title="c: everyone's", visibility=ForumVisibility.CLUSTER
                ),
            ]
        )

    async with db.write() as session:
        forums = await session.scalars(select(Forum).order_by(Forum.title))
        union, sawmill, everyone = forums.all()
        held = await session.get(Organisation, uuid.UUID(mill.organisation_id))
        assert held is not None

        # when the forums get their organisations, twice, and the organisations their cluster
        with sql_statements() as first:
            await attach(session, [(f, "organisation") for f in (union, sawmill, everyone)])
        with sql_statements() as again:
            await attach(session, [(f, "organisation") for f in (union, sawmill, everyone)])
        organisations = [union.organisation, sawmill.organisation]
        with sql_statements() as clusters:
            await attach(session, [(o, "cluster") for o in organisations if o is not None])

        # then the held organisation is taken as it is, the other comes in one statement, a
        # missing one is None; a second time nothing is sent; both share one cluster row
        assert sawmill.organisation is held
        assert union.organisation is not None
        assert union.organisation.name == "Women's Union"
        assert everyone.organisation is None
        assert [s.split()[0] for s in first.statements] == ["SELECT"]
        assert "FROM organisations" in " ".join(first.statements[0].split())
        assert again.statements == []
        assert held.cluster is union.organisation.cluster
        assert held.cluster.id == cluster
        assert clusters.count == 1

        # and a row the session expired is read again rather than taken stale
        session.expire(held.cluster)
        assert held_row(session, Cluster, cluster) is None
        with sql_statements() as expired:
            await attach(session, [(held, "cluster")])
        assert expired.count == 1
        assert held_row(session, Cluster, cluster) is held.cluster
        assert held.cluster.name == "Test Wood Cluster"


STORED_JSON = [
    '{"key": "moisture", "value": "12%"}',
    '[1, 2.5, -0.0, 1e-7, "sägemehl", null, true]',
    "123456789012345678901234567890",  # past 64 bits: orjson would read a float
    "[-9223372036854775809, 18446744073709551616, 18446744073709551615, 1e400]",
    '{"phone": "00919876543210123456", "n": [[1e19], -1e300]}',  # huge floats: the same
    "[NaN, Infinity, -Infinity]",  # not JSON, but what json.dumps writes for such floats
    '"\\ud800"',  # a lone surrogate, escaped
    '{"a": 1, "a": 2}',
]


@pytest.mark.parametrize("text", STORED_JSON)
def test_read_json_reads_what_the_standard_reader_reads(text: str) -> None:
    expected = json.loads(text)
    found = read_json(text)
    assert repr(found) == repr(expected)  # repr: NaN is not equal to itself


async def test_json_columns_are_read_with_read_json_on_the_database(db: Database) -> None:
    column = (
        cast(bindparam("text", type_=String), JSON)
        if db.dialect == "postgresql"
        # (a function between: type_coerce alone would write the parameter as JSON)
        else type_coerce(func.trim(bindparam("text", type_=String)), JSON)
    )
    async with db.read_rows() as connection:
        for text in STORED_JSON:
            if db.dialect == "postgresql" and ("NaN" in text or "ud800" in text):
                continue  # PostgreSQL's json refuses them: never stored
            found = (await connection.execute(select(column), {"text": text})).scalar_one()
            assert repr(found) == repr(json.loads(text))
    assert db.engine.dialect._json_deserializer is read_json
