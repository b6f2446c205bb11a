"""Settings: the service refuses to boot in production with a forgeable signing key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from backend.settings import (
    DEVELOPMENT_JWT_SECRET,
    Environment,
    Settings,
    SettingsError,
    get_settings,
    is_secret_setting,
    production_problems,
    validation_problems,
)

SECRET_32_BYTES = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_eic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read EIC_* variables; a developer's shell must not change these tests."""
    for name in list(os.environ):
        if name.startswith("EIC_"):
            monkeypatch.delenv(name)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_refuses_the_development_secret() -> None:
    # given production with the development secret (long enough, but public)
    # when the settings are loaded
    # then they are refused with a message that names the fix
    with pytest.raises(ValidationError, match="EIC_JWT_SECRET is the development secret"):
        settings(environment="production", jwt_secret=DEVELOPMENT_JWT_SECRET)


def test_production_refuses_the_default_secret() -> None:
    # given production where nobody set a secret
    # when the settings are loaded
    # then they are refused: the default is the development secret
    with pytest.raises(ValidationError, match="development secret"):
        settings(environment="production")


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(SECRET_32_BYTES[:-1], id="31-ascii-bytes"),
        pytest.param("é" * 15 + "a", id="16-characters-31-bytes"),
        pytest.param("", id="empty"),
    ],
)
def test_production_refuses_a_secret_shorter_than_32_bytes(secret: str) -> None:
    # given production with a secret under 32 bytes
    # when the settings are loaded
    # then they are refused
    with pytest.raises(ValidationError, match="EIC_JWT_SECRET must be at least 32 bytes"):
        settings(environment="production", jwt_secret=secret)


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(SECRET_32_BYTES, id="32-ascii-bytes"),
        pytest.param("é" * 16, id="16-characters-32-bytes"),
        pytest.param("k" * 64, id="64-bytes"),
    ],
)
def test_production_accepts_a_secret_of_32_bytes_or_more(secret: str) -> None:
    # given production with a secret of at least 32 bytes
    # when the settings are loaded
    loaded = settings(environment="production", jwt_secret=secret)

    # then they boot, as production, without the development conveniences
    assert loaded.environment is Environment.PRODUCTION
    assert loaded.jwt_secret == secret
    assert loaded.is_development is False
    assert loaded.introspection_enabled is False


@pytest.mark.parametrize("environment", ["development", "test"])
def test_outside_production_the_development_secret_is_accepted(environment: str) -> None:
    # given a developer's machine or the test suite with the development secret
    # when the settings are loaded
    loaded = settings(environment=environment, jwt_secret=DEVELOPMENT_JWT_SECRET)

    # then they boot
    assert loaded.environment == environment
    assert loaded.jwt_secret == DEVELOPMENT_JWT_SECRET


def test_the_defaults_are_a_development_setup() -> None:
    # given no configuration at all
    # when the settings are loaded
    loaded = settings()

    # then they describe a developer's machine
    assert loaded.environment is Environment.DEVELOPMENT
    assert loaded.jwt_secret == DEVELOPMENT_JWT_SECRET
    assert loaded.is_development is True
    assert loaded.introspection_enabled is True


def test_settings_are_read_from_eic_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # given the deployment's environment variables
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")
    monkeypatch.setenv("EIC_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("EIC_DATABASE_URL", "postgresql+asyncpg://eic@db:5432/eic")
    monkeypatch.setenv("EIC_GRAPHQL_MAX_DEPTH", "7")
    monkeypatch.setenv("EIC_TRUST_FORWARDED_FOR", "true")
    # and a variable without the prefix, which must not count
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "120")

    # when the settings are loaded
    loaded = settings()

    # then the EIC_ variables are used and the unprefixed one is not
    assert loaded.environment is Environment.PRODUCTION
    assert loaded.jwt_secret == "s" * 40
    assert loaded.database_url == "postgresql+asyncpg://eic@db:5432/eic"
    assert loaded.graphql_max_depth == 7
    assert loaded.trust_forwarded_for is True
    assert loaded.access_token_ttl_seconds == 15 * 60


def test_production_from_the_environment_without_a_secret_refuses_to_boot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a deployment that sets EIC_ENVIRONMENT but forgot EIC_JWT_SECRET
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")

    # when the settings are loaded
    # then they are refused
    with pytest.raises(ValidationError, match="development secret"):
        settings()


def test_a_short_secret_from_the_environment_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given production with a short secret from the environment
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")
    monkeypatch.setenv("EIC_JWT_SECRET", "too-short")

    # when the settings are loaded
    # then they are refused
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        settings()


def test_the_receipts_address_follows_expos_naming_unless_set() -> None:
    # Given the push URL of Expo, of a provider named otherwise, and an explicit receipts URL,
    # then the receipts are read where Expo has them, nowhere, or where told
    expo = "https://exp.host/--/api/v2/push/send"
    assert Settings(_env_file=None, push_url=expo).receipts_url == (
        "https://exp.host/--/api/v2/push/getReceipts"
    )
    other = Settings(_env_file=None, push_url="https://push.example/v1/messages")
    assert other.receipts_url is None
    told = Settings(
        _env_file=None, push_url=expo, push_receipts_url="https://push.example/receipts"
    )
    assert told.receipts_url == "https://push.example/receipts"
    assert Settings(_env_file=None).receipts_url is None


def test_the_push_timeout_outwaits_a_slow_provider_within_the_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no setting, the push worker waits 30 s for an answer (it waited 10 s)
    assert settings().push_timeout_seconds == 30
    # and EIC_PUSH_TIMEOUT_SECONDS changes it, up to half the 2-minute lease of a send
    monkeypatch.setenv("EIC_PUSH_TIMEOUT_SECONDS", "45")
    assert settings().push_timeout_seconds == 45
    with pytest.raises(ValidationError, match="less than or equal to 60"):
        settings(push_timeout_seconds=61)


# Production's start-up checks (issue 21): every start of the service or of an `eic` command
# (get_settings) refuses a production deployment on SQLite by mistake or without a public
# address, every problem on a line of its own, all at once.

POSTGRES_URL = "postgresql+asyncpg://eic:pw@db.internal:5432/eic"


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def refused_lines() -> list[str]:
    with pytest.raises(SettingsError) as refused:
        get_settings()
    return str(refused.value).splitlines()


def test_production_with_nothing_set_names_every_problem_at_once(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    # given production where the operator set nothing else (the quiet ./eic.db of the issue)
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")

    # when the service starts, then it refuses with one line per problem, each saying what to set
    assert refused_lines() == [
        "EIC_JWT_SECRET is the development secret; set a random secret of at least 32 bytes "
        "before running in production",
        "EIC_DATABASE_URL is SQLite (sqlite+aiosqlite:///./eic.db, the default) in production: "
        "set EIC_DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE, or "
        "EIC_ALLOW_SQLITE_IN_PRODUCTION=true for a one-server pilot",
        "EIC_PUBLIC_URL is not set: set it to the address apps and calendar programs reach this "
        "service at (such as https://eic.example.org); calendar feeds and report links are made "
        "from it",
    ]


def test_production_refuses_an_explicit_sqlite_url_and_a_malformed_public_url(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    # given production with a good secret, an SQLite file and a public URL with no host
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")
    monkeypatch.setenv("EIC_JWT_SECRET", SECRET_32_BYTES)
    monkeypatch.setenv("EIC_DATABASE_URL", "sqlite+aiosqlite:////srv/eic/eic.db")
    monkeypatch.setenv("EIC_PUBLIC_URL", "eic.example.org")

    # then both are refused, the URL as it was given
    assert refused_lines() == [
        "EIC_DATABASE_URL is SQLite (sqlite+aiosqlite:////srv/eic/eic.db) in production: set "
        "EIC_DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE, or "
        "EIC_ALLOW_SQLITE_IN_PRODUCTION=true for a one-server pilot",
        "EIC_PUBLIC_URL=eic.example.org is not an address such as https://eic.example.org "
        "(http or https, a host, no query)",
    ]


@pytest.mark.parametrize(
    "public_url",
    ["ftp://eic.example.org", "https://", "https://eic.example.org/?x=1", "/graphql"],
)
def test_production_refuses_public_urls_that_make_no_links(
    public_url: str, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")
    monkeypatch.setenv("EIC_JWT_SECRET", SECRET_32_BYTES)
    monkeypatch.setenv("EIC_DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("EIC_PUBLIC_URL", public_url)
    assert refused_lines() == [
        f"EIC_PUBLIC_URL={public_url} is not an address such as https://eic.example.org "
        "(http or https, a host, no query)"
    ]


def test_a_one_server_pilot_may_run_production_on_sqlite_when_it_says_so(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    # given production on SQLite, explicitly allowed, with its public address
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")
    monkeypatch.setenv("EIC_JWT_SECRET", SECRET_32_BYTES)
    monkeypatch.setenv("EIC_ALLOW_SQLITE_IN_PRODUCTION", "true")
    monkeypatch.setenv("EIC_PUBLIC_URL", "https://eic.example.org")

    # when the service starts, then it runs on the default file
    loaded = get_settings()
    assert loaded.is_sqlite
    assert loaded.allow_sqlite_in_production
    assert production_problems(loaded) == []


def test_production_on_postgresql_with_its_public_url_starts(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("EIC_ENVIRONMENT", "production")
    monkeypatch.setenv("EIC_JWT_SECRET", SECRET_32_BYTES)
    monkeypatch.setenv("EIC_DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("EIC_PUBLIC_URL", "https://eic.example.org")
    assert get_settings().public_url == "https://eic.example.org"


def test_development_needs_neither_postgresql_nor_a_public_url(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    # given a developer's machine (make run) and the test suite: SQLite, no public URL
    for environment in ("development", "test"):
        monkeypatch.setenv("EIC_ENVIRONMENT", environment)
        get_settings.cache_clear()
        # then they start
        assert get_settings().is_sqlite


def test_production_settings_built_in_code_still_refuse_only_the_key() -> None:
    # given production settings built directly (the tests' production apps over SQLite)
    built = settings(environment="production", jwt_secret=SECRET_32_BYTES)
    # then they build: the deployment checks belong to the start of the service
    assert built.is_sqlite
    assert len(production_problems(built)) == 2
    # and with a weak key the refusal names the deployment's other problems too
    with pytest.raises(ValidationError) as refused:
        settings(environment="production", jwt_secret="short")
    assert [line.split(":")[0] for line in validation_problems(refused.value)] == [
        "EIC_JWT_SECRET must be at least 32 bytes in production",
        "EIC_DATABASE_URL is SQLite (sqlite+aiosqlite",
        "EIC_PUBLIC_URL is not set",
    ]


def test_unknown_variables_and_invalid_values_are_refused_together(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    # given a typo and a value out of range
    monkeypatch.setenv("EIC_GRAPHQL_MAX_DEPT", "7")
    monkeypatch.setenv("EIC_GRAPHQL_MAX_DEPTH", "1")
    # then both are named at once, the value as given
    assert refused_lines() == [
        "EIC_GRAPHQL_MAX_DEPT is not a setting of EIC (did you mean EIC_GRAPHQL_MAX_DEPTH?)",
        "EIC_GRAPHQL_MAX_DEPTH: Input should be greater than or equal to 2 (got '1')",
    ]


def test_secrets_are_known_by_name_so_that_later_ones_are_masked_too() -> None:
    # eic check prints every setting but these (and never their values in a refusal)
    assert is_secret_setting("jwt_secret")
    assert is_secret_setting("push_expo_access_token")
    assert is_secret_setting("smtp_password")  # a setting added later, masked by its name
    assert not is_secret_setting("push_apns_key_file")
    assert not is_secret_setting("push_apns_key_id")
