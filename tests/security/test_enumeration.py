"""No account enumeration: accountRegister answers alike whether or not the email has an account.

For the same request with an email that has an account and one that has none, the whole
response is the same, and so is the expensive work (argon2 runs, counted on the app's own
password hasher, not timed). The owner of the existing account is told through their inbox.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend.app import create_app
from backend.identity.models import Membership, OrganisationInvite, User
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.notifications.models import Notification, NotificationKind
from backend.settings import Settings
from tests.conftest import PASSWORD, REGISTER, organisation_input, without_cost

INVITE_CREATE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) { invite { code } errors { code message field } }
}
"""
KNOWN = "tanaka@pellets.example"
UNKNOWN = "nobody@pellets.example"


@dataclass
class App:
    http: httpx.AsyncClient
    hashes: list[str]  # one entry per argon2 hash the app computed

    async def register(self, email: str, **how: Any) -> dict[str, Any]:
        """The whole response of accountRegister, and how many hashes it cost."""
        before = len(self.hashes)
        response = await self.http.post(
            "/graphql",
            json={
                "query": REGISTER,
                "variables": {
                    "input": {"email": email, "password": PASSWORD, "displayName": "T", **how}
                },
            },
        )
        return {"body": without_cost(response.json()), "hashes": len(self.hashes) - before}


@pytest.fixture
async def app(db: Database, settings: Settings, clock: ManualClock) -> AsyncIterator[App]:
    application = create_app(settings, db=db, clock=clock)
    passwords = application.state.security.passwords
    hashes: list[str] = []
    real_hash = passwords.hash

    async def counted_hash(password: str) -> str:
        hashes.append(password)
        return str(await real_hash(password))

    # A counter around the real hasher: the work still happens, the test only sees it.
    passwords.hash = counted_hash
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield App(http, hashes)


async def told(db: Database, user_id: str) -> list[str]:
    """Titles of the owner's notifications about registration attempts."""
    async with db.read() as session:
        rows = await session.scalars(
            select(Notification.title).where(
                Notification.user_id == uuid.UUID(user_id),
                Notification.kind == NotificationKind.ACCOUNT_REGISTRATION_ATTEMPTED,
            )
        )
        return list(rows.all())


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Membership)
        }


async def test_a_bogus_invite_is_refused_alike_for_a_known_and_an_unknown_email(
    app: App, db: Database, register: Any, cluster_id: str
) -> None:
    # Given an account
    await register(KNOWN, cluster_id)

    # when someone registers its email, and an unknown one, with an invite code that is no code
    known = await app.register(KNOWN, inviteCode="ZZZZ-ZZZZ-ZZZZ")
    unknown = await app.register(UNKNOWN, inviteCode="ZZZZ-ZZZZ-ZZZZ")

    # then both get the same answer at the same cost: the invite is invalid
    assert (
        known
        == unknown
        == {
            "body": {
                "data": {
                    "accountRegister": {
                        "user": None,
                        "errors": [
                            {
                                "code": "INVITE_INVALID",
                                "message": "This invite code is unknown, expired or already used "
                                "up; ask for a new one",
                                "field": "inviteCode",
                            }
                        ],
                    }
                }
            },
            "hashes": 1,
        }
    )


async def test_a_new_organisation_is_answered_alike_for_a_known_and_an_unknown_email(
    app: App, db: Database, register: Any, cluster_id: str
) -> None:
    # Given an account
    owner = await register(KNOWN, cluster_id)
    before = await counts(db)

    # when someone registers its email with a new organisation
    known = await app.register(KNOWN, organisation=organisation_input(cluster_id, name="Other"))
    # then nothing is added
    assert await counts(db) == before
    # and the answer and its cost are those of an email with no account, which makes one
    unknown = await app.register(UNKNOWN, organisation=organisation_input(cluster_id, name="New"))
    assert (
        known
        == unknown
        == {
            "body": {"data": {"accountRegister": {"user": None, "errors": []}}},
            "hashes": 1,
        }
    )
    assert await counts(db) == {"users": before["users"] + 1, "memberships": 2}
    # and only the owner of the existing account is told
    assert await told(db, owner.user_id) == ["Someone asked for a new account with your email"]


async def test_a_valid_invite_is_answered_alike_and_not_used_for_a_known_email(
    app: App, db: Database, register: Any, cluster_id: str
) -> None:
    # Given an account, and an invite of another firm for two people
    owner = await register(KNOWN, cluster_id)
    admin = await register("admin@inviting.example", cluster_id, name="Inviting Firm")
    created = await app.http.post(
        "/graphql",
        json={
            "query": INVITE_CREATE,
            "variables": {"input": {"organisationId": admin.organisation_id, "maxUses": 2}},
        },
        headers={"Authorization": f"Bearer {admin.access_token}"},
    )
    code = created.json()["data"]["organisationInviteCreate"]["invite"]["code"]

    # when someone registers the account's email with it
    known = await app.register(KNOWN, inviteCode=code)

    # then the owner does not join the firm, and the invite is not used
    async with db.read() as session:
        assert await session.scalar(select(OrganisationInvite.uses)) == 0
        memberships = await session.scalars(
            select(Membership.organisation_id).where(Membership.user_id == uuid.UUID(owner.user_id))
        )
        assert [str(m) for m in memberships.all()] == [owner.organisation_id]
    # and the answer and its cost are those of an email with no account, which joins
    unknown = await app.register(UNKNOWN, inviteCode=code)
    assert (
        known
        == unknown
        == {
            "body": {"data": {"accountRegister": {"user": None, "errors": []}}},
            "hashes": 1,
        }
    )
    async with db.read() as session:
        assert await session.scalar(select(OrganisationInvite.uses)) == 1
    assert await told(db, owner.user_id) == ["Someone asked for a new account with your email"]


async def test_the_owner_is_told_once_a_day_however_often_someone_tries(
    app: App, db: Database, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # Given an account whose email someone tries to register three times in one day
    owner = await register(KNOWN, cluster_id)
    answers = [
        await app.register(KNOWN, organisation=organisation_input(cluster_id, name=f"Firm {n}"))
        for n in range(3)
    ]

    # then each attempt is accepted alike, and the owner's inbox holds one notification
    assert [a["body"]["data"]["accountRegister"]["errors"] for a in answers] == [[], [], []]
    assert len(await told(db, owner.user_id)) == 1
