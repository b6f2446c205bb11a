"""Spending rate-limit budgets from GraphQL fields (see ``backend/auth/ratelimit.py``).

Expensive reads carry ``extensions=[ReadBudget()]``: anonymous requests spend from their
address's budget, signed-in ones from their account's, wherever they come from (one office
address may serve a whole cluster of signed-in people). Over budget, the field is a GraphQL
error with ``extensions.code`` THROTTLED and ``extensions.retryAfter`` in seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension

from backend.auth.addresses import limited_unit
from backend.auth.ratelimit import Budget
from backend.auth.viewer import Viewer


async def spend(info: strawberry.Info, budget: Budget) -> None:
    """Count this field against ``budget`` for the request's address, or for the signed-in
    account when the budget is a per-account one; raises THROTTLED when it is used up."""
    context = info.context
    who: str | None
    if budget is Budget.READS_BY_ADDRESS and isinstance(context.viewer, Viewer):
        budget, who = Budget.READS_BY_ACCOUNT, str(context.viewer.user_id)
    else:
        who = limited_unit(context.client_address)
    await context.security.rate_limits.spend(budget, who)


class ReadBudget(FieldExtension):
    """An expensive read (a search, a directory): each selection of the field costs one."""

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: strawberry.Info,
        **kwargs: Any,
    ) -> Any:
        await spend(info, Budget.READS_BY_ADDRESS)
        return await next_(source, info, **kwargs)
