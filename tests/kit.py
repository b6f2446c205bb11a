"""Helpers shared by the tests of more than one domain: the error the API answers with, a
time as the API writes it, the apps' own documents and what they cost in SQL statements. Not a
test module."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.graphql.operations import load_manifest
from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.db import Database
from backend.kit.validation import Place


def app_operation(name: str) -> str:
    """The apps' own document for an operation of clients/operations (with its fragments), as
    the committed manifest has it: what a phone really sends."""
    heads = (f"mutation {name}(", f"query {name}(", f"mutation {name} ", f"query {name} ")
    found = [d for d in load_manifest().values() if d.startswith(heads)]
    assert len(found) == 1, name
    return found[0]


def begins(db: Database) -> int:
    """Statements a transaction's BEGIN adds to a count: SQLite's BEGIN (IMMEDIATE for writes)
    is sent as a statement of its own (backend.kit.db), PostgreSQL's goes with the driver."""
    return 1 if db.dialect == "sqlite" else 0


@dataclass
class AppCalls:
    """Sends the apps' own operations (:func:`app_operation`) and keeps the SQL statements each
    one cost (the ``sql_statements`` fixture), by label."""

    gql: Any
    sql_statements: Callable[[], AbstractContextManager[Any]]
    counts: dict[str, int] = field(default_factory=dict)
    statements: dict[str, list[str]] = field(default_factory=dict)

    async def send(self, label: str, operation: str, token: str, **variables: Any) -> Any:
        """Send ``operation``, count its statements under ``label``; the (only) root field's
        answer, which must carry no errors."""
        with self.sql_statements() as log:
            body = await self.gql(app_operation(operation), variables, token=token)
        assert "errors" not in body, body
        self.counts[label] = log.count
        self.statements[label] = log.statements
        [answer] = body["data"].values()
        if isinstance(answer, dict) and "errors" in answer:
            assert answer["errors"] == [], (label, answer)
        return answer

    async def read(self, operation: str, token: str, **variables: Any) -> Any:
        """A screen query (not counted): its root field's answer, or all of them by name when
        it has several."""
        body = await self.gql(app_operation(operation), variables, token=token)
        assert "errors" not in body, body
        data = body["data"]
        return next(iter(data.values())) if len(data) == 1 else data


def problem(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """One entry of a payload's ``errors``."""
    return {"code": code, "message": message, "field": field}


def iso(moment: datetime) -> str:
    """``moment`` as the API writes times."""
    return moment.isoformat()


async def create_wood_cluster(
    db: Database, slug: str = "test-wood", name: str = "Test Wood Cluster"
) -> str:
    """A Maniwa-like wood cluster to register organisations in; its id."""
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug=slug,
            name=name,
            region="Okayama",
            country="JP",
            sector=Sector.WOOD,
            centre=Place(lat=35.07, lon=133.75),
            currency="JPY",
            languages=["ja"],
            timezone="Asia/Tokyo",
        ),
    )
    return str(cluster.id)
