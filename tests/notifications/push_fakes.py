"""Loopback fakes of Firebase Cloud Messaging (HTTP v1 and Google's OAuth2 token endpoint),
APNs (HTTP/2 over TLS, token-based authentication) and Expo's push API with an access token.

Each speaks its provider's documented request and error format and checks what a real one
checks: the OAuth2 assertion's RS256 signature and claims, the APNs provider token's ES256
signature, key id, team and age, the APNs headers, and Expo's access token.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.notifications.push.fcm import JWT_BEARER, SCOPE


@dataclass
class WallClock:
    """Real time, moved ahead by ``offset`` seconds: the senders and the fakes share one, so a
    test can let an hour pass."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True)
class Tls:
    """A certificate authority and the loopback server certificate it signed, as files."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls(folder: Path) -> Tls:
    """A CA and a certificate for 127.0.0.1 with the extensions strict verification wants."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EIC test push CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = Tls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    tls.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    tls.key_file.write_text(pem(server_key))
    return tls


def listening_socket() -> socket.socket:
    """A loopback socket already listening: a client may connect before the server runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@contextlib.asynccontextmanager
async def uvicorn_server(app: Starlette) -> AsyncIterator[str]:
    """``app`` over HTTP/1.1 on loopback; its base URL."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def http2_server(app: Starlette, tls: Tls) -> AsyncIterator[str]:
    """``app`` over HTTP/2 with TLS (ALPN h2) on loopback, as APNs serves; its base URL."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    config = HypercornConfig()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket from here
    config.certfile = str(tls.cert_file)
    config.keyfile = str(tls.key_file)
    config.alpn_protocols = ["h2"]
    config.graceful_timeout = 1
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    task = asyncio.create_task(hypercorn_serve(app, config, shutdown_trigger=stop.wait))
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        stop.set()
        await task


# ---------------------------------------------------------------------------------------------
# Firebase Cloud Messaging HTTP v1, and Google's OAuth2 token endpoint


def fcm_error(status: int, grpc_status: str, message: str, code: str | None = None) -> JSONResponse:
    """An error as FCM HTTP v1 writes it: google.rpc.Status, FcmError in the details."""
    details: list[dict[str, Any]] = []
    if code:
        details.append(
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
        )
    body = {
        "error": {"code": status, "message": message, "status": grpc_status, "details": details}
    }
    return JSONResponse(body, status_code=status)


def bad_request(name: str, message: str) -> JSONResponse:
    """INVALID_ARGUMENT with a google.rpc.BadRequest detail naming the field at fault."""
    response = fcm_error(400, "INVALID_ARGUMENT", message)
    body = json.loads(response.body)
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": name, "description": message}],
        }
    ]
    return JSONResponse(body, status_code=400)


@dataclass
class Fcm:
    """The fake's accounts, behaviours by token, and what it received."""

    project_id: str
    client_email: str
    key_id: str
    public_key: Any
    clock: WallClock
    base_url: str = ""
    issued: dict[str, float] = field(default_factory=dict)  # access token -> expiry
    token_requests: int = 0
    refused_assertions: list[str] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    unregistered: set[str] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)  # not an FCM token at all
    bad_field: set[str] = field(default_factory=set)  # the message has a field FCM refuses
    # INVALID_ARGUMENT naming no field, for the message's size (not the token)
    too_big: set[str] = field(default_factory=set)
    # INVALID_ARGUMENT with a BadRequest violation naming message.token
    token_field: set[str] = field(default_factory=set)
    quota: set[str] = field(default_factory=set)
    # the Retry-After of a token's 429 (seconds or an HTTP date), else 600
    retry_after: dict[str, str] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)
    internal: set[str] = field(default_factory=set)  # taken, then 500

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    async def token(self, request: Request) -> JSONResponse:
        self.token_requests += 1
        form = parse_qs((await request.body()).decode())
        assertion = (form.get("assertion") or [""])[0]
        if (form.get("grant_type") or [""])[0] != JWT_BEARER:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
                # the times are checked below against the fake's clock
                options={
                    "require": ["iss", "aud", "iat", "exp", "scope"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            self.refused_assertions.append(str(exc))
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status_code=400,
            )
        now = self.clock()
        problems = [
            what
            for what, wrong in (
                ("kid", header.get("kid") != self.key_id),
                ("iss", claims["iss"] != self.client_email),
                ("scope", SCOPE not in str(claims["scope"]).split()),
                ("iat", not now - 300 <= claims["iat"] <= now + 300),
                ("exp", not now < claims["exp"] <= claims["iat"] + 3600),
            )
            if wrong
        ]
        if problems:
            self.refused_assertions.append(",".join(problems))
            return JSONResponse(
                {"error": "invalid_grant", "error_description": f"Bad claims: {problems}"},
                status_code=400,
            )
        access = f"ya29.fake-{uuid.uuid4().hex}"
        self.issued[access] = now + 3599
        return JSONResponse({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    async def send(self, request: Request) -> JSONResponse:
        if request.path_params["project"] != self.project_id:
            return fcm_error(403, "PERMISSION_DENIED", "Permission denied on resource project")
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.issued.get(bearer, 0) <= self.clock():
            return fcm_error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
            )
        body = await request.json()
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("token"), str):
            return fcm_error(400, "INVALID_ARGUMENT", "Recipient of the message is not set.")
        data = message.get("data", {})
        if not all(isinstance(value, str) for value in data.values()):
            return fcm_error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'")
        token = message["token"]
        if token in self.unregistered:
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if token in self.invalid:
            return fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        if token in self.bad_field:
            return bad_request("message.android.ttl", "Invalid value at 'message.android.ttl'")
        if token in self.token_field:
            return bad_request("message.token", "Invalid registration token")
        if token in self.too_big:
            return fcm_error(
                400, "INVALID_ARGUMENT", "Android message is too big", "INVALID_ARGUMENT"
            )
        if token in self.quota:
            response = fcm_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Sending limit exceeded for the message target.",
                "QUOTA_EXCEEDED",
            )
            response.headers["Retry-After"] = self.retry_after.get(token, "600")
            return response
        if token in self.unavailable:
            return fcm_error(
                503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"
            )
        self.received.append(message)
        if token in self.internal:
            return fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
        return JSONResponse({"name": f"projects/{self.project_id}/messages/{len(self.received)}"})


@contextlib.asynccontextmanager
async def fcm_server(folder: Path, clock: WallClock) -> AsyncIterator[tuple[Fcm, Path]]:
    """The fake FCM and token endpoint; with the service account key file that points at it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    state = Fcm(
        project_id="eic-test-project",
        client_email="push@eic-test-project.iam.gserviceaccount.com",
        key_id=uuid.uuid4().hex,
        public_key=key.public_key(),
        clock=clock,
    )
    app = Starlette(
        routes=[
            Route("/token", state.token, methods=["POST"]),
            Route("/v1/projects/{project}/messages:send", state.send, methods=["POST"]),
        ]
    )
    async with uvicorn_server(app) as base_url:
        state.base_url = base_url
        key_file = folder / "service-account.json"
        key_file.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": state.project_id,
                    "private_key_id": state.key_id,
                    "private_key": pem(key),
                    "client_email": state.client_email,
                    "client_id": "1234567890",
                    "token_uri": state.token_uri,
                }
            )
        )
        yield state, key_file


# ---------------------------------------------------------------------------------------------
# APNs


@dataclass
class Apns:
    key_id: str
    team_id: str
    topic: str
    public_key: Any
    clock: WallClock
    received: list[dict[str, Any]] = field(default_factory=list)
    http_versions: list[str] = field(default_factory=list)
    provider_tokens: list[str] = field(default_factory=list)  # every distinct one accepted
    # when (the fake's clock) the last new provider token was accepted: Apple refuses a token
    # replaced more often than every 20 minutes (TooManyProviderTokenUpdates)
    token_changed_at: float | None = None
    bad: set[str] = field(default_factory=set)  # BadDeviceToken
    unregistered: set[str] = field(default_factory=set)
    throttled: set[str] = field(default_factory=set)
    unavailable: set[str] = field(default_factory=set)
    internal: set[str] = field(default_factory=set)  # taken, then 500

    def refuse(self, status: int, reason: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"reason": reason, **extra}, status_code=status)

    async def push(self, request: Request) -> Response:
        self.http_versions.append(request.scope.get("http_version", ""))
        # Read first: hypercorn drops the whole connection when DATA arrives for a stream that
        # was answered before its body was read (KeyError in its h2 protocol).
        body = await request.body()
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("bearer "):
            return self.refuse(403, "MissingProviderToken")
        provider_token = authorization.removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(provider_token)
            claims = jwt.decode(
                provider_token,
                self.public_key,
                algorithms=["ES256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.PyJWTError:
            return self.refuse(403, "InvalidProviderToken")
        if header.get("kid") != self.key_id or claims["iss"] != self.team_id:
            return self.refuse(403, "InvalidProviderToken")
        if claims["iat"] < self.clock() - 3600:
            return self.refuse(403, "ExpiredProviderToken")
        if provider_token not in self.provider_tokens:
            now = self.clock()
            if self.token_changed_at is not None and now - self.token_changed_at < 20 * 60:
                return self.refuse(429, "TooManyProviderTokenUpdates")
            self.token_changed_at = now
            self.provider_tokens.append(provider_token)
        headers = request.headers
        if headers.get("apns-topic") != self.topic:
            return self.refuse(400, "TopicDisallowed")
        if headers.get("apns-push-type") not in ("alert", "background"):
            return self.refuse(400, "InvalidPushType")
        if headers.get("apns-priority") not in ("5", "10"):
            return self.refuse(400, "BadPriority")
        if not headers.get("apns-expiration", "").isdigit():
            return self.refuse(400, "BadExpirationDate")
        apns_id = headers.get("apns-id") or str(uuid.uuid4())
        try:
            uuid.UUID(apns_id)
        except ValueError:
            return self.refuse(400, "BadMessageId")
        try:
            payload = json.loads(body)
        except ValueError:
            return self.refuse(400, "PayloadEmpty")
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return self.refuse(400, "PayloadEmpty")
        token = request.path_params["token"]
        if token in self.bad:
            return self.refuse(400, "BadDeviceToken")
        if token in self.unregistered:
            return self.refuse(410, "Unregistered", timestamp=int(self.clock() * 1000))
        if token in self.throttled:
            return self.refuse(429, "TooManyRequests")
        if token in self.unavailable:
            return self.refuse(503, "ServiceUnavailable")
        self.received.append({"token": token, "headers": dict(headers), "payload": payload})
        if token in self.internal:
            return self.refuse(500, "InternalServerError")
        return Response(status_code=200, headers={"apns-id": apns_id})


@contextlib.asynccontextmanager
async def apns_server(folder: Path, clock: WallClock) -> AsyncIterator[tuple[Apns, str, Tls, Path]]:
    """The fake APNs over HTTP/2 and TLS: its state, URL, TLS files and the .p8 key file."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_file = folder / "AuthKey.p8"
    key_file.write_text(pem(key))
    tls = make_tls(folder)
    state = Apns(
        key_id="ABC123DEFG",
        team_id="DEF123GHIJ",
        topic="org.eic.app",
        public_key=key.public_key(),
        clock=clock,
    )
    app = Starlette(routes=[Route("/3/device/{token}", state.push, methods=["POST"])])
    async with http2_server(app, tls) as url:
        yield state, url, tls, key_file


# ---------------------------------------------------------------------------------------------
# Expo with an access token (enhanced push security)


@dataclass
class Expo:
    access_token: str
    received: list[dict[str, Any]] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)
    refused: int = 0
    receipt_requests: list[list[str]] = field(default_factory=list)

    def authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.access_token}"

    def unauthorised(self) -> JSONResponse:
        self.refused += 1
        return JSONResponse(
            {
                "errors": [
                    {
                        "code": "UNAUTHORIZED",
                        "message": "The bearer token is invalid or missing; this project "
                        "requires an access token to send push notifications.",
                    }
                ]
            },
            status_code=401,
        )

    async def send(self, request: Request) -> JSONResponse:
        if not self.authorised(request):
            return self.unauthorised()
        tickets = []
        for message in await request.json():
            self.received.append(message)
            ticket = str(uuid.uuid4())
            self.tickets[ticket] = message["to"]
            tickets.append({"status": "ok", "id": ticket})
        return JSONResponse({"data": tickets})

    async def receipts(self, request: Request) -> JSONResponse:
        if not self.authorised(request):
            return self.unauthorised()
        ids = (await request.json())["ids"]
        self.receipt_requests.append(ids)
        return JSONResponse(
            {"data": {ticket: {"status": "ok"} for ticket in ids if ticket in self.tickets}}
        )


@contextlib.asynccontextmanager
async def expo_server(access_token: str) -> AsyncIterator[tuple[Expo, str]]:
    """The fake Expo push API requiring ``access_token``; its state and send URL."""
    state = Expo(access_token)
    app = Starlette(
        routes=[
            Route("/--/api/v2/push/send", state.send, methods=["POST"]),
            Route("/--/api/v2/push/getReceipts", state.receipts, methods=["POST"]),
        ]
    )
    async with uvicorn_server(app) as base_url:
        yield state, f"{base_url}/--/api/v2/push/send"
