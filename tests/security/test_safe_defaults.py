"""Safe by default: a mistyped variable does not leave the service in development mode, and the
public development signing key never serves beyond this machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend import cli
from backend.settings import (
    DEVELOPMENT_JWT_SECRET,
    Settings,
    SettingsError,
    check_listen_address,
    get_settings,
    unknown_variables,
)


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_unknown_eic_variables_are_named_with_the_setting_they_resemble() -> None:
    environ = {
        "EIC_ENV": "production",
        "EIC_DATABASE_URL": "sqlite+aiosqlite:///./eic.db",
        "EIC_JWT_SECRETS": "x" * 40,
        "EIC_FROBNICATE": "1",
        "EIC_TEST_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "EIC_ADMIN_PASSWORD": "only read by eic create-admin",
        "PATH": "/usr/bin",
    }
    assert unknown_variables(environ) == [
        "EIC_ENV is not a setting of EIC (did you mean EIC_ENVIRONMENT?)",
        "EIC_FROBNICATE is not a setting of EIC",
        "EIC_JWT_SECRETS is not a setting of EIC (did you mean EIC_JWT_SECRET?)",
    ]


def test_the_command_refuses_to_start_with_a_mistyped_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_settings: None
) -> None:
    # given the natural typo of EIC_ENVIRONMENT
    monkeypatch.setenv("EIC_ENV", "production")

    # when any command that reads the settings starts
    code = cli.main(["migrate"])

    # then it stops before touching anything, saying which variable and what was meant
    assert code == 2
    assert capsys.readouterr().err == (
        "eic: EIC_ENV is not a setting of EIC (did you mean EIC_ENVIRONMENT?)\n"
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "eic.example.org"])  # noqa: S104
def test_the_development_secret_never_listens_beyond_this_machine(host: str) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.jwt_secret == DEVELOPMENT_JWT_SECRET
    with pytest.raises(SettingsError, match=f"Refusing to listen on {host} with the development"):
        check_listen_address(host, settings)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_the_development_secret_serves_on_loopback(host: str) -> None:
    check_listen_address(host, Settings(_env_file=None))  # type: ignore[call-arg]


def test_a_real_secret_listens_anywhere() -> None:
    settings = Settings(_env_file=None, jwt_secret="s" * 40)  # type: ignore[call-arg]
    check_listen_address("0.0.0.0", settings)  # noqa: S104
