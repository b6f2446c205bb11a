"""deviceRegister with a provider: given or told from the token's shape, checked against it, and
refused with PUSH_PROVIDER_DISABLED when the server has no credentials for that provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from backend.app import create_app
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import GraphQL, make_settings, seed_people
from tests.notifications.push_fakes import make_tls, pem

REGISTER = """
mutation Register($input: DeviceRegisterInput!) {
  deviceRegister(input: $input) { device { platform provider } errors { code field } }
}
"""
EXPO = "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]"
FCM = "cZ1k3y8fTQe:APA91bH" + "a" * 140
APNS = "ab" * 32


async def register(
    gql: GraphQL, token: str, push_token: str, platform: str, provider: str | None = None
) -> dict[str, Any]:
    answer = {"token": push_token, "platform": platform, "provider": provider}
    body = await gql(REGISTER, {"input": answer}, token=token)
    payload: dict[str, Any] = body["data"]["deviceRegister"]
    return payload


@pytest.fixture
async def all_providers(
    tmp_path: Path, database_url: str, db: Database, clock: ManualClock
) -> AsyncIterator[GraphQL]:
    """The app of a server with credentials for FCM and APNs (the files exist; nothing is
    sent here)."""
    account = tmp_path / "service-account.json"
    account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "eic-test-project",
                "private_key_id": "k1",
                "private_key": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                "client_email": "push@eic-test-project.iam.gserviceaccount.com",
                "token_uri": "https://127.0.0.1:1/token",
            }
        )
    )
    p8 = tmp_path / "AuthKey.p8"
    p8.write_text(pem(ec.generate_private_key(ec.SECP256R1())))
    settings = make_settings(
        database_url,
        push_fcm_credentials_file=str(account),
        push_apns_key_file=str(p8),
        push_apns_key_id="ABC123DEFG",
        push_apns_team_id="DEF123GHIJ",
        push_apns_topic="org.eic.app",
        push_apns_ca_file=str(make_tls(tmp_path).ca_file),
    )
    app = create_app(settings, db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield GraphQL(http)


async def test_the_provider_is_told_from_the_token_or_checked_against_it(
    all_providers: GraphQL, db: Database, settings: Any, cluster_id: str
) -> None:
    (person,) = await seed_people(db, settings, cluster_id, 1)
    gql = all_providers
    ok = []
    for push_token, platform in ((EXPO, "ANDROID"), (FCM, "ANDROID"), (APNS, "IOS")):
        ok.append(await register(gql, person.token, push_token, platform))
    assert ok == [
        {"device": {"platform": "ANDROID", "provider": "EXPO"}, "errors": []},
        {"device": {"platform": "ANDROID", "provider": "FCM"}, "errors": []},
        {"device": {"platform": "IOS", "provider": "APNS"}, "errors": []},
    ]
    # an FCM token on an iPhone, said so
    fcm_ios = await register(gql, person.token, FCM.replace("cZ", "dZ"), "IOS", "FCM")
    assert fcm_ios == {"device": {"platform": "IOS", "provider": "FCM"}, "errors": []}
    refused = [
        await register(gql, person.token, APNS, "IOS", "FCM"),  # not the shape of FCM's
        await register(gql, person.token, EXPO, "IOS", "APNS"),
        await register(gql, person.token, "cd" * 32, "ANDROID"),  # APNs is for iPhones
        await register(gql, person.token, "not-any-token", "ANDROID"),
    ]
    assert refused == [
        {"device": None, "errors": [{"code": "VALIDATION", "field": "token"}]},
        {"device": None, "errors": [{"code": "VALIDATION", "field": "token"}]},
        {"device": None, "errors": [{"code": "VALIDATION", "field": "platform"}]},
        {"device": None, "errors": [{"code": "VALIDATION", "field": "token"}]},
    ]


async def test_a_provider_without_credentials_is_refused_with_a_typed_error(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str
) -> None:
    # Given the test server, with no FCM or APNs credentials
    (person,) = await seed_people(db, settings, cluster_id, 1)
    answers = [
        await register(gql, person.token, FCM, "ANDROID"),
        await register(gql, person.token, APNS, "IOS", "APNS"),
        await register(gql, person.token, EXPO, "IOS"),
    ]
    assert answers == [
        {"device": None, "errors": [{"code": "PUSH_PROVIDER_DISABLED", "field": "provider"}]},
        {"device": None, "errors": [{"code": "PUSH_PROVIDER_DISABLED", "field": "provider"}]},
        # Expo needs no credentials of the server
        {"device": {"platform": "IOS", "provider": "EXPO"}, "errors": []},
    ]


async def test_a_malformed_key_file_stops_the_start_with_its_reason(
    tmp_path: Path, database_url: str, db: Database, clock: ManualClock
) -> None:
    # Given a server told to use FCM with a file that is no service account key
    wrong = tmp_path / "not-a-key.json"
    wrong.write_text(json.dumps({"type": "authorized_user", "client_id": "x"}))
    settings = make_settings(database_url, push_fcm_credentials_file=str(wrong))
    # then it does not start, and says why
    with pytest.raises(ValueError, match="is not a Google service account key file"):
        create_app(settings, db=db, clock=clock)


def service_account(folder: Path, **changes: str) -> str:
    """A service account key file (a real RSA key, https token_uri) with ``changes``."""
    key = {
        "type": "service_account",
        "project_id": "eic-test-project",
        "private_key_id": "k1",
        "private_key": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "client_email": "push@eic-test-project.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
        **changes,
    }
    path = folder / "service-account.json"
    path.write_text(json.dumps(key))
    return str(path)


def apns_settings(folder: Path, key: bytes) -> dict[str, str]:
    p8 = folder / "AuthKey.p8"
    p8.write_bytes(key)
    return {
        "push_apns_key_file": str(p8),
        "push_apns_key_id": "ABC123DEFG",
        "push_apns_team_id": "DEF123GHIJ",
        "push_apns_topic": "org.eic.app",
    }


NOT_A_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
)


def broken_push_settings(case: str, folder: Path) -> dict[str, str]:
    """The push settings of each case: key files that parse but cannot sign what their
    provider needs, or a token_uri that would carry the signed assertion in clear."""
    if case.startswith("fcm"):
        changes = {
            "fcm key no key": {"private_key": NOT_A_PEM},
            "fcm key of apns": {"private_key": pem(ec.generate_private_key(ec.SECP256R1()))},
            "fcm token_uri over http": {"token_uri": "http://oauth2.googleapis.com/token"},
        }[case]
        return {"push_fcm_credentials_file": service_account(folder, **changes)}
    key = {
        "apns key of fcm": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "apns key on another curve": pem(ec.generate_private_key(ec.SECP384R1())),
    }
    return apns_settings(folder, key[case].encode() if case in key else b"\x30\x82\x01\xff\xfe")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("fcm key no key", "its private_key cannot sign \\(RS256\\)"),
        ("fcm key of apns", "its private_key cannot sign \\(RS256\\)"),
        ("fcm token_uri over http", "token_uri must be an https URL"),
        ("apns key of fcm", "is not an APNs signing key \\(.p8, ES256\\)"),
        ("apns key binary", "is not an APNs signing key \\(.p8, ES256\\)"),
        ("apns key on another curve", "is not an APNs signing key \\(.p8, ES256\\)"),
    ],
)
async def test_a_key_that_cannot_sign_or_an_unsafe_token_uri_stops_the_start(
    tmp_path: Path, database_url: str, db: Database, clock: ManualClock, case: str, reason: str
) -> None:
    settings = make_settings(database_url, **broken_push_settings(case, tmp_path))
    # then the server does not start, and says why (not every push at its first send)
    with pytest.raises(ValueError, match=reason):
        create_app(settings, db=db, clock=clock)


async def test_a_token_uri_over_http_is_accepted_on_loopback_only(
    tmp_path: Path, database_url: str, db: Database, clock: ManualClock
) -> None:
    # the tests' fake token endpoints listen on loopback without TLS
    for uri in ("http://127.0.0.1:8080/token", "http://[::1]:8080/token", "http://localhost/t"):
        settings = make_settings(
            database_url, push_fcm_credentials_file=service_account(tmp_path, token_uri=uri)
        )
        create_app(settings, db=db, clock=clock)
    for uri in ("http://10.0.0.1/token", "ftp://127.0.0.1/token", "oauth2.googleapis.com/token"):
        settings = make_settings(
            database_url, push_fcm_credentials_file=service_account(tmp_path, token_uri=uri)
        )
        with pytest.raises(ValueError, match="token_uri must be an https URL"):
            create_app(settings, db=db, clock=clock)
