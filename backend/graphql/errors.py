"""Typed errors in mutation payloads, and the field extension that puts them there.

A mutation declared with :func:`payload_mutation` never crashes on an expected failure: a denied
role gate and every :class:`~backend.kit.errors.ServiceError` become
``errors { code message field }`` on the payload, with the payload's other fields null.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from backend.auth.permissions import Gate
from backend.auth.ratelimit import Budget
from backend.graphql.budgets import spend
from backend.idempotency import SecretAnswer, declare_secret_answer
from backend.kit.errors import ErrorCode, Problem, ServiceError

strawberry.enum(
    ErrorCode, description="What kind of expected failure an error is; apps branch on it."
)


@strawberry.type(description="An expected failure, in words a person can read.")
class UserError:
    code: ErrorCode = strawberry.field(description="Machine-readable kind of the error.")
    message: str = strawberry.field(description="What went wrong, for people.")
    field: str | None = strawberry.field(
        description="Path of the input field at fault, such as `organisation.name`; null when "
        "the error is about the request as a whole."
    )
    retry_after: int | None = strawberry.field(
        default=None,
        description="With THROTTLED: seconds to wait before the same request can succeed; "
        "null for every other code.",
    )

    @classmethod
    def of(cls, problem: Problem) -> UserError:
        return cls(
            code=problem.code,
            message=problem.message,
            field=problem.field,
            retry_after=problem.retry_after,
        )


class PayloadErrors(FieldExtension):
    """Runs the gates, then the resolver; expected failures become payload errors."""

    def __init__(
        self,
        gates: tuple[type[Gate], ...],
        budget: Budget | None = None,
        secret_answer: SecretAnswer | None = None,
    ) -> None:
        self.gates = gates
        self.budget = budget
        self.secret_answer = secret_answer
        self.payload_type: Callable[..., Any] | None = None

    def apply(self, field: StrawberryField) -> None:
        self.payload_type = field.type  # type: ignore[assignment]

    def _failure(self, problems: list[Problem]) -> Any:
        assert self.payload_type is not None
        return self.payload_type(errors=[UserError.of(p) for p in problems])

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: strawberry.Info,
        **kwargs: Any,
    ) -> Any:
        if self.secret_answer is not None:  # before any work, so before the key is written
            declare_secret_answer(self.secret_answer)
        for gate in self.gates:
            problem = gate.denial(info)
            if problem is not None:
                return self._failure([problem])
        try:
            if self.budget is not None:
                await spend(info, self.budget)
            return await next_(source, info, **kwargs)
        except ServiceError as exc:
            return self._failure(exc.problems)


def payload_mutation(
    *,
    description: str,
    gates: tuple[type[Gate], ...] = (),
    budget: Budget | None = None,
    secret_answer: SecretAnswer | None = None,
) -> Any:
    """A mutation whose return type is a payload with ``errors: [UserError!]!``.

    ``budget``: each call spends from it after the gates (THROTTLED in the payload when spent).
    ``secret_answer``: its answer holds a secret (a token, a code, a secret address), so a retry
    store must not keep it in clear (see :mod:`backend.idempotency`)."""
    if gates:
        description += " Requires: " + ", ".join(gate.requirement for gate in gates) + "."
    return strawberry.mutation(
        description=description, extensions=[PayloadErrors(gates, budget, secret_answer)]
    )
