"""JWT access and refresh tokens (PyJWT), with every claim required and the type checked.

PyJWT accepts a token without ``exp`` unless told to require it, and never looks at a ``typ``
claim; both are enforced here so an access token can never stand in for a refresh token.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from backend.auth.viewer import Role, Viewer
from backend.kit.errors import ErrorCode
from backend.settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "typ"]
CLOCK_SKEW = timedelta(seconds=10)
_SKEW_SECONDS = CLOCK_SKEW.total_seconds()
# Access tokens whose signature and claims were checked, kept so that an app's next requests
# with the same token skip PyJWT (an app sends one token for up to its lifetime). Bounded: at
# this many the oldest goes; only tokens we signed get in, so no client can fill it with junk.
VERIFIED_LIMIT = 4096


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


_ARTICLE = {TokenType.ACCESS: "an", TokenType.REFRESH: "a"}


class TokenError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    jti: uuid.UUID
    user_id: uuid.UUID
    family_id: uuid.UUID


def fingerprint(token: str) -> str:
    """What the database keeps of a refresh token: enough to find it, useless to replay."""
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.access_ttl = timedelta(seconds=settings.access_token_ttl_seconds)
        self.refresh_ttl = timedelta(seconds=settings.refresh_token_ttl_seconds)
        # token -> (its viewer, its nbf, iat and exp claims): see :meth:`read_access`
        self._verified: dict[str, tuple[Viewer, int, int, int]] = {}

    def now(self) -> datetime:
        """The time tokens and their refresh sessions are stamped with: the wall clock.

        PyJWT checks ``exp`` and ``nbf`` against the wall clock when it reads a token, so a token
        stamped from the app clock (which tests move) could be refused as not yet valid or
        expired the moment it is issued.
        """
        return datetime.now(UTC)

    def _encode(
        self,
        claims: dict[str, Any],
        *,
        typ: TokenType,
        now: datetime,
        ttl: timedelta,
        jti: uuid.UUID,
    ) -> IssuedToken:
        expires_at = now + ttl
        payload = {
            **claims,
            "typ": typ.value,
            "jti": str(jti),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "nbf": now,
            "exp": expires_at,
        }
        token = jwt.encode(payload, self._secret, algorithm=ALGORITHM)
        return IssuedToken(token=token, jti=jti, expires_at=expires_at)

    def issue_access(
        self,
        *,
        user_id: uuid.UUID,
        role: Role,
        organisation_id: uuid.UUID | None,
        session_id: uuid.UUID,
        now: datetime,
    ) -> IssuedToken:
        # ``sid`` names the refresh session issued with it, so every request can check that the
        # sign-in still stands (see backend/identity/service/access.py).
        claims: dict[str, Any] = {"sub": str(user_id), "role": role.value, "sid": str(session_id)}
        if organisation_id is not None:
            claims["org"] = str(organisation_id)
        return self._encode(
            claims, typ=TokenType.ACCESS, now=now, ttl=self.access_ttl, jti=uuid.uuid4()
        )

    def issue_refresh(
        self, *, user_id: uuid.UUID, family_id: uuid.UUID, jti: uuid.UUID, now: datetime
    ) -> IssuedToken:
        claims = {"sub": str(user_id), "fam": str(family_id)}
        return self._encode(claims, typ=TokenType.REFRESH, now=now, ttl=self.refresh_ttl, jti=jti)

    def _decode(self, token: str, typ: TokenType) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=CLOCK_SKEW,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError(ErrorCode.TOKEN_EXPIRED, f"The {typ.value} token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(
                ErrorCode.TOKEN_INVALID, f"The {typ.value} token is not valid"
            ) from exc
        if claims.get("typ") != typ.value:
            raise TokenError(ErrorCode.TOKEN_INVALID, f"This is not {_ARTICLE[typ]} {typ} token")
        return claims

    def read_access(self, token: str) -> Viewer:
        """The viewer of a valid access token; :class:`TokenError` otherwise.

        A token read before is not decoded again: the same text with the same key verifies the
        same way, so only the claims that depend on the time (``exp``, and ``nbf`` / ``iat``
        should the wall clock go back) are checked again, as PyJWT checks them. Whether the
        access it carries still stands is not a property of the token: every request asks the
        database (``backend/identity/service/access.py``), cached or not.
        """
        known = self._verified.get(token)
        if known is not None:
            viewer, not_before, issued_at, expires = known
            now = time.time()
            if expires <= now - _SKEW_SECONDS:
                self._verified.pop(token, None)
                raise TokenError(ErrorCode.TOKEN_EXPIRED, "The access token has expired")
            if max(not_before, issued_at) <= now + _SKEW_SECONDS:
                return viewer
        claims = self._decode(token, TokenType.ACCESS)
        if "sid" not in claims:
            # Signed by us before access tokens named their sign-in: the apps refresh an
            # expired token by themselves, and its refresh token is still good.
            raise TokenError(ErrorCode.TOKEN_EXPIRED, "The access token has expired")
        try:
            org = claims.get("org")
            viewer = Viewer(
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims["role"]),
                organisation_id=uuid.UUID(org) if org else None,
                token_id=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
                # Required: a token without it could not be signed out before it expires.
                session_id=uuid.UUID(claims["sid"]),
            )
            # PyJWT has checked that these three are integers
            times = (int(claims["nbf"]), int(claims["iat"]), int(claims["exp"]))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise TokenError(ErrorCode.TOKEN_INVALID, "The access token is not valid") from exc
        if len(self._verified) >= VERIFIED_LIMIT:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (viewer, *times)
        return viewer

    def read_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token, TokenType.REFRESH)
        try:
            return RefreshClaims(
                jti=uuid.UUID(claims["jti"]),
                user_id=uuid.UUID(claims["sub"]),
                family_id=uuid.UUID(claims["fam"]),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise TokenError(ErrorCode.TOKEN_INVALID, "The refresh token is not valid") from exc
