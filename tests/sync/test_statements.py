"""The feed's prebuilt statements (built once, with bind parameters) send the SQL the statements
built for each request sent: the log state as ``session.get`` read it, the scopes from the
domains' own conditions, and the changes after a cursor with and without ``types``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import literal, or_, select, union_all

from backend.auth.viewer import Role, Viewer
from backend.events import service as events_service
from backend.forums import service as forums_service
from backend.kit.db import Database
from backend.purchasing import service as purchasing_service
from backend.sync import log as sync_log
from backend.sync import service as sync_service
from backend.sync.models import Change, ChangeType, SyncLogState
from backend.sync.service import Cursor


def _scopes_per_request(viewer: Viewer) -> Any:
    """The scopes' statement as the service built it for each request."""
    return union_all(
        *(
            select(literal(index).label("kind"), ids.subquery().c[0].label("id"))
            for index, ids in enumerate(
                (
                    forums_service.followed_thread_ids(viewer),
                    events_service.registered_event_ids(viewer),
                    purchasing_service.pledged_group_ids(viewer),
                )
            )
        )
    )


def _after_per_request(
    scopes: list[uuid.UUID], cursor: Cursor, head: int, types: Any, limit: int
) -> Any:
    """The changes' statement as the service built it for each request."""
    statement = (
        select(Change.sequence, Change.position, Change.entity_type, Change.entity_id)
        .where(
            Change.scope_id.in_(scopes),
            or_(
                Change.sequence > cursor.sequence,
                (Change.sequence == cursor.sequence) & (Change.position > cursor.position),
            ),
            Change.sequence <= head,
        )
        .distinct()
        .order_by(Change.sequence, Change.position)
        .limit(limit + 1)
    )
    if types:
        statement = statement.where(Change.entity_type.in_(types))
    return statement


async def test_the_prebuilt_reads_send_the_sql_and_values_of_the_per_request_ones(
    db: Database, sql_statements: Any
) -> None:
    viewer = Viewer(
        user_id=uuid.uuid4(), role=Role.FIRM, organisation_id=uuid.uuid4(), token_id="t"
    )
    cursor = Cursor(3, 7, "audience")
    kinds = [ChangeType.LISTING, ChangeType.EVENT]
    scopes: Any = [sync_log.person(viewer.user_id), sync_log.organisation(viewer.organisation_id)]

    # When the service reads the state, the changes (with their scopes) and again with types
    with sql_statements() as ours:
        async with db.read() as session:
            connection = await session.connection()
            state = await sync_service._log_state(connection)
            rows = await sync_service._after(connection, viewer, cursor, 10, None, 5)
            await sync_service._after(connection, viewer, cursor, 10, kinds, 5)
    # and the statements built per request are sent
    with sql_statements() as theirs:
        async with db.read() as session:
            await session.get(SyncLogState, 1)
            await session.execute(_scopes_per_request(viewer))
            await session.execute(_after_per_request(scopes, cursor, 10, None, 5))
            await session.execute(_scopes_per_request(viewer))
            await session.execute(_after_per_request(scopes, cursor, 10, kinds, 5))

    # Then they are the same SQL, as many
    assert ours.statements == theirs.statements
    assert state is None
    assert rows == []


async def test_the_prebuilt_scopes_read_the_viewers_own_rows(db: Database) -> None:
    # Given the scopes' statement built once, for every viewer
    statement, names = sync_service._scopes_statement()
    # Then each place the domains named the viewer's id is a parameter of its own (threads
    # followed, events registered for, pledges as participant or made for a member)
    assert len(names) == 4
    assert len(set(names)) == len(names)
    # and a viewer with nothing followed, registered or pledged has only their own scopes
    viewer = Viewer(user_id=uuid.uuid4(), role=Role.FIRM, organisation_id=None, token_id="t")
    async with db.read() as session:
        connection = await session.connection()
        assert await sync_service._scopes(connection, viewer) == [sync_log.person(viewer.user_id)]
    assert statement is sync_service._scopes_statement()[0]


def test_the_scopes_statement_refuses_a_domain_rule_that_reads_more_than_the_user_id(
    monkeypatch: Any,
) -> None:
    """Built once from a stand-in viewer, the statement would freeze a rule that depends on the
    viewer's role or organisation as the stand-in's, for everyone: building it refuses that."""
    from backend.events.models import EventRegistration

    def by_role(viewer: Viewer) -> Any:
        statement = select(EventRegistration.event_id).where(
            EventRegistration.user_id == viewer.user_id
        )
        if viewer.role is Role.FIRM:  # a rule that differs by role
            statement = statement.where(EventRegistration.seats > 1)
        return statement

    kinds = list(sync_service._SCOPE_KINDS)
    kinds[1] = (kinds[1][0], by_role)
    monkeypatch.setattr(sync_service, "_SCOPE_KINDS", tuple(kinds))
    sync_service._scopes_statement.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="more than the viewer's user id"):
            sync_service._scopes_statement()
    finally:
        sync_service._scopes_statement.cache_clear()
