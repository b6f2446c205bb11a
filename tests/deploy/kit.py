"""A deployment for tests: two real ``eic serve`` processes on one database and one Redis,
configured from deploy/eic.env.example as an operator would; and nginx from deploy/nginx/eic.conf
in front of them. Not a test module."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dotenv import dotenv_values
from sqlalchemy import select, update
from websockets.typing import Subprotocol

from backend.auth.security import Security
from backend.auth.viewer import Role
from backend.identity.models import Organisation, OrganisationKind, RefreshSession
from backend.kit.db import Database, utcnow
from tests.conftest import TEST_JWT_SECRET, TEST_REDIS_URL, Person, make_settings, seed_people
from tests.notifications.push_fakes import Tls, make_tls
from tests.process_kit import EIC, eic_serving, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV_EXAMPLE = DEPLOY / "eic.env.example"
NGINX_SITE = DEPLOY / "nginx" / "eic.conf"
SYSTEMD_UNIT = DEPLOY / "eic@.service"

# Debian installs nginx in /usr/sbin, which is not on every user's PATH.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
# Skipped only when nginx is not installed; CI installs it (.ci/run).
NEEDS_NGINX = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (Debian: apt-get install nginx-light; CI installs it)",
)
CADDYFILE = DEPLOY / "caddy" / "Caddyfile"
CADDY = shutil.which("caddy")
NEEDS_CADDY = pytest.mark.skipif(
    CADDY is None,
    reason="caddy is not installed (Debian: apt-get install caddy; CI installs it)",
)
# The WebSocket subprotocol of GraphQL subscriptions (Apollo's graphql-ws library speaks it).
GRAPHQL_WS = [Subprotocol("graphql-transport-ws")]
WAIT = 60.0  # seconds before a test gives up on something that should happen


def example_environment() -> dict[str, str]:
    """deploy/eic.env.example's settings, as systemd's EnvironmentFile would pass them."""
    values = dotenv_values(ENV_EXAMPLE)
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class Instances:
    """Two ``eic serve`` processes of one deployment: their base URLs and log files."""

    urls: tuple[str, str]
    logs: tuple[Path, Path]

    @property
    def ports(self) -> tuple[int, int]:
        first, second = (int(url.rsplit(":", 1)[1]) for url in self.urls)
        return first, second

    def log_text(self, index: int) -> str:
        return self.logs[index].read_text(errors="replace")


def migrate(environment: dict[str, str], directory: Path) -> None:
    """``eic migrate``, once, before any instance starts (docs/deployment.md)."""
    subprocess.run(  # noqa: S603 - our own command
        [EIC, "migrate"],
        env=environment,
        cwd=directory,
        check=True,
        capture_output=True,
        timeout=600,
    )


@asynccontextmanager
async def two_instances(
    directory: Path, database_url: str, **settings: str
) -> AsyncIterator[Instances]:
    """Two instances with deploy/eic.env.example's settings (the database, Redis and secret
    replaced by the test's, then ``settings``, e.g. ``EIC_PUSH_URL``), on a migrated database."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
    environment |= example_environment() | {
        "EIC_DATABASE_URL": database_url,
        "EIC_REDIS_URL": TEST_REDIS_URL,
        "EIC_JWT_SECRET": TEST_JWT_SECRET,
        **settings,
    }
    if database_url.startswith("sqlite"):
        # The suite's SQLite run: production refuses SQLite unless a one-server pilot says so
        # (the deployment itself is PostgreSQL's; CI's PostgreSQL run covers it as shipped).
        environment["EIC_ALLOW_SQLITE_IN_PRODUCTION"] = "true"
    await asyncio.to_thread(migrate, environment, directory)
    logs = (directory / "eic-1.log", directory / "eic-2.log")
    with ExitStack() as stack:
        # Both start at once: each takes a few seconds to import and build the schema.
        urls = await asyncio.gather(
            *(
                asyncio.to_thread(stack.enter_context, eic_serving(environment, directory, log=log))
                for log in logs
            )
        )
        try:
            yield Instances((urls[0], urls[1]), logs)
        finally:
            # Stopping waits for each process to exit: not in the event loop's thread.
            await asyncio.to_thread(stack.close)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, seconds: float = WAIT
) -> None:
    """Wait, by condition, until ``check`` holds (another process's work has no event)."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.1)


async def a_community(db: Database, database_url: str, cluster_id: str) -> Person:
    """Someone of a community organisation (forums belong to communities), signed in."""
    (person,) = await seed_people(
        db, make_settings(database_url), cluster_id, 1, prefix="community"
    )
    async with db.write() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == uuid.UUID(person.organisation_id))
            .values(kind=OrganisationKind.COMMUNITY)
        )
        session_id = await session.scalar(
            select(RefreshSession.id).where(RefreshSession.user_id == uuid.UUID(person.user_id))
        )
    assert session_id is not None
    token = Security.from_settings(make_settings(database_url)).tokens.issue_access(
        user_id=uuid.UUID(person.user_id),
        role=Role.COMMUNITY,
        organisation_id=uuid.UUID(person.organisation_id),
        session_id=session_id,
        now=utcnow(),
    )
    return Person(person.user_id, person.organisation_id, token.token)


# ---------------------------------------------------------------------------------------------
# nginx


@dataclass(frozen=True)
class Proxy:
    """nginx in front of the instances: its HTTPS and plain-HTTP ports, the CA its certificate
    comes from, and its access log."""

    https_port: int
    http_port: int
    tls: Tls
    access_log: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls.ca_file))

    def client(self, source: str | None = None) -> httpx.AsyncClient:
        """An HTTPS client of the proxy that trusts only the test's CA, connecting from the
        loopback address ``source`` when given (127.0.0.0/8 is all loopback on Linux)."""
        transport = httpx.AsyncHTTPTransport(verify=self.ssl_context(), local_address=source)
        return httpx.AsyncClient(base_url=self.url, transport=transport, timeout=30)

    def upstreams(self) -> list[str]:
        """The instance (host:port) that answered each request logged so far."""
        return [
            field.removeprefix("upstream=")
            for line in self.access_log.read_text().splitlines()
            for field in line.split()
            if field.startswith("upstream=")
        ]


def site_config(
    instances: Instances,
    tls: Tls,
    https_port: int,
    http_port: int,
    access_log: Path,
    read_timeout: str | None = None,
) -> str:
    """deploy/nginx/eic.conf with the test's instances, ports, certificate and log in place of
    the example's (and ``read_timeout`` in place of its proxy_read_timeout, when given). Each
    replaced text must be there: the test fails when the example changes under it."""
    first, second = instances.ports
    replacements = [
        *(
            [("proxy_read_timeout 60s;", f"proxy_read_timeout {read_timeout};")]
            if read_timeout
            else []
        ),
        ("server 127.0.0.1:8001 ", f"server 127.0.0.1:{first} "),
        ("server 127.0.0.1:8002 ", f"server 127.0.0.1:{second} "),
        ("    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n"),
        ("    listen [::]:80;\n", ""),
        ("    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{https_port} ssl http2;\n"),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("/etc/letsencrypt/live/eic.example.org/fullchain.pem", str(tls.cert_file)),
        ("/etc/letsencrypt/live/eic.example.org/privkey.pem", str(tls.key_file)),
        ("/var/log/nginx/eic.access.log", str(access_log)),
    ]
    text = NGINX_SITE.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/nginx/eic.conf no longer has {old!r} once"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: Path) -> str:
    """A minimal nginx.conf of the test's own (Debian's /etc/nginx/nginx.conf is for a system
    nginx): one process in the foreground, every file under ``prefix``."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
{temp}
    include {site};
}}
"""


@contextmanager
def nginx_serving(
    directory: Path, instances: Instances, read_timeout: str | None = None
) -> Iterator[Proxy]:
    """nginx with deploy/nginx/eic.conf in front of ``instances``, TLS with a certificate for
    127.0.0.1 made for the test, until the block ends."""
    assert NGINX is not None
    prefix = directory / "nginx"
    prefix.mkdir()
    tls = make_tls(prefix)
    proxy = Proxy(free_port(), free_port(), tls, prefix / "access.log")
    site = prefix / "eic.conf"
    site.write_text(
        site_config(
            instances, tls, proxy.https_port, proxy.http_port, proxy.access_log, read_timeout
        )
    )
    main = prefix / "nginx.conf"
    main.write_text(main_config(prefix, site))
    command = [NGINX, "-p", str(prefix), "-c", str(main), "-e", str(prefix / "error.log")]
    checked = subprocess.run(  # noqa: S603 - Debian's nginx
        [*command, "-t"], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(  # noqa: S603 - Debian's nginx
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (prefix / "error.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", proxy.https_port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield proxy
    finally:
        process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def caddy_config(instances: Instances, tls: Tls, proxy: Proxy, prefix: Path) -> str:
    """deploy/caddy/Caddyfile with the test's instances, address, certificate and log in place of
    the example's, and global options of the test's own: no admin endpoint, the redirecting
    HTTP listener on a free port, storage under ``prefix``."""
    first, second = instances.ports
    replacements = [
        (
            "eic.example.org {\n",
            f"https://127.0.0.1:{proxy.https_port} {{\n\ttls {tls.cert_file} {tls.key_file}\n",
        ),
        ("127.0.0.1:8001 127.0.0.1:8002", f"127.0.0.1:{first} 127.0.0.1:{second}"),
        ("/var/log/caddy/eic.access.log", str(proxy.access_log)),
    ]
    text = CADDYFILE.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/caddy/Caddyfile no longer has {old!r} once"
        text = text.replace(old, new)
    options = (
        f"{{\n\tadmin off\n\thttp_port {proxy.http_port}\n\thttps_port {proxy.https_port}\n"
        f"\tstorage file_system {prefix / 'data'}\n}}\n\n"
    )
    return options + text


@contextmanager
def caddy_serving(directory: Path, instances: Instances) -> Iterator[Proxy]:
    """Caddy with deploy/caddy/Caddyfile in front of ``instances``, TLS with a certificate for
    127.0.0.1 made for the test, until the block ends."""
    assert CADDY is not None
    prefix = directory / "caddy"
    prefix.mkdir()
    tls = make_tls(prefix)
    proxy = Proxy(free_port(), free_port(), tls, prefix / "access.log")
    config = prefix / "Caddyfile"
    config.write_text(caddy_config(instances, tls, proxy, prefix))
    # Caddy keeps its state under the home and XDG folders: the test's own.
    environment = os.environ | {
        "HOME": str(prefix),
        "XDG_DATA_HOME": str(prefix / "data"),
        "XDG_CONFIG_HOME": str(prefix / "config"),
    }
    output = (prefix / "caddy.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - Debian's caddy
        [CADDY, "run", "--config", str(config), "--adapter", "caddyfile"],
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (prefix / "caddy.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", proxy.https_port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "caddy did not start"
                time.sleep(0.05)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        output.close()


def body_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body.get("extensions", {}).pop("cost", None)
    if body.get("extensions") == {}:
        del body["extensions"]
    return body
