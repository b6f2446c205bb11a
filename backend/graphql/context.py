"""Per-request context: who is asking, from where, and the app's shared services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from backend.auth.bearer import bearer_token, current_viewer
from backend.auth.clients import client_address_of
from backend.auth.security import Security
from backend.auth.viewer import Anonymous, Viewer
from backend.kit.broadcast import Broadcaster
from backend.kit.clock import Clock
from backend.kit.db import Database
from backend.settings import Settings

LoaderT = TypeVar("LoaderT")


@dataclass
class Context(BaseContext):
    settings: Settings
    db: Database
    security: Security
    viewer: Viewer | Anonymous
    client_address: str | None
    clock: Clock
    broadcaster: Broadcaster
    # DataLoaders by name (see :meth:`loader`). They live as long as the context, one request
    # or one WebSocket connection (one viewer), so nothing loaded is handed to another viewer.
    loaders: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def loader(self, name: str, make: Callable[[], LoaderT]) -> LoaderT:
        """The request's loader called ``name``, made on first use: for fields that eager
        loading in the list's root resolver cannot reach (a type many domains return)."""
        found = self.loaders.get(name)
        if found is None:
            found = self.loaders[name] = make()
        loader: LoaderT = found
        return loader

    def absolute_url(self, path: str) -> str:
        """``path`` on this server as a link to hand out (calendar feeds, printable reports):
        under EIC_PUBLIC_URL when set (behind a proxy), else where this request came in."""
        base = self.settings.public_url
        if not base:
            assert self.request is not None  # set for every HTTP request
            base = str(self.request.base_url)
        return base.rstrip("/") + path


async def get_context(connection: HTTPConnection) -> Context:
    state = connection.app.state
    settings: Settings = state.settings
    return Context(
        settings=settings,
        db=state.db,
        security=state.security,
        viewer=await current_viewer(state.security, state.access_check, bearer_token(connection)),
        client_address=client_address_of(connection, settings),
        clock=state.clock,
        broadcaster=state.broadcaster,
    )
