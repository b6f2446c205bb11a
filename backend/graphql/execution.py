"""A faster way through the plain leaf fields of an answer, beside graphql-core's executor.

A page of 20 listing cards completes ~625 fields, ~500 of them leaves read straight off an
object (``title``, ``quantity``, ``unit.code``). graphql-core spends most of each field on
machinery such a field never uses: a ``GraphQLResolveInfo``, a path entry, the resolver wrapper,
an awaitable check, the generic completion. This execution context resolves those fields
directly (read the attribute, coerce it as the leaf type does) and hands every other field to
the generic executor unchanged.

A field takes the short way only when nothing can differ: Strawberry marked its resolver as the
default one (no resolver of ours, no field extension, no permission class, no exception
handler), it takes no arguments, its type is a scalar or an enum (perhaps non-null), and no
field middleware runs. Anything unusual about the value itself (None where the type says
non-null, an exception, a value the scalar refuses, an awaitable) goes through the generic path
again, which reports it as it always has. What each field of a type can do is worked out once
per type and kept.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from backend.graphql import plan as compiled

# How a plain leaf field is read: the attribute's name, how its type coerces a value for output,
# and whether the type is non-null.
LeafPlan = tuple[str, Callable[[Any], Any], bool]

_plans: dict[GraphQLObjectType, dict[str, LeafPlan]] = {}


def _leaf_plan(parent_type: GraphQLObjectType, field_name: str) -> LeafPlan | None:
    field = parent_type.fields.get(field_name)
    if field is None or field.args:
        return None
    resolve = field.resolve
    if resolve is None or not getattr(resolve, "_is_default", False):
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        definition is None
        or not definition.is_basic_field  # a field extension or permission class must run
        or definition.default_resolver is not getattr
    ):
        return None
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    leaf = field_type.of_type if non_null else field_type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    return definition.python_name, leaf.coerce_output_value, non_null


def _plans_of(parent_type: GraphQLObjectType) -> dict[str, LeafPlan]:
    plans = _plans.get(parent_type)
    if plans is None:
        plans = {}
        for name in parent_type.fields:
            plan = _leaf_plan(parent_type, name)
            if plan is not None:
                plans[name] = plan
        _plans[parent_type] = plans
    return plans


_operation_plans = compiled.Plans()


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        result = self._run_operation(serially)
        if self.is_awaitable(result):
            return self._released_when_done(result)
        self._release(result)
        return result

    async def _released_when_done(self, result: Any) -> Any:
        done = await result
        self._release(done)
        return done

    def _release(self, result: Any) -> None:
        # graphql-core's executor keeps bound methods of itself in ``async_helpers`` (which
        # every resolve info gets): a reference cycle, so the executor, and through its
        # context the whole request (rows, objects, the answer, the ASGI chain's closures),
        # outlived the request until a garbage collection freed ~400 requests' worth at once:
        # a 60-100 ms pause (tests/performance/test_request_garbage.py). A finished answer
        # needs none of it; an incremental one (@defer/@stream) goes on using the executor.
        if isinstance(result, ExecutionResult):
            self.async_helpers = None  # type: ignore[assignment]

    def _run_operation(self, serially: bool | None) -> Any:
        # A query runs from its compiled plan (backend/graphql/plan.py) unless something only
        # the generic executor handles is in play.
        middleware = self.middleware_manager
        if (
            serially is None
            and self.abort_signal is None
            and self.error_propagation
            and (middleware is None or not getattr(middleware, "_middleware_resolvers", True))
        ):
            plan = _operation_plans.of(self)
            if plan is not None:
                return compiled.run(plan, self)
        return super().execute_operation(serially)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        # Strawberry hands every request a manager, empty unless an extension resolves fields.
        middleware = self.middleware_manager
        plain = middleware is None or not getattr(middleware, "_middleware_resolvers", True)
        plans = _plans_of(parent_type) if plain else None
        if not plans:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaiting: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for response_name, details in grouped_field_set.items():
                node = details[0].node
                plan = plans.get(node.name.value)
                if plan is not None and not node.arguments:
                    name, coerce, non_null = plan
                    value = getattr(source_value, name, Undefined)
                    if value is None and not non_null:
                        results[response_name] = None
                        continue
                    if (
                        value is not None
                        and value is not Undefined
                        and not isinstance(value, Exception)
                        and not inspect.isawaitable(value)
                    ):
                        try:
                            coerced = coerce(value)
                        except Exception:  # the generic path reports it, located
                            coerced = None
                        if coerced is not None and coerced is not Undefined:
                            results[response_name] = coerced
                            continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    details,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaiting.append(response_name)
        except Exception:
            if awaiting:  # settle what other fields started: they may fail too
                self.settle_in_background([results[name] for name in awaiting])
            raise
        if not awaiting:
            return results
        return compiled.gather_fields(results, awaiting)
