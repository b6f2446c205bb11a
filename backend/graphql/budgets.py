"""Spending rate-limit budgets from GraphQL fields (see ``backend/auth/ratelimit.py``).

Expensive reads carry ``extensions=[ReadBudget()]``: anonymous requests spend from their
address's budget, signed-in ones from their account's, wherever they come from (one office
address may serve a whole cluster of signed-in people). Over budget, the field is a GraphQL
error with ``extensions.code`` THROTTLED and ``extensions.retryAfter`` in seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension

from backend.auth.addresses import limited_unit
from backend.auth.ratelimit import PER_ACCOUNT, Budget
from backend.auth.viewer import Viewer

_spent: ContextVar[list[Budget] | None] = ContextVar("budgets_spent", default=None)


@contextmanager
def recording_spends() -> Iterator[list[Budget]]:
    """The budgets the request's fields spend from while the block runs, one per spend (the
    response cache spends the same again for each answer it serves from a stored one)."""
    spent: list[Budget] = []
    token = _spent.set(spent)
    try:
        yield spent
    finally:
        _spent.reset(token)


async def spend(info: strawberry.Info, budget: Budget) -> None:
    """Count this field against ``budget`` for the request's address, or for the signed-in
    account when the budget is a per-account one; raises THROTTLED when it is used up."""
    context = info.context
    recorder = _spent.get()
    if recorder is not None:
        recorder.append(budget)
    who: str | None
    if budget is Budget.READS_BY_ADDRESS and isinstance(context.viewer, Viewer):
        budget, who = Budget.READS_BY_ACCOUNT, str(context.viewer.user_id)
    elif budget in PER_ACCOUNT and isinstance(context.viewer, Viewer):
        who = str(context.viewer.user_id)
    else:
        who = limited_unit(context.client_address)
    await context.security.rate_limits.spend(budget, who)


class ReadBudget(FieldExtension):
    """An expensive read (a search, a directory): each selection of the field costs one, from
    ``budget`` (the expensive reads' by default)."""

    def __init__(self, budget: Budget = Budget.READS_BY_ADDRESS) -> None:
        super().__init__()
        self.budget = budget

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: strawberry.Info,
        **kwargs: Any,
    ) -> Any:
        await spend(info, self.budget)
        return await next_(source, info, **kwargs)
