"""Privacy requests: the data export holds the person's own data and nobody else's; deleting an
account ends every sign-in on the next request, frees seats, keeps trades and the impact ledger,
and a retried deletion gets the first answer."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend import cli
from backend.events.models import EventRegistration, RegistrationStatus
from backend.identity.models import AuditAction, AuditRecord, User
from backend.kit.db import Database
from backend.notifications.models import Device
from backend.settings import Settings
from tests.conftest import PASSWORD, SIGN_IN, Account, GraphQL, make_settings
from tests.events import kit as events
from tests.forums import kit as forums
from tests.marketplace.trading_kit import IMPACT, completed_trade

EXPORT = "{ myDataExport { complete format document } }"
DELETE = """
mutation Delete($input: AccountDeleteInput!) {
  accountDelete(input: $input) { deleted deletedAt errors { code message field } }
}
"""
REFRESH = """
mutation R($input: TokenRefreshInput!) { tokenRefresh(input: $input) { errors { code field } } }
"""
THREAD_POSTS = """
query T($id: ID!) { posts(threadId: $id) { edges { node { body author { displayName } } } } }
"""


async def export_of(gql: GraphQL, token: str) -> dict[str, Any]:
    body = await gql(EXPORT, token=token)
    assert "errors" not in body, body
    answer = body["data"]["myDataExport"]
    assert (answer["complete"], answer["format"]) == (True, "eic-personal-data/1")
    document: dict[str, Any] = json.loads(answer["document"])
    return document


async def delete(gql: GraphQL, token: str, password: str = PASSWORD, **headers: str) -> Any:
    body = await gql(DELETE, {"input": {"password": password}}, token=token, headers=headers)
    return body["data"]["accountDelete"]


async def a_community_thread(
    gql: GraphQL, register: Any, cluster_id: str
) -> tuple[Account, Account, str]:
    """An SHG whose admin started a thread; a member who joined, posted, and registered for
    the SHG's meeting. (shg, member, thread_id)"""
    shg, thread_id = await forums.a_thread(gql, register, cluster_id, "CLUSTER")
    member = await forums.join(gql, register, shg, "member@example.org")
    await forums.post(gql, member.access_token, thread_id, "Call 555")
    await forums.post(gql, shg.access_token, thread_id, "The admin's own words")
    return shg, member, thread_id


async def test_the_export_holds_the_persons_own_data_and_not_others(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg, member, _thread_id = await a_community_thread(gql, register, cluster_id)
    event_id = await events.published_event(
        gql, shg.access_token, cluster_id, capacity=5, kind="COMMUNITY_MEETING"
    )
    await events.register_for(gql, member.access_token, event_id, note="Bring two")

    document = await export_of(gql, member.access_token)

    assert document["person"]["email"] == "member@example.org"
    assert document["person"]["displayName"] == "member"
    assert [(m["organisationName"], m["role"]) for m in document["memberships"]] == [
        ("Women's Union", "MEMBER")
    ]
    assert [p["body"] for p in document["forumPosts"]] == ["Call 555"]
    assert document["forumThreads"] == []  # the thread is the admin's
    assert [(r["eventId"], r["status"], r["note"]) for r in document["eventRegistrations"]] == [
        (event_id, "CONFIRMED", "Bring two")
    ]
    assert len(document["signIns"]) == 1
    assert document["complete"] is True
    text = json.dumps(document)
    # nobody else's data: not the admin's post, name or email; no token of any kind
    for foreign in ("The admin's own words", "shg@example.org", member.refresh_token):
        assert foreign not in text
    assert member.access_token not in text


async def test_the_export_is_for_signed_in_people_only(gql: GraphQL) -> None:
    body = await gql(EXPORT)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_deleting_an_account_ends_every_sign_in_and_keeps_the_trades(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    supplier = await register("sawmill@example.org", cluster_id, name="Sawmill")
    taker = await register("pellets@example.org", cluster_id, name="Pellet Works")
    trade = await completed_trade(gql, supplier.access_token, taker.access_token)
    impact = {"organisationId": taker.organisation_id}
    before = await gql(IMPACT, impact, token=taker.access_token)
    assert before["data"]["impactSummary"]["tradesCompleted"] == 1, before

    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await delete(gql, supplier.access_token, **key)
    assert first == {"deleted": True, "deletedAt": first["deletedAt"], "errors": []}
    # a retry of the same request (the answer was lost on the way) gets the same answer
    replayed_body = await gql(
        DELETE, {"input": {"password": PASSWORD}}, token=supplier.access_token, headers=key
    )
    assert gql.last_response is not None
    assert gql.last_response.headers.get("idempotent-replayed") == "true"
    assert replayed_body["data"]["accountDelete"] == first

    # the old access token is no token at all on the very next request
    me = await gql("{ me { user { id } } }", token=supplier.access_token)
    assert me["data"] == {"me": None}, me
    again = await delete(gql, supplier.access_token)
    assert [e["code"] for e in again["errors"]] == ["UNAUTHENTICATED"]
    refreshed = await gql(REFRESH, {"input": {"refreshToken": supplier.refresh_token}}, token="")
    assert refreshed["data"]["tokenRefresh"]["errors"] == [
        {"code": "TOKEN_INVALID", "field": "refreshToken"}
    ]
    signed_in = await gql(
        SIGN_IN, {"input": {"email": "sawmill@example.org", "password": PASSWORD}}, token=""
    )
    assert [e["code"] for e in signed_in["data"]["tokenCreate"]["errors"]] == [
        "INVALID_CREDENTIALS"
    ]

    # the trade and the impact ledger are the organisations', and stay as they were
    after = await gql(IMPACT, impact, token=taker.access_token)
    assert after == before
    trade_after = await gql(
        "query T($id: ID!) { trade(id: $id) { id status supplier { name } } }",
        {"id": trade["id"]},
        token=taker.access_token,
    )
    assert trade_after["data"]["trade"] == {
        "id": trade["id"],
        "status": "COMPLETED",
        "supplier": {"name": "Sawmill"},
    }

    async with db.read() as session:
        user = await session.get(User, uuid.UUID(supplier.user_id))
        assert user is not None
        assert (user.display_name, user.email, user.password_hash, user.is_active) == (
            "Deleted user",
            f"deleted-{uuid.UUID(supplier.user_id).hex}@deleted.invalid",
            "",
            False,
        )
        records = (
            await session.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.subject_user_id == uuid.UUID(supplier.user_id)
                )
            )
        ).all()
        assert records == [AuditAction.ACCOUNT_DELETED]  # once, for the request and its retry

    # the email is free again: its owner may come back as a new person
    back = await register("sawmill@example.org", cluster_id, name="Sawmill Again")
    assert back.user_id != supplier.user_id


async def test_deleted_persons_posts_stay_as_by_a_deleted_user_and_their_seats_go_on(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    shg, member, thread_id = await a_community_thread(gql, register, cluster_id)
    event_id = await events.published_event(
        gql, shg.access_token, cluster_id, capacity=1, kind="COMMUNITY_MEETING"
    )
    await events.register_for(gql, member.access_token, event_id)
    other = await register("other@example.org", cluster_id, name="Other Firm")
    waiting = await events.register_for(gql, other.access_token, event_id)
    assert waiting["status"] == "WAITLISTED"

    assert (await delete(gql, member.access_token))["errors"] == []

    posts = await gql(THREAD_POSTS, {"id": thread_id}, token=shg.access_token)
    assert [
        (e["node"]["body"], e["node"]["author"]["displayName"])
        for e in posts["data"]["posts"]["edges"]
    ] == [("Call 555", "Deleted user"), ("The admin's own words", "shg")]
    event = await events.read_event(gql, event_id, token=other.access_token)
    assert event is not None
    assert (event["confirmedSeats"], event["waitlistCount"], event["myRegistration"]) == (
        1,
        0,
        {"id": waiting["id"], "status": "CONFIRMED"},
    )
    async with db.read() as session:
        mine = await session.scalar(
            select(EventRegistration.status).where(
                EventRegistration.user_id == uuid.UUID(member.user_id)
            )
        )
    assert mine is RegistrationStatus.CANCELLED


async def test_a_wrong_password_or_the_last_admin_changes_nothing(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg, member, _thread_id = await a_community_thread(gql, register, cluster_id)

    wrong = await delete(gql, member.access_token, password="not the password at all")
    assert wrong == {
        "deleted": None,
        "deletedAt": None,
        "errors": [
            {
                "code": "INVALID_CREDENTIALS",
                "message": "The password is incorrect",
                "field": "password",
            }
        ],
    }
    last_admin = await delete(gql, shg.access_token)
    assert last_admin["errors"] == [
        {
            "code": "CONFLICT",
            "message": "You are the last admin of Women's Union: make another member admin "
            "first, then delete your account",
            "field": None,
        }
    ]
    # both still signed in, nothing changed
    for account in (shg, member):
        me = await gql("{ me { user { email } } }", token=account.access_token)
        assert me["data"]["me"]["user"]["email"] == account.email


async def test_an_operator_exports_and_deletes_a_person_by_email(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    db: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    _shg, member, _thread_id = await a_community_thread(gql, register, cluster_id)
    async with db.write() as session:
        session.add(
            Device(
                user_id=uuid.UUID(member.user_id),
                token="ExponentPushToken[abcdefghijkl]",
                platform="ANDROID",
                locale="ja-JP",
            )
        )

    target = tmp_path / "member.json"
    assert await _cli(["export-person", "Member@Example.org", "--output", str(target)]) == 0
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["person"]["email"] == "member@example.org"
    assert [p["body"] for p in document["forumPosts"]] == ["Call 555"]
    assert [d["pushTokenEnd"] for d in document["devices"]] == ["hijkl]"]
    assert "Exported" in capsys.readouterr().err

    assert await _cli(["delete-person", "member@example.org", "--reason", "Ticket 42"]) == 0
    assert "Deleted member@example.org" in capsys.readouterr().out
    async with db.read() as session:
        assert await session.scalar(select(Device.id)) is None
        reason = await session.scalar(
            select(AuditRecord.reason).where(AuditRecord.action == AuditAction.ACCOUNT_DELETED)
        )
    assert reason == "Ticket 42"
    me = await gql("{ me { user { id } } }", token=member.access_token)
    assert me["data"] == {"me": None}

    # the email is gone: a second request finds nobody
    assert await _cli(["delete-person", "member@example.org"]) == 2
    assert "Person with this email not found" in capsys.readouterr().err


async def _cli(argv: list[str]) -> int:
    """``eic`` in a worker thread: it runs its own event loop, as from a shell."""
    import asyncio

    return await asyncio.to_thread(cli.main, argv)


async def test_exports_are_limited_per_account_even_when_aliased_in_one_request(
    db: Database, database_url: str, cluster_id: str
) -> None:
    from tests.security.kit import app_client, register, sign_in, unique_address

    # Given an app allowing two exports per account an hour (each reads every domain)
    settings = make_settings(database_url, rate_limit_exports_per_account="2/hour")
    async with app_client(settings, db) as client:
        gql = client(unique_address())
        assert (await register(gql, "exporter@example.org", cluster_id))["errors"] == []
        token = (await sign_in(gql, "exporter@example.org"))["accessToken"]
        # when one request asks for the export under three aliases
        body = await gql(
            "{ a: myDataExport { complete } b: myDataExport { complete } "
            "c: myDataExport { complete } }",
            token=token,
        )
        # then two are answered and the third is refused as THROTTLED, with when to retry
        assert body["data"] is None
        (error,) = body["errors"]
        assert error["path"] == ["c"]
        assert error["extensions"]["code"] == "THROTTLED"
        assert error["message"].startswith("Too many data exports from this account; try again")
        # and from another address the account's budget is the same
        again = await client(unique_address())(EXPORT, token=token)
        assert again["errors"][0]["extensions"]["code"] == "THROTTLED"


ENABLE = """
mutation E($input: AccountEnableInput!) {
  accountEnable(input: $input) { active errors { code message field } }
}
"""


async def test_a_deleted_account_cannot_be_enabled_again(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str, db: Database
) -> None:
    # Given a member who deleted their account
    _shg, member, _thread_id = await a_community_thread(gql, register, cluster_id)
    assert (await delete(gql, member.access_token))["errors"] == []
    # when a platform admin enables it (as for an account they had disabled)
    body = await gql(
        ENABLE, {"input": {"userId": member.user_id, "note": "oops"}}, token=platform_admin_token
    )
    # then it is refused: deletion is not a suspension, there is no one to give it back to
    assert body["data"]["accountEnable"] == {
        "active": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "This account was deleted at its owner's request; it cannot be "
                "enabled again (its owner may register anew)",
                "field": "userId",
            }
        ],
    }
    async with db.read() as session:
        user = await session.get(User, uuid.UUID(member.user_id))
        assert user is not None
        assert (user.is_active, user.display_name) == (False, "Deleted user")


async def test_a_join_that_passed_its_checks_before_the_deletion_adds_no_member(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    from backend.auth.viewer import Role, Viewer
    from backend.identity import service as identity_service
    from backend.identity.models import Membership
    from backend.kit.broadcast import InProcessBroadcaster
    from backend.kit.db import utcnow
    from backend.kit.errors import ServiceError
    from tests.identity.kit import invite_code

    # Given a member of an SHG, and an admin invite to a firm, both valid
    _shg, member, _thread_id = await a_community_thread(gql, register, cluster_id)
    firm = await register("firm@example.org", cluster_id, name="Hosur Silk Reelers")
    code = await invite_code(gql, firm, "ADMIN")
    # and the member's organisationJoin, whose token was checked just before they deleted
    # their account in another request (the viewer it carries is of before the deletion)
    viewer = Viewer(
        user_id=uuid.UUID(member.user_id), role=Role.FIRM, organisation_id=None, token_id="t"
    )
    assert (await delete(gql, member.access_token))["errors"] == []
    # when the join runs after the deletion has committed
    with pytest.raises(ServiceError) as refused:
        await identity_service.join_organisation(
            db=db,
            viewer=viewer,
            invite_code=code,
            now=utcnow(),
            broadcaster=InProcessBroadcaster(),
        )
    # then it is refused, and the deleted account is nobody's member, let alone an admin
    assert [(p.code.value, p.message) for p in refused.value.problems] == [
        ("UNAUTHENTICATED", "This account is deleted or disabled; sign in again")
    ]
    async with db.read() as session:
        left = await session.scalars(
            select(Membership).where(Membership.user_id == uuid.UUID(member.user_id))
        )
        assert left.all() == []
