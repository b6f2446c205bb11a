"""Tokens: what an access or refresh token must carry to be accepted, and what gets it refused.

Forged tokens are encoded here with PyJWT and the app's own secret, so each test changes exactly
one thing about an otherwise valid token.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest

from backend.auth.tokens import RefreshClaims, TokenError, Tokens
from backend.auth.viewer import Role, Viewer
from backend.kit.db import utcnow
from backend.kit.errors import ErrorCode
from backend.settings import Settings
from tests.conftest import TEST_JWT_SECRET, make_settings

USER_ID = uuid.UUID("0190f3c4-8d2a-7b1e-9c3d-4e5f60718293")
ORGANISATION_ID = uuid.UUID("0190f3c4-8d2a-7b1e-9c3d-4e5f60718294")
SESSION_ID = uuid.UUID("0190f3c4-8d2a-7b1e-9c3d-4e5f60718295")
FAMILY_ID = uuid.UUID("0190f3c4-8d2a-7b1e-9c3d-4e5f60718295")


@pytest.fixture
def token_settings() -> Settings:
    # Tokens never touch the database; the URL only has to be well formed.
    return make_settings("sqlite+aiosqlite:///unused.db")


@pytest.fixture
def tokens(token_settings: Settings) -> Tokens:
    return Tokens(token_settings)


def access_claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    """The claims of a valid access token, as the app would issue it now."""
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(USER_ID),
        "role": Role.FIRM.value,
        "org": str(ORGANISATION_ID),
        "sid": str(SESSION_ID),
        "typ": "access",
        "jti": str(uuid.uuid4()),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=15),
    }
    claims.update(changes)
    return claims


def refresh_claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    claims = access_claims(settings, typ="refresh", fam=str(FAMILY_ID))
    del claims["role"], claims["org"]
    claims.update(changes)
    return claims


def signed(claims: dict[str, Any], algorithm: str = "HS256") -> str:
    return jwt.encode(claims, TEST_JWT_SECRET, algorithm=algorithm)


def refused(read: Any, token: str) -> TokenError:
    with pytest.raises(TokenError) as caught:
        read(token)
    return caught.value


def test_access_token_round_trip(tokens: Tokens) -> None:
    # given an access token issued for a firm member
    issued = tokens.issue_access(
        user_id=USER_ID,
        role=Role.FIRM,
        organisation_id=ORGANISATION_ID,
        session_id=SESSION_ID,
        now=utcnow(),
    )

    # when it is read back
    viewer = tokens.read_access(issued.token)

    # then it names the same person, role, organisation, token id and expiry (to the second)
    assert viewer == Viewer(
        user_id=USER_ID,
        role=Role.FIRM,
        organisation_id=ORGANISATION_ID,
        token_id=str(issued.jti),
        expires_at=issued.expires_at.replace(microsecond=0),
        session_id=SESSION_ID,
    )


def test_access_token_lives_for_the_configured_ttl(tokens: Tokens) -> None:
    # given a fixed issue time
    now = utcnow().replace(microsecond=0)

    # when an access token is issued
    issued = tokens.issue_access(
        user_id=USER_ID, role=Role.ADMIN, organisation_id=None, session_id=SESSION_ID, now=now
    )

    # then it expires 15 minutes later, and an admin token carries no organisation
    assert issued.expires_at == now + timedelta(minutes=15)
    assert tokens.read_access(issued.token).organisation_id is None


def test_refresh_token_round_trip(tokens: Tokens) -> None:
    # given a refresh token of a known family
    jti = uuid.uuid4()
    issued = tokens.issue_refresh(user_id=USER_ID, family_id=FAMILY_ID, jti=jti, now=utcnow())

    # when it is read back
    claims = tokens.read_refresh(issued.token)

    # then the family and the token id survive
    assert claims == RefreshClaims(jti=jti, user_id=USER_ID, family_id=FAMILY_ID)
    assert issued.jti == jti


def test_hand_made_token_with_every_claim_is_accepted(
    tokens: Tokens, token_settings: Settings
) -> None:
    # given a token built here exactly as the app builds one (the baseline the forgeries change)
    token = signed(access_claims(token_settings))

    # when it is read
    viewer = tokens.read_access(token)

    # then it is accepted
    assert (viewer.user_id, viewer.role, viewer.organisation_id) == (
        USER_ID,
        Role.FIRM,
        ORGANISATION_ID,
    )


def test_unsigned_alg_none_token_is_refused(tokens: Tokens, token_settings: Settings) -> None:
    # given a token with every claim but `alg: none` and no signature
    token = jwt.encode(access_claims(token_settings), None, algorithm="none")

    # when it is read, then it is refused as invalid
    error = refused(tokens.read_access, token)
    assert (error.code, error.message) == (ErrorCode.TOKEN_INVALID, "The access token is not valid")


def test_tampered_payload_is_refused(tokens: Tokens) -> None:
    # given a genuine firm token whose payload is rewritten to claim ADMIN, signature kept
    issued = tokens.issue_access(
        user_id=USER_ID,
        role=Role.FIRM,
        organisation_id=ORGANISATION_ID,
        session_id=SESSION_ID,
        now=utcnow(),
    )
    header, payload, signature = issued.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = Role.ADMIN.value
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"

    # when it is read, then the signature check refuses it
    error = refused(tokens.read_access, forged)
    assert (error.code, error.message) == (ErrorCode.TOKEN_INVALID, "The access token is not valid")


def test_expired_access_token_is_refused_as_expired(tokens: Tokens) -> None:
    # given an access token issued long enough ago to be past its life and the clock skew
    issued = tokens.issue_access(
        user_id=USER_ID,
        role=Role.FIRM,
        organisation_id=ORGANISATION_ID,
        session_id=SESSION_ID,
        now=utcnow() - tokens.access_ttl - timedelta(minutes=1),
    )

    # when it is read, then it is refused as expired (the app then asks for a refresh)
    error = refused(tokens.read_access, issued.token)
    assert (error.code, error.message) == (
        ErrorCode.TOKEN_EXPIRED,
        "The access token has expired",
    )


def test_expired_refresh_token_is_refused_as_expired(tokens: Tokens) -> None:
    # given a refresh token issued longer ago than its life
    issued = tokens.issue_refresh(
        user_id=USER_ID,
        family_id=FAMILY_ID,
        jti=uuid.uuid4(),
        now=utcnow() - tokens.refresh_ttl - timedelta(minutes=1),
    )

    # when it is read, then it is refused as expired
    error = refused(tokens.read_refresh, issued.token)
    assert (error.code, error.message) == (
        ErrorCode.TOKEN_EXPIRED,
        "The refresh token has expired",
    )


def test_token_not_yet_valid_is_refused(tokens: Tokens, token_settings: Settings) -> None:
    # given a token whose nbf and iat lie well beyond the allowed clock skew
    later = utcnow() + timedelta(minutes=5)
    token = signed(access_claims(token_settings, nbf=later, iat=later))

    # when it is read, then it is refused
    assert refused(tokens.read_access, token).code is ErrorCode.TOKEN_INVALID


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "someone-elses-app"), ("iss", "someone-else")],
    ids=["wrong-audience", "wrong-issuer"],
)
def test_token_for_another_audience_or_from_another_issuer_is_refused(
    tokens: Tokens, token_settings: Settings, claim: str, value: str
) -> None:
    # given a token signed with our secret but meant for another audience or from another issuer
    token = signed(access_claims(token_settings, **{claim: value}))

    # when it is read, then it is refused
    error = refused(tokens.read_access, token)
    assert (error.code, error.message) == (ErrorCode.TOKEN_INVALID, "The access token is not valid")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "typ"])
def test_access_token_missing_a_required_claim_is_refused(
    tokens: Tokens, token_settings: Settings, claim: str
) -> None:
    # given an otherwise valid access token without one required claim
    claims = access_claims(token_settings)
    del claims[claim]
    token = signed(claims)

    # when it is read, then it is refused as invalid
    assert refused(tokens.read_access, token).code is ErrorCode.TOKEN_INVALID


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "typ"])
def test_refresh_token_missing_a_required_claim_is_refused(
    tokens: Tokens, token_settings: Settings, claim: str
) -> None:
    # given an otherwise valid refresh token without one required claim
    claims = refresh_claims(token_settings)
    del claims[claim]
    token = signed(claims)

    # when it is read, then it is refused as invalid
    assert refused(tokens.read_refresh, token).code is ErrorCode.TOKEN_INVALID


@pytest.mark.parametrize(
    ("claims_of", "read", "claim"),
    [
        (access_claims, "read_access", "role"),
        (refresh_claims, "read_refresh", "fam"),
    ],
    ids=["access-without-role", "refresh-without-family"],
)
def test_token_missing_an_app_claim_is_refused(
    tokens: Tokens, token_settings: Settings, claims_of: Any, read: str, claim: str
) -> None:
    # given a validly signed token without the claim the app needs to act on it
    claims = claims_of(token_settings)
    del claims[claim]

    # when it is read, then it is refused as invalid rather than crashing
    assert refused(getattr(tokens, read), signed(claims)).code is ErrorCode.TOKEN_INVALID


def test_an_access_token_from_before_sign_in_checks_counts_as_expired(
    tokens: Tokens, token_settings: Settings
) -> None:
    # given a genuine access token issued before access tokens named their sign-in
    claims = access_claims(token_settings)
    del claims["sid"]

    # when it is read, then the app is told to refresh it (its refresh token still works)
    assert refused(tokens.read_access, signed(claims)).code is ErrorCode.TOKEN_EXPIRED


def test_access_token_given_to_read_refresh_is_refused(tokens: Tokens) -> None:
    # given a genuine access token
    issued = tokens.issue_access(
        user_id=USER_ID,
        role=Role.FIRM,
        organisation_id=ORGANISATION_ID,
        session_id=SESSION_ID,
        now=utcnow(),
    )

    # when it is presented as a refresh token, then it is refused by its type
    error = refused(tokens.read_refresh, issued.token)
    assert (error.code, error.message) == (ErrorCode.TOKEN_INVALID, "This is not a refresh token")


def test_refresh_token_given_to_read_access_is_refused(tokens: Tokens) -> None:
    # given a genuine refresh token
    issued = tokens.issue_refresh(
        user_id=USER_ID, family_id=FAMILY_ID, jti=uuid.uuid4(), now=utcnow()
    )

    # when it is presented as an access token, then it is refused by its type
    assert refused(tokens.read_access, issued.token).code is ErrorCode.TOKEN_INVALID


def test_token_carrying_both_kinds_of_claims_is_told_apart_by_its_type(
    tokens: Tokens, token_settings: Settings
) -> None:
    # given tokens that carry every claim either reader needs and differ only in `typ`
    everything = {**access_claims(token_settings), "fam": str(FAMILY_ID)}
    access = signed({**everything, "typ": "access"})
    refresh = signed({**everything, "typ": "refresh"})

    # when each is read by the other reader, then only the type check can refuse it, and does
    assert refused(tokens.read_access, refresh).code is ErrorCode.TOKEN_INVALID
    error = refused(tokens.read_refresh, access)
    assert (error.code, error.message) == (ErrorCode.TOKEN_INVALID, "This is not a refresh token")
    # and each is accepted by its own reader, so the refusals above are about `typ` alone
    assert tokens.read_access(access).role is Role.FIRM
    assert tokens.read_refresh(refresh).family_id == FAMILY_ID


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_token_signed_with_another_algorithm_is_refused(
    tokens: Tokens, token_settings: Settings, algorithm: str
) -> None:
    # given a token with valid claims, signed with our secret but another HMAC algorithm
    token = signed(access_claims(token_settings), algorithm=algorithm)

    # when it is read, then the pinned algorithm list refuses it
    error = refused(tokens.read_access, token)
    assert (error.code, error.message) == (ErrorCode.TOKEN_INVALID, "The access token is not valid")


def test_token_signed_with_another_secret_is_refused(
    tokens: Tokens, token_settings: Settings
) -> None:
    # given a token with valid claims signed with some other secret
    token = jwt.encode(access_claims(token_settings), "another-secret-" * 4, algorithm="HS256")

    # when it is read, then it is refused
    assert refused(tokens.read_access, token).code is ErrorCode.TOKEN_INVALID


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "Bearer x.y.z"])
def test_garbage_is_refused(tokens: Tokens, garbage: str) -> None:
    # when something that is not a JWT is read, then it is refused as invalid
    assert refused(tokens.read_access, garbage).code is ErrorCode.TOKEN_INVALID


def test_an_access_token_read_again_is_not_decoded_again(
    tokens: Tokens, token_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an access token read once
    token = signed(access_claims(token_settings))
    first = tokens.read_access(token)

    # when it is read again while PyJWT would fail on anything
    def broken(*_: Any, **__: Any) -> Any:
        raise AssertionError("decoded again")

    monkeypatch.setattr(jwt, "decode", broken)
    again = tokens.read_access(token)

    # then the same viewer comes back without a second decode
    assert again == first


def test_an_access_token_read_before_is_refused_once_it_has_expired(
    tokens: Tokens, token_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an access token read once, valid for 15 minutes
    token = signed(access_claims(token_settings))
    tokens.read_access(token)

    # when it is read again 16 minutes later (the clock skew allowed is 10 seconds)
    later = time.time() + 16 * 60
    monkeypatch.setattr(time, "time", lambda: later)

    # then it is refused as expired, as a first reading would refuse it
    assert refused(tokens.read_access, token).code is ErrorCode.TOKEN_EXPIRED


def test_a_changed_copy_of_an_access_token_read_before_is_refused(
    tokens: Tokens, token_settings: Settings
) -> None:
    # given an access token read once
    token = signed(access_claims(token_settings))
    tokens.read_access(token)

    # when a copy with another payload but the same signature is presented
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed = base64.urlsafe_b64encode(json.dumps({**claims, "role": "ADMIN"}).encode())
    forged = f"{header}.{changed.rstrip(b'=').decode()}.{signature}"

    # then it is refused: only the exact text read before skips verification
    assert refused(tokens.read_access, forged).code is ErrorCode.TOKEN_INVALID
