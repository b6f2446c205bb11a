"""A small typed client of the EIC API, as the mobile apps use it.

- Operations by name: the client reads the manifest of trusted operations that ships inside the
  package (``eic_client/manifest.json``, a copy of ``clients/operations/manifest.json`` that
  ``eic operations build`` writes) and sends each operation by its SHA-256 (``{"id": ...}``),
  the way ``EIC_TRUSTED_OPERATIONS_ONLY`` servers require.
- Sessions: :meth:`EICClient.sign_in` keeps the access and refresh tokens; an answer saying
  ``TOKEN_EXPIRED`` refreshes the session once and sends the request again.
- Safe retries: every mutation gets a fresh ``Idempotency-Key``, and a request is sent again
  (a mutation with the same key, so the work is done once) on exactly these: a network error,
  an outage of the service (the GraphQL error ``SERVICE_UNAVAILABLE``, or HTTP 503), and a 409
  ``IDEMPOTENCY_KEY_IN_USE`` (the first copy still runs). It waits the ``retryAfter`` (or
  ``Retry-After``) the server asked for and at least an exponential back-off, at most
  ``max_wait_seconds`` a time and ``retries`` times. Any other error (``INTERNAL``, a 500, a
  502) is raised at once: sending it again would not help, or nobody knows that it would.
- Pages: :meth:`EICClient.pages` follows ``pageInfo.endCursor`` through a connection.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from graphql import OperationDefinitionNode, OperationType, parse

UNAVAILABLE = "SERVICE_UNAVAILABLE"


class EICError(Exception):
    """The server answered with GraphQL errors (not payload errors, which are data)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("message")) for e in errors))
        self.errors = errors

    @property
    def codes(self) -> list[str]:
        return [str((e.get("extensions") or {}).get("code")) for e in self.errors]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    sha256: str
    kind: OperationType


def manifest_text() -> str:
    """The manifest the package ships (package data, so an installed copy finds it without the
    repository's layout)."""
    return resources.files("eic_client").joinpath("manifest.json").read_text(encoding="utf-8")


def load_operations(manifest: Path | None = None) -> dict[str, Operation]:
    """The operations by name of ``manifest`` (a server's own manifest.json), by default of the
    one the package ships."""
    text = manifest.read_text(encoding="utf-8") if manifest is not None else manifest_text()
    documents: dict[str, str] = json.loads(text)
    operations = {}
    for sha, document in documents.items():
        definition = next(
            d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode)
        )
        assert definition.name is not None
        operations[definition.name.value] = Operation(
            definition.name.value, sha, definition.operation
        )
    return operations


@dataclass
class Session:
    access_token: str
    refresh_token: str
    organisation_id: str | None
    role: str


def service_url(url: str) -> str:
    """The service's base address from what a person may paste: ``http://host:8080``, with a
    trailing slash, or the GraphQL endpoint itself (``.../graphql``)."""
    base = url.strip().rstrip("/")
    return base.removesuffix("/graphql")


class EICClient:
    """A client of the service at ``base_url`` (``http://127.0.0.1:8000``, any host and port;
    the endpoint ``.../graphql`` is taken too)."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        manifest: Path | None = None,
        retries: int = 4,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout_seconds: float = 20.0,
        max_wait_seconds: float = 30.0,
    ) -> None:
        self.http = httpx.AsyncClient(
            base_url=service_url(base_url), transport=transport, timeout=timeout_seconds
        )
        self.operations = load_operations(manifest)
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.sleep = sleep
        self.session: Session | None = None

    async def __aenter__(self) -> EICClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    # -----------------------------------------------------------------------------------------
    # Sessions

    async def sign_in(
        self, email: str, password: str, organisation_id: str | None = None
    ) -> Session:
        data = await self.run(
            "SignIn",
            {"email": email, "password": password, "organisationId": organisation_id},
            authenticated=False,
        )
        return self._keep(data["tokenCreate"])

    async def refresh(self, organisation_id: str | None = None) -> Session:
        """A fresh access token (and, with ``organisation_id``, act for another organisation)."""
        if self.session is None:
            raise RuntimeError("sign in first")
        data = await self.run(
            "RefreshSession",
            {
                "refreshToken": self.session.refresh_token,
                "organisationId": organisation_id or self.session.organisation_id,
            },
            authenticated=False,
        )
        return self._keep(data["tokenRefresh"])

    def _keep(self, payload: dict[str, Any]) -> Session:
        if payload.get("errors"):
            raise EICError(
                [
                    {"message": e["message"], "extensions": {"code": e["code"]}}
                    for e in payload["errors"]
                ]
            )
        self.session = Session(
            access_token=payload["accessToken"],
            refresh_token=payload["refreshToken"],
            organisation_id=payload.get("organisationId"),
            role=payload["role"],
        )
        return self.session

    # -----------------------------------------------------------------------------------------
    # Operations

    async def run(
        self,
        name: str,
        variables: dict[str, Any] | None = None,
        *,
        authenticated: bool = True,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Run an operation of the manifest by name; returns ``data``. Payload errors are data
        (``result["listingCreate"]["errors"]``); GraphQL errors raise :class:`EICError`."""
        operation = self.operations[name]
        body = {"id": operation.sha256, "variables": variables or {}}
        key = None
        if operation.kind is OperationType.MUTATION:
            key = idempotency_key or str(uuid.uuid4())
        refreshed = False
        while True:
            answer = await self._send(body, key, authenticated)
            if authenticated and not refreshed and _token_expired(answer) and self.session:
                await self.refresh()
                refreshed = True
                continue
            if answer.get("errors") and answer.get("data") is None:
                raise EICError(answer["errors"])
            data: dict[str, Any] = answer.get("data") or {}
            return data

    async def _send(
        self, body: dict[str, Any], key: str | None, authenticated: bool
    ) -> dict[str, Any]:
        headers = {}
        if authenticated and self.session is not None:
            headers["Authorization"] = f"Bearer {self.session.access_token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        attempt = 0
        while True:
            try:
                response = await self.http.post("/graphql", json=body, headers=headers)
            except httpx.TransportError:
                if attempt >= self.retries:
                    raise
                asked = 0.0
            else:
                retry_after = _retry_after(response)
                if retry_after is None or attempt >= self.retries:
                    return _answer(response)
                asked = retry_after
            # the same key again: what the first attempt did is not done twice
            backoff = self.backoff_seconds * 2**attempt
            await self.sleep(min(max(asked, backoff), self.max_wait_seconds))
            attempt += 1

    async def pages(
        self,
        name: str,
        variables: dict[str, Any],
        connection: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        page_size: int = 50,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every node of a connection, page after page. ``connection`` picks the connection
        out of the data, such as ``lambda d: d["trades"]``."""
        after = None
        while True:
            data = await self.run(name, {**variables, "first": page_size, "after": after})
            page = connection(data)
            for edge in page["edges"]:
                yield edge["node"]
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    async def sync_start(self) -> str:
        """A first sync's cursor: take it *before* loading the offline copy."""
        data = await self.run("SyncStart")
        cursor: str = data["changes"]["cursor"]
        return cursor

    async def sync(
        self, since: str, *, types: list[str] | None = None, page_size: int = 100
    ) -> tuple[list[dict[str, Any]], str]:
        """Every change after ``since`` (all pages) and the cursor to keep for next time.
        Raises :class:`EICError` with code RESYNC_REQUIRED when the copy must be loaded again."""
        items: list[dict[str, Any]] = []
        while True:
            data = await self.run(
                "SyncChanges", {"since": since, "types": types, "first": page_size}
            )
            feed = data["changes"]
            items.extend(feed["items"])
            since = feed["cursor"]
            if not feed["hasMore"]:
                return items, since


def _json(response: httpx.Response) -> dict[str, Any] | None:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _codes(answer: dict[str, Any] | None) -> list[tuple[str | None, Any]]:
    """Each GraphQL error's code and retryAfter."""
    errors = (answer or {}).get("errors") or []
    found = []
    for error in errors:
        extensions = (error.get("extensions") or {}) if isinstance(error, dict) else {}
        found.append((extensions.get("code"), extensions.get("retryAfter")))
    return found


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked to wait before the same request is sent again (0 when it did
    not say); None when this answer is not to be retried."""
    answer = _json(response)
    if response.status_code == 503:
        header = response.headers.get("retry-after", "")
        return float(header) if header.isdigit() else 0.0
    if response.status_code == 409:
        in_use = any(code == "IDEMPOTENCY_KEY_IN_USE" for code, _ in _codes(answer))
        return 0.0 if in_use else None
    if response.status_code == 200:
        waits = [after for code, after in _codes(answer) if code == UNAVAILABLE]
        if waits:
            return max(float(w) if isinstance(w, int | float) else 0.0 for w in waits)
    return None


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The GraphQL answer; an HTTP error without one raises ``httpx.HTTPStatusError``."""
    answer = _json(response)
    if answer is None:
        response.raise_for_status()
        answer = response.json()  # a success that is not JSON raises here
    return answer


def _token_expired(answer: dict[str, Any]) -> bool:
    for error in answer.get("errors") or []:
        if (error.get("extensions") or {}).get("code") == "TOKEN_EXPIRED":
            return True
    for payload in (answer.get("data") or {}).values():
        if isinstance(payload, dict):
            for error in payload.get("errors") or []:
                if isinstance(error, dict) and error.get("code") == "TOKEN_EXPIRED":
                    return True
    return False
