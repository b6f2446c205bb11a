"""Typed settings read from the environment (prefix ``EIC_``).

The service refuses to boot in production with the development signing key or a short key, so a
forgotten environment variable can never put forgeable tokens on the internet. Every start of the
service or of an ``eic`` command (``get_settings``) also refuses a production deployment that
would run on SQLite by mistake or hand out links without a public address (``production_problems``),
with one line per problem, all of them at once.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Public on purpose: it only ever signs tokens on a developer's machine.
DEVELOPMENT_JWT_SECRET = "eic-development-secret-do-not-use-in-production"  # noqa: S105
MIN_JWT_SECRET_BYTES = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EIC_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./eic.db"
    database_echo: bool = False
    redis_url: str | None = None
    # How long a Redis command of the sign-in throttle and the rate limits may take: a hung or
    # unreachable Redis then fails over (throttle in memory, rate limits open) instead of
    # hanging every request. Live posts' pub/sub keeps its own, blocking connection.
    redis_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    # How long to wait for the database before a request fails instead of hanging (a stopped or
    # unreachable server): a new connection; a statement (PostgreSQL's statement_timeout, and the
    # client stops waiting one second later); a free connection of the pool.
    db_connect_timeout_seconds: float = Field(default=5, gt=0)
    db_statement_timeout_seconds: float = Field(default=10, gt=0)
    db_pool_timeout_seconds: float = Field(default=5, gt=0)
    # /readyz answers 503 when the database (or Redis) has not answered within this time.
    ready_timeout_seconds: float = Field(default=2, gt=0)

    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_issuer: str = "eic"
    jwt_audience: str = "eic-apps"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=60, le=60 * 60)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)

    # argon2id cost. The defaults are the library's RFC 9106 "low memory" profile; tests lower the
    # memory cost only to keep the suite fast, never below what still exercises argon2id.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # Sign-in throttling (docs/security.md): failures are counted per (account, address) pair,
    # so an attacker's guesses slow down the attacker's address only. After the free failures
    # each further attempt from the pair waits twice as long as the last, up to the maximum.
    login_free_failures_per_pair: int = Field(default=3, ge=1)
    login_backoff_base_seconds: int = Field(default=30, ge=1)
    login_backoff_max_seconds: int = Field(default=3600, ge=1)
    # How long a pair's failures are remembered from its first one (a success forgets them).
    login_pair_window_seconds: int = Field(default=24 * 3600, ge=1)
    # Loose ceilings within the window, against sprays over many addresses (per account) and
    # over many accounts (per address). Neither stops a pair that has signed in successfully
    # before and has not failed since: the owner at their usual address gets in.
    login_failures_per_account: int = Field(default=100, ge=1)
    login_failures_per_address: int = Field(default=1000, ge=1)
    login_throttle_window_seconds: int = Field(default=3600, ge=1)
    # How long a successful sign-in from an address makes that (account, address) pair known.
    login_known_pair_seconds: int = Field(default=90 * 24 * 3600, ge=1)

    # Rate limits (docs/security.md), in the `limits` package's notation ("10/hour",
    # "60/minute;1000/day"); an empty value turns that limit off. Counted in Redis when
    # EIC_REDIS_URL is set (shared by every instance), else in each process's memory.
    rate_limit_registrations_per_address: str = "10/hour;50/day"
    # The expensive reads (searches and directories): per address for anonymous requests ...
    rate_limit_reads_per_address: str = "60/minute"
    # ... and per account for signed-in ones, wherever they come from.
    rate_limit_reads_per_account: str = "300/minute"
    # The personal data export (myDataExport) reads every domain's rows of the person, up to
    # thousands per section: per account, wherever the requests come from.
    rate_limit_exports_per_account: str = "10/hour;30/day"
    # Trust X-Forwarded-For only behind a proxy that sets it; otherwise clients could spoof it.
    trust_forwarded_for: bool = False
    # How many proxies in front of the service append to X-Forwarded-For: the client is the
    # address the outermost of them appended (the n-th from the right). What a client wrote
    # there itself stands further left and is never taken.
    forwarded_for_proxies: int = Field(default=1, ge=1, le=10)

    # GraphQL limits (see backend/graphql/extensions.py).
    graphql_max_depth: int = Field(default=12, ge=2)
    graphql_max_aliases: int = Field(default=30, ge=0)
    graphql_max_tokens: int = Field(default=4000, ge=100)
    graphql_max_directives: int = Field(default=30, ge=0)
    graphql_max_operations: int = Field(default=20, ge=1)
    # The most an operation may cost (backend/graphql/cost.py: the objects its answer may hold),
    # without and with a valid access token. The apps' largest operations: anonymous, a page of
    # 100 matches of a listing costs 1,702; signed in, a sync page of 100 changes (the SDK's) 4,901.
    graphql_max_cost_anonymous: int = Field(default=2000, ge=1)
    graphql_max_cost_signed_in: int = Field(default=10000, ge=1)
    # None means "development only"; set explicitly to override.
    graphql_introspection: bool | None = None

    # Listing search counts its matches up to this many (docs/performance.md, "Search over many
    # listings"); above it `totalCount` is the cap and `totalCountIsAtLeast` is true.
    search_count_cap: int = Field(default=1000, ge=1)

    # The largest request body accepted (413 above it); GraphQL documents and variables only.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Where push messages go, in the Expo push API's format (https://exp.host/--/api/v2/push/send
    # for Expo); unset: messages wait in the outbox and nothing is sent.
    push_url: str | None = None
    # Where the receipts of sent messages are read (Expo's getReceipts); unset: the push URL with
    # its last part "send" replaced by "getReceipts", as Expo names them; empty: read none.
    push_receipts_url: str | None = None
    push_interval_seconds: float = Field(default=5, gt=0)
    # How long a push request waits for the provider's answer. Expo documents no bound, so well
    # above its usual second or two; an answer later than this leaves the messages MAYBE_SENT
    # (never sent twice). At most 60: a send must end within its messages' 2-minute lease.
    push_timeout_seconds: float = Field(default=30, gt=0, le=60)
    # Expo's access token, sent as `Authorization: Bearer` to send and getReceipts: required by
    # projects that turned on Expo's enhanced push security, harmless for the others.
    push_expo_access_token: str | None = None
    # Firebase Cloud Messaging HTTP v1: the service account's JSON key file (from the Firebase
    # console); unset, FCM is off and devices with FCM tokens are refused at registration.
    push_fcm_credentials_file: str | None = None
    # Where FCM's send API is (a test points it at a fake); the OAuth2 token endpoint is the key
    # file's `token_uri`.
    push_fcm_url: str = "https://fcm.googleapis.com"
    # APNs token-based authentication: the .p8 signing key, its key id, the team id, and the app's
    # bundle id (apns-topic). All four set, APNs is on; else devices with APNs tokens are refused.
    push_apns_key_file: str | None = None
    push_apns_key_id: str | None = None
    push_apns_team_id: str | None = None
    push_apns_topic: str | None = None
    # https://api.sandbox.push.apple.com for development builds of the app.
    push_apns_url: str = "https://api.push.apple.com"
    # A PEM file of the certificate authorities APNs' server certificate is checked against;
    # unset: the usual public ones (a test trusts its own).
    push_apns_ca_file: str | None = None
    # How long a push is worth delivering after its notification was made: a phone that is off
    # longer gets it from the inbox instead (Expo ttl, FCM android.ttl, apns-expiration).
    push_ttl_seconds: int = Field(default=24 * 3600, ge=0, le=28 * 24 * 3600)
    # The Android notification channel the apps create for EIC's pushes (Expo channelId, FCM
    # android.notification.channel_id); unset: the app's default channel.
    push_android_channel: str | None = None

    @property
    def receipts_url(self) -> str | None:
        if self.push_receipts_url is not None or not self.push_url:
            return self.push_receipts_url or None
        base, _, last = self.push_url.rstrip("/").rpartition("/")
        return f"{base}/getReceipts" if last == "send" else None

    # Run only the apps' operations of clients/operations/manifest.json (sent by their hash).
    trusted_operations_only: bool = False
    # Automatic persisted queries (backend/graphql/apq.py) when not trusted-only: a document sent
    # once with its hash is kept (in Redis when EIC_REDIS_URL is set, else in memory) so that
    # later calls send the hash only. Each entry expires; entries and bytes are bounded.
    apq_enabled: bool = True
    apq_ttl_seconds: float = Field(default=24 * 3600, gt=0)
    apq_max_entries: int = Field(default=10_000, ge=0)
    apq_max_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    apq_max_document_bytes: int = Field(default=32 * 1024, ge=0)
    # Responses larger than this are gzip-compressed for clients that accept it.
    compress_min_bytes: int = Field(default=1000, ge=0)
    # The response cache of anonymous persisted GETs (backend/graphql/response_cache.py): shared
    # through Redis when EIC_REDIS_URL is set, else in each process's memory, bounded by entries
    # and bytes. No answer larger than the entry limit (both encodings together) is kept.
    response_cache_enabled: bool = True
    response_cache_max_entries: int = Field(default=10_000, ge=0)
    response_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    response_cache_max_entry_bytes: int = Field(default=512 * 1024, ge=0)

    # The address apps and calendar programs reach this service at (https://eic.example.org),
    # for links the service hands out such as calendar feeds; without it, the request's own.
    public_url: str | None = None

    # Web origins (scheme://host[:port]) whose pages may call the API from a browser: a web app,
    # GraphiQL served from another origin. Comma-separated; empty (the default) sends no CORS
    # headers, so browsers keep every other origin's scripts out. "*" allows any origin; tokens
    # travel in the Authorization header, never in cookies, so credentials are never allowed.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # How often `eic serve` runs the due jobs (purchase group deadlines); 0 turns it off, for
    # deployments that run `eic run-due-jobs` from cron instead.
    due_jobs_interval_seconds: float = Field(default=60, ge=0)

    log_level: str = "INFO"
    # An outage of the database or Redis logs its first failure with a traceback, then one line
    # per this many seconds with how many more failed (backend/kit/outages.py).
    outage_log_interval_seconds: float = Field(default=30, gt=0)
    # How long `eic serve` keeps an idle keep-alive connection open. Longer than the idle timeout
    # of any proxy or client pool in front (commonly 60 s), so that they, not we, close it: a
    # connection closed by us just as a client reuses it loses that request.
    keep_alive_seconds: int = Field(default=75, ge=1)

    # Observability (docs/observability.md). Log lines as text, or one JSON object a line (time,
    # level, logger, message, request_id, operation, exception).
    log_format: Literal["text", "json"] = "text"
    # Prometheus metrics at /metrics (off: no such route). They name the apps' operations and
    # how often each runs, so in production a bearer token is required: Prometheus sends it as
    # `authorization: {credentials: ...}`. Each instance (one `eic serve` process) is scraped on
    # its own; `eic serve --workers` above 1 is refused with metrics on.
    metrics_enabled: bool = False
    metrics_token: str | None = None
    # How long a scrape waits for the gauges read from the database (outbox, due jobs) before it
    # answers without them.
    metrics_query_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    # OpenTelemetry traces. Unset: on when the standard OTEL_TRACES_EXPORTER (other than
    # "none") or OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, unless OTEL_SDK_DISABLED=true; the
    # exporter (OTLP over HTTP/protobuf), sampler and resource come from the OTEL_* variables.
    tracing_enabled: bool | None = None

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return self.is_development

    @property
    def tracing_on(self) -> bool:
        if self.tracing_enabled is not None:
            return self.tracing_enabled
        environ = os.environ
        if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return False
        exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        if exporter:
            return exporter != "none"
        return bool(
            environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @field_validator(
        "rate_limit_registrations_per_address",
        "rate_limit_reads_per_address",
        "rate_limit_reads_per_account",
        "rate_limit_exports_per_account",
    )
    @classmethod
    def _parse_rate_limit(cls, value: str) -> str:
        # Refused at start-up rather than at the first request that would be counted.
        if value.strip():
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not a rate limit such as '10/hour' or '60/minute;1000/day'"
                ) from exc
        return value.strip()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("a comma-separated list of origins such as https://app.example.org")
        origins = []
        for item in items:
            origin = str(item).strip().rstrip("/")
            if not origin:
                continue
            parts = urlsplit(origin)
            # A browser sends its Origin as scheme://host[:port] exactly: anything else (a path,
            # a missing scheme) would never match and is a mistake worth stopping at start-up.
            if origin != "*" and (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path
                or parts.query
                or parts.fragment
            ):
                raise ValueError(
                    f"{origin!r} is not an origin such as https://app.example.org or "
                    "http://127.0.0.1:3000 (scheme, host and port only), nor '*'"
                )
            # A browser sends scheme and host in lower case, and CORS compares them exactly:
            # https://App.example.org as written would never match.
            origins.append(origin if origin == "*" else f"{parts.scheme}://{parts.netloc.lower()}")
        return origins

    # Production start-up checks (production_problems): production refuses SQLite unless this
    # says a one-server pilot means it, and refuses to start without EIC_PUBLIC_URL.
    allow_sqlite_in_production: bool = False

    @model_validator(mode="after")
    def _refuse_weak_production_secrets(self) -> Settings:
        # Only the signing key (and an unprotected /metrics) is refused here, wherever settings
        # are built: no code path may make a production app with a forgeable key. The deployment
        # checks (SQLite, public address) are refused where the service starts (get_settings),
        # so that tests can still build production apps over SQLite; when the key is refused
        # they come along in the same message, so that an operator sees every problem at once.
        if _secret_problems(self):
            raise ValueError("\n".join(production_problems(self)))
        return self


def _secret_problems(settings: Settings) -> list[str]:
    if settings.environment is not Environment.PRODUCTION:
        return []
    problems = []
    if settings.jwt_secret == DEVELOPMENT_JWT_SECRET:
        problems.append(
            "EIC_JWT_SECRET is the development secret; set a random secret of at least "
            f"{MIN_JWT_SECRET_BYTES} bytes before running in production"
        )
    elif len(settings.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
        problems.append(
            f"EIC_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes in production"
        )
    # Metrics name operations and their volumes: not for anyone who finds the port.
    if settings.metrics_enabled and len((settings.metrics_token or "").strip()) < 16:
        problems.append(
            "EIC_METRICS_ENABLED in production needs EIC_METRICS_TOKEN, a random secret of at "
            "least 16 characters that Prometheus sends as a bearer token"
        )
    return problems


def production_problems(settings: Settings) -> list[str]:
    """What keeps ``settings`` from running in production, one line each (what is wrong, what to
    set); none outside production."""
    if settings.environment is not Environment.PRODUCTION:
        return []
    problems = _secret_problems(settings)
    if settings.is_sqlite and not settings.allow_sqlite_in_production:
        # The default URL is the usual cause: a deployment that forgot EIC_DATABASE_URL would
        # otherwise run, and keep its data, in ./eic.db wherever it was started.
        given = "" if "database_url" in settings.model_fields_set else ", the default"
        problems.append(
            f"EIC_DATABASE_URL is SQLite ({settings.database_url}{given}) in production: set "
            "EIC_DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE, or "
            "EIC_ALLOW_SQLITE_IN_PRODUCTION=true for a one-server pilot"
        )
    if not settings.public_url:
        problems.append(
            "EIC_PUBLIC_URL is not set: set it to the address apps and calendar programs reach "
            "this service at (such as https://eic.example.org); calendar feeds and report links "
            "are made from it"
        )
    elif not _is_public_address(settings.public_url):
        problems.append(
            f"EIC_PUBLIC_URL={settings.public_url} is not an address such as "
            "https://eic.example.org (http or https, a host, no query)"
        )
    return problems


def _is_public_address(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
    )


class SettingsAsGiven(Settings):
    """The settings exactly as the environment gives them, production's signing key unrefused:
    for ``eic check``, which reports every problem instead of stopping at the first."""

    @model_validator(mode="after")
    def _refuse_weak_production_secrets(self) -> SettingsAsGiven:
        # The same name replaces Settings' refusal; production_problems still reports the key.
        return self


def validation_problems(error: ValidationError) -> list[str]:
    """One line per setting that does not validate, named as the operator sets it."""
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if not item["loc"]:  # the whole settings' check: its message has one problem a line
            problems.extend(message.splitlines())
            continue
        name = str(item["loc"][0])
        shown = "" if is_secret_setting(name) else f" (got {item['input']!r})"
        problems.append(f"EIC_{name.upper()}: {message}{shown}")
    return problems


# Settings whose values `eic check` never prints: an explicit list, and any name that ends like
# a secret, so that a setting added later is masked before anyone remembers to list it.
SECRET_SETTINGS = frozenset({"jwt_secret", "push_expo_access_token"})
SECRET_SUFFIXES = ("_secret", "_token", "_password", "_key")


def is_secret_setting(name: str) -> bool:
    return name in SECRET_SETTINGS or name.endswith(SECRET_SUFFIXES)


# EIC_ variables that something else than Settings reads: `eic create-admin`'s password, and the
# test suite's own (EIC_TEST_DATABASE_URL, EIC_TEST_REDIS_URL ...).
OTHER_VARIABLES = frozenset({"EIC_ADMIN_PASSWORD"})
OTHER_PREFIXES = ("EIC_TEST_",)


class SettingsError(ValueError):
    """The environment asks for something the service will not do; the message says what."""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The EIC_ variables no setting reads, each with the setting it most resembles: a typo such
    as EIC_ENV=production must not quietly leave the service in development mode."""
    known = [f"EIC_{name.upper()}" for name in Settings.model_fields]
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("EIC_") or upper in known or upper in OTHER_VARIABLES:
            continue
        if upper.startswith(OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{name} is not a setting of EIC{hint}")
    return problems


def check_listen_address(host: str, settings: Settings) -> None:
    """Refuse to serve beyond this machine with the public development signing key, whatever
    the environment says: anyone could forge tokens for it."""
    if settings.jwt_secret != DEVELOPMENT_JWT_SECRET or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        loopback = False
    if not loopback:
        raise SettingsError(
            f"Refusing to listen on {host} with the development EIC_JWT_SECRET: set "
            f"EIC_JWT_SECRET to a random secret of at least {MIN_JWT_SECRET_BYTES} bytes "
            "(and EIC_ENVIRONMENT=production), or serve on 127.0.0.1"
        )


@lru_cache
def get_settings() -> Settings:
    """The settings of the running service, from the environment (and .env). Unknown EIC_
    variables, settings that do not validate and production's start-up checks are refused
    together, with one line each."""
    problems = unknown_variables(os.environ)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SettingsError("\n".join(problems + validation_problems(exc))) from None
    problems += production_problems(settings)
    if problems:
        raise SettingsError("\n".join(problems))
    return settings
