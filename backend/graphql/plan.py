"""Compiled execution plans: a query's selections worked out once, then run without graphql-core's
generic per-field machinery.

graphql-core executes every field of every object the same generic way: look the field up,
build a ``GraphQLResolveInfo`` and a path entry, compute its arguments, call the resolver
through the middleware wrapper, test the result for awaitability and dispatch its completion on
the type (non-null? list? leaf? abstract? object?), then collect the sub-selection again for
the next object. On the apps' pages (20 event cards, 30 posts, 100 changes) that machinery was a
third of the request's CPU. The idea is graphql-jit's: everything that depends only on the
document and the schema is decided once per document, and each request only runs what is left.

A plan is made for a query document the first time it runs (documents come from the parser
cache, so the same text is the same object; plans are kept for the most recent
:data:`PLANS_KEPT` documents). For each field it holds its definition, its field nodes, how it
is read and how its type completes:

- ``__typename``: the type's name, a constant;
- a plain field (Strawberry's default resolver, no arguments, no field extension or permission
  class): the attribute read straight off the source object;
- any other field: its resolver, called exactly as graphql-core calls it (Strawberry's wrapper
  runs argument conversion, field extensions and permission classes), with the same
  ``GraphQLResolveInfo`` and path; its arguments are coerced once per request;
- completion by kind decided up front: non-null check, list, a leaf coerced (with shortcuts for
  ``str``/``bool``/``int``/``float`` and enum members that give what the type's own coercion
  gives), an object's fields (collected once, not per object), an abstract type's runtime type
  resolved per value with a plan per concrete type.

Errors behave as in graphql-core: a field's error is located at its path, nulls the nearest
nullable field and is collected once (``Executor.handle_field_error``); sibling fields still
run, and resolvers that return awaitables run concurrently per object as graphql-core runs them.

Only what the generic executor would do the same way is planned. A document is left to it when
its operation is not a query, when it has any directive (``@skip``/``@include`` make the
selection depend on variables; ``@defer``/``@stream`` change delivery), when it selects
introspection fields other than ``__typename``, when field middleware runs (an extension with a
``resolve`` hook), or when an abort signal is in use. ``tests/graphql/test_plan.py`` runs every
query of the apps' manifest both ways and compares the answers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from operator import methodcaller
from types import CoroutineType, GeneratorType
from typing import TYPE_CHECKING, Any

from graphql import (
    DirectiveNode,
    FieldNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    OperationType,
    Undefined,
    Visitor,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, is_iterable
from graphql.pyutils import inspect as inspect_value
from graphql.pyutils.gather_with_cancel import gather_with_cancel
from strawberry.schema.schema_converter import GraphQLCoreConverter

if TYPE_CHECKING:
    from graphql.execution.executor import Executor

# A completer turns a resolved value into its answer (a value, or an awaitable of one) or
# raises; it gets the value's path (None for a plain leaf field, which needs none) and the
# field, which names it in graphql-core's messages and error locations.
Completer = Callable[["Run", Any, Any, "FieldPlan"], Any]

PLANS_KEPT = 256
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class NotPlannable(Exception):  # noqa: N818 - a verdict, not a failure
    """The document needs something only the generic executor does."""


class _HasDirective(Visitor):
    found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        self.found = True
        return self.BREAK


def _has_directives(executor: Executor) -> bool:
    for node in [executor.operation, *executor.fragment_definitions.values()]:
        visitor = _HasDirective()
        visit(node, visitor)
        if visitor.found:
            return True
    return False


class FieldPlan:
    """How one response key of one object type is read and completed."""

    __slots__ = (
        "attribute",
        "complete",
        "details",
        "exact",
        "field_def",
        "field_name",
        "has_args",
        "leaf",
        "nodes",
        "nullable",
        "parent_type",
        "resolve",
        "response_name",
        "return_type",
        "typename",
    )

    def __init__(self, parent_type: GraphQLObjectType, response_name: str, details: Any) -> None:
        self.parent_type = parent_type
        self.response_name = response_name
        self.details = details
        self.nodes: list[FieldNode] = [d.node for d in details]
        first = self.nodes[0]
        self.field_name = first.name.value
        self.typename: str | None = None
        self.attribute: str | None = None
        self.resolve: Callable[..., Any] | None = None
        self.has_args = False
        # A plain String, ID or Boolean field: a value of exactly this class is its own answer.
        self.exact: type | None = None
        # A plain field of a scalar or enum type: completing it needs no path (an error's
        # path is made when there is one).
        self.leaf = False
        self.nullable = True
        self.complete: Completer = _no_completer
        if self.field_name == "__typename":
            self.typename = parent_type.name
            self.field_def = None
            self.return_type: GraphQLOutputType = GraphQLNonNull(GraphQLString)
            return
        if self.field_name.startswith("__"):
            raise NotPlannable(self.field_name)  # introspection: the generic executor's
        if any(d.fragment_variable_values is not None for d in details):
            raise NotPlannable("fragment variables")
        field_def = parent_type.fields.get(self.field_name)
        if field_def is None:
            raise NotPlannable(self.field_name)  # validation refuses it; not ours to answer
        self.field_def = field_def
        self.return_type = field_def.type
        self.nullable = not is_non_null_type(field_def.type)
        self.has_args = bool(field_def.args or first.arguments)
        definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            not self.has_args
            and field_def.resolve is not None
            and getattr(field_def.resolve, "_is_default", False)
            and definition is not None
            and definition.is_basic_field  # no field extension, no permission class
            and definition.default_resolver is getattr
        ):
            self.attribute = definition.python_name
            leaf = self.return_type
            if isinstance(leaf, GraphQLNonNull):
                leaf = leaf.of_type
            self.leaf = is_leaf_type(leaf)
            if leaf is GraphQLString or leaf is GraphQLID:
                self.exact = str
            elif leaf is GraphQLBoolean:
                self.exact = bool
        elif field_def.resolve is not None:
            self.resolve = field_def.resolve
        else:
            raise NotPlannable("no resolver")  # Strawberry gives every field one


def _no_completer(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
    raise AssertionError("a field plan was used before its completion was set")


class OperationPlan:
    """The plan of one query operation: its root fields, and the completion of every selection
    below them, made on first use."""

    def __init__(self, executor: Executor) -> None:
        self.operation = executor.operation  # kept: plans are found by its identity
        schema = executor.schema
        root_type = schema.query_type
        assert root_type is not None
        self.schema = schema
        self.fragments = executor.fragments
        self.hide_suggestions = executor.hide_suggestions
        self.root_type = root_type
        grouped, defer_usages, _forbidden = collect_fields(
            schema,
            executor.fragments,
            executor.variable_values,
            root_type,
            executor.operation,
            executor.hide_suggestions,
        )
        if defer_usages:
            raise NotPlannable("defer")
        self.variable_values = executor.variable_values
        self.root = self.object_fields(root_type, grouped)

    # -- compiling ---------------------------------------------------------------------------

    def object_fields(self, parent_type: GraphQLObjectType, grouped: Any) -> list[FieldPlan]:
        fields = []
        for response_name, details in grouped.items():
            field = FieldPlan(parent_type, response_name, details)
            fields.append(field)
        for field in fields:
            field.complete = self.completer(field.return_type, field)
        return fields

    def subfields(self, object_type: GraphQLObjectType, field: FieldPlan) -> list[FieldPlan]:
        grouped, defer_usages, _forbidden = collect_subfields(
            self.schema,
            self.fragments,
            self.variable_values,
            self.operation,
            object_type,
            field.details,
            self.hide_suggestions,
        )
        if defer_usages:
            raise NotPlannable("defer")
        return self.object_fields(object_type, grouped)

    def completer(self, return_type: GraphQLOutputType, field: FieldPlan) -> Completer:
        if is_non_null_type(return_type):
            assert isinstance(return_type, GraphQLNonNull)
            return _non_null(self.completer(return_type.of_type, field))
        if is_list_type(return_type):
            assert isinstance(return_type, GraphQLList)
            return _list(return_type.of_type, self.completer(return_type.of_type, field))
        if is_leaf_type(return_type):
            return _leaf(return_type)
        if is_abstract_type(return_type):
            return self._abstract(return_type, field)
        if is_object_type(return_type):
            assert isinstance(return_type, GraphQLObjectType)
            return _object(return_type, self.subfields(return_type, field))
        raise NotPlannable(str(return_type))

    def _abstract(self, abstract: GraphQLAbstractType, field: FieldPlan) -> Completer:
        by_type: dict[str, Completer] = {
            possible.name: _object(possible, self.subfields(possible, field))
            for possible in self.schema.get_possible_types(abstract)
        }

        def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                return None
            executor = run.executor
            info = run.info(field, path)
            resolve_type = abstract.resolve_type or executor.type_resolver
            runtime_type = resolve_type(value, info, abstract)
            if executor.is_awaitable(runtime_type):
                return _typed_later(run, runtime_type, abstract, by_type, value, path, field)
            chosen = executor.ensure_valid_runtime_type(
                runtime_type, abstract, field.details, info, value
            )
            return by_type[chosen.name](run, value, path, field)

        return complete


async def _typed_later(
    run: Run,
    runtime_type: Any,
    abstract: GraphQLAbstractType,
    by_type: dict[str, Completer],
    value: Any,
    path: Path,
    field: FieldPlan,
) -> Any:
    executor = run.executor
    chosen = executor.ensure_valid_runtime_type(
        await runtime_type, abstract, field.details, run.info(field, path), value
    )
    completed = by_type[chosen.name](run, value, path, field)
    if executor.is_awaitable(completed):
        return await completed
    return completed


def _non_null(inner: Completer) -> Completer:
    def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
        if isinstance(value, Exception):
            raise value
        completed = inner(run, value, path, field)
        if completed is None:
            raise TypeError(
                f"Cannot return null for non-nullable field {field.parent_type}.{field.field_name}."
            )
        return completed

    return complete


def _leaf(leaf: GraphQLLeafType) -> Completer:
    coerce = leaf.coerce_output_value
    # Shortcuts only where they give what the type's own coercion gives.
    exact: type | None = None
    if leaf is GraphQLString or leaf is GraphQLID:
        exact = str
    elif leaf is GraphQLBoolean:
        exact = bool
    names: dict[Any, str] = {}
    wrapped = getattr(leaf, "wrapped_cls", None)
    if isinstance(leaf, GraphQLEnumType) and wrapped is not None:
        for member in wrapped:
            try:
                names[member] = coerce(member)
            except Exception:  # noqa: S112 - not one of the GraphQL values: generic path
                continue

    # Strawberry's DateTime/Date/Time (``methodcaller("isoformat")``) and Decimal (``str``): for
    # values of these classes the coercion is that call, and its answer is a string.
    direct: frozenset[type] = frozenset()
    if isinstance(coerce, methodcaller) and repr(coerce) == "operator.methodcaller('isoformat')":
        direct = frozenset((datetime, date, time))
    elif coerce is str:
        direct = frozenset((Decimal,))

    def coerced(value: Any) -> Any:
        result = coerce(value)
        if result is Undefined or result is None:
            raise TypeError(
                f"Expected `{inspect_value(leaf)}.coerce_output_value("
                f"{inspect_value(value)})` to return non-nullable value, returned:"
                f" {inspect_value(result)}"
            )
        return result

    def slow(value: Any) -> Any:  # what every leaf does with a value no shortcut took
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        return coerced(value)

    if exact is not None:

        def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
            return value if value.__class__ is exact else slow(value)

    elif leaf is GraphQLInt:

        def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
            if value.__class__ is int and _INT_MIN <= value <= _INT_MAX:
                return value
            return slow(value)

    elif leaf is GraphQLFloat:

        def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
            if value.__class__ is float and math.isfinite(value):
                return value
            return slow(value)

    elif names:

        def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
            return names[value] if value.__class__ is wrapped else slow(value)

    elif direct:  # a scalar whose coercion of these classes is a call that never gives None

        def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
            return coerce(value) if value.__class__ in direct else slow(value)

    else:

        def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
            return slow(value)

    return complete


def _list(item_type: GraphQLOutputType, item: Completer) -> Completer:
    def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        executor = run.executor
        if executor.is_async_iterable(value) or not is_iterable(value):
            # async iterables and non-iterables: the generic executor's answer and error
            return _generic_list(run, value, path, field)
        is_awaitable = executor.is_awaitable
        results: list[Any] = []
        waiting: list[int] = []
        try:
            for index, entry in enumerate(value):
                item_path = Path(path, index, None)
                if is_awaitable(entry):
                    results.append(_awaited_item(run, entry, item_type, item, item_path, field))
                    waiting.append(index)
                    continue
                try:
                    completed = item(run, entry, item_path, field)
                except Exception as raw_error:
                    executor.handle_field_error(raw_error, item_type, field.details, item_path)
                    completed = None
                else:
                    if is_awaitable(completed):
                        completed = _guarded(run, completed, item_type, item_path, field)
                        waiting.append(index)
                results.append(completed)
        except Exception:
            if waiting:
                executor.settle_in_background([results[i] for i in waiting])
            raise
        if not waiting:
            return results
        return _gather_list(results, waiting)

    return complete


def _generic_list(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
    executor = run.executor
    list_type = field.return_type
    while isinstance(list_type, GraphQLNonNull):
        list_type = list_type.of_type
    return executor.complete_list_value(
        list_type,  # type: ignore[arg-type]
        field.details,
        run.info(field, path),
        path,
        value,
        None,
    )


async def _awaited_item(
    run: Run, entry: Any, item_type: Any, item: Completer, item_path: Path, field: FieldPlan
) -> Any:
    try:
        completed = item(run, await entry, item_path, field)
        if run.executor.is_awaitable(completed):
            completed = await completed
    except Exception as raw_error:
        run.executor.handle_field_error(raw_error, item_type, field.details, item_path)
        return None
    return completed


async def _guarded(run: Run, completed: Any, return_type: Any, path: Path, field: FieldPlan) -> Any:
    try:
        return await completed
    except Exception as raw_error:
        run.executor.handle_field_error(raw_error, return_type, field.details, path)
        return None


async def _gather_list(results: list[Any], waiting: list[int]) -> list[Any]:
    if len(waiting) == 1:
        results[waiting[0]] = await results[waiting[0]]
    else:
        for index, value in zip(
            waiting, await gather_with_cancel(*(results[i] for i in waiting)), strict=True
        ):
            results[index] = value
    return results


def _object(object_type: GraphQLObjectType, fields: list[FieldPlan]) -> Completer:
    is_type_of = object_type.is_type_of
    type_name = object_type.name
    answer = _generated_fields(type_name, fields)
    # Strawberry's own is_type_of (types with interfaces: every Relay node) never reads its
    # info: building one per object cost more than the test.
    needs_info = is_type_of is not None and not (
        getattr(is_type_of, "__module__", None) == "strawberry.schema.schema_converter"
        and getattr(is_type_of, "__qualname__", "").endswith("_get_is_type_of.<locals>.is_type_of")
    )

    def complete(run: Run, value: Any, path: Path, field: FieldPlan) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        if is_type_of is not None:
            info: Any = run.info(field, path) if needs_info else None
            verdict = is_type_of(value, info)
            if run.executor.is_awaitable(verdict):
                return _checked_later(run, verdict, object_type, fields, value, path, field)
            if not verdict:
                raise _invalid_return(object_type, value, field)
        return answer(run, value, path)

    return complete


# An object's fields as one generated function per selection (the idea of graphql-jit's code
# generation): a plain field whose value is of its exact class (a str for a String, ...) costs
# an attribute read, a class test and a store, with none of Run.fields's per-field lookups of
# the plan; anything else goes through the same steps Run.fields takes (_rest, _resolved).
# 100 changes of ListingDetail are ~4,000 fields a request.
_TEMPLATE_HEAD = """
def answer(run, source, path):
    results = {}
    waiting = None
    try:
"""
_TEMPLATE_TAIL = """
    except Exception:
        if waiting:  # settle what other fields started: they may fail too
            run.executor.settle_in_background([results[name] for name in waiting])
        raise
    if not waiting:
        return results
    return gather_fields(results, waiting)
"""


def _generated_fields(type_name: str, fields: list[FieldPlan]) -> Callable[[Run, Any, Any], Any]:
    lines: list[str] = []
    scope: dict[str, Any] = {
        "gather_fields": gather_fields,
        "_rest": _rest,
        "_resolved": _resolved,
        "_failed": _failed,
        "NEVER_AWAITABLE": _never_awaitable,
    }
    for index, field in enumerate(fields):
        scope[f"F{index}"] = field
        name = repr(field.response_name)
        if field.typename is not None:
            lines.append(f"        results[{name}] = {field.typename!r}")
        elif field.attribute is not None and field.attribute.isidentifier():
            scope[f"E{index}"] = field.exact
            scope[f"C{index}"] = field.complete
            # Only the read and a leaf's completion are guarded here: an error that
            # handle_field_error passes on (a non-null field's) goes up, as in Run.fields.
            lines += [
                "        try:",
                f"            value = source.{field.attribute}",
                "        except Exception as error:",
                f"            _failed(run, F{index}, error, path, results)",
                "        else:",
                f"            if value.__class__ is E{index}:",
                f"                results[{name}] = value",
            ]
            if field.nullable:
                lines += [
                    "            elif value is None:",
                    f"                results[{name}] = None",
                ]
            if field.leaf:  # a scalar or enum: its completion is never awaitable, needs no path
                lines += [
                    "            elif value.__class__ in NEVER_AWAITABLE:",
                    "                try:",
                    f"                    results[{name}] = C{index}(run, value, None, F{index})",
                    "                except Exception as error:",
                    f"                    _failed(run, F{index}, error, path, results)",
                ]
            lines += [
                "            else:",
                f"                waiting = _rest(run, F{index}, value, path, results, waiting)",
            ]
        else:
            lines.append(
                f"        waiting = _resolved(run, F{index}, source, path, results, waiting)"
            )
    code = _TEMPLATE_HEAD + "\n".join(lines or ["        pass"]) + _TEMPLATE_TAIL
    exec(compile(code, f"<fields of {type_name}>", "exec"), scope)  # noqa: S102 - our own text
    answer: Callable[[Run, Any, Any], Any] = scope["answer"]
    return answer


def _failed(run: Run, field: FieldPlan, error: Exception, path: Path | None, results: dict) -> None:
    """Reading a plain field raised: located at its path, as Run.fields does."""
    name = field.response_name
    run.executor.handle_field_error(
        error, field.return_type, field.details, Path(path, name, field.parent_type.name)
    )
    results[name] = None


def _rest(
    run: Run,
    field: FieldPlan,
    value: Any,
    path: Path | None,
    results: dict[str, Any],
    waiting: list[str] | None,
) -> list[str] | None:
    """A plain field's value that is not of its exact class: Run.fields's steps after the
    class test. Returns the (new) list of fields waiting."""
    name = field.response_name
    try:
        if value is None and field.nullable:
            results[name] = None
            return waiting
        if value.__class__ not in _never_awaitable and _awaitable(value, run.executor.is_awaitable):
            results[name] = _resolved_later(
                run, value, field, Path(path, name, field.parent_type.name)
            )
            return [*waiting, name] if waiting else [name]
        completed = field.complete(
            run, value, None if field.leaf else Path(path, name, field.parent_type.name), field
        )
    except Exception as raw_error:
        _failed(run, field, raw_error, path, results)
        return waiting
    return _stored(run, field, completed, path, results, waiting)


def _resolved(
    run: Run,
    field: FieldPlan,
    source: Any,
    path: Path | None,
    results: dict[str, Any],
    waiting: list[str] | None,
) -> list[str] | None:
    """A field read by its resolver: Run.fields's steps for one."""
    name = field.response_name
    field_path = Path(path, name, field.parent_type.name)
    try:
        info = run.info(field, field_path)
        args = run.arguments(field) if field.has_args else {}
        value = field.resolve(source, info, **args)  # type: ignore[misc]
        if run.executor.is_awaitable(value):
            results[name] = _resolved_later(run, value, field, field_path)
            return [*waiting, name] if waiting else [name]
        completed = field.complete(run, value, field_path, field)
    except Exception as raw_error:
        run.executor.handle_field_error(raw_error, field.return_type, field.details, field_path)
        results[name] = None
        return waiting
    return _stored(run, field, completed, path, results, waiting)


def _stored(
    run: Run,
    field: FieldPlan,
    completed: Any,
    path: Path | None,
    results: dict[str, Any],
    waiting: list[str] | None,
) -> list[str] | None:
    name = field.response_name
    if run.executor.is_awaitable(completed):
        results[name] = _guarded(
            run, completed, field.return_type, Path(path, name, field.parent_type.name), field
        )
        return [*waiting, name] if waiting else [name]
    results[name] = completed
    return waiting


async def _checked_later(
    run: Run,
    verdict: Any,
    object_type: GraphQLObjectType,
    fields: list[FieldPlan],
    value: Any,
    path: Path,
    field: FieldPlan,
) -> Any:
    if not await verdict:
        raise _invalid_return(object_type, value, field)
    result = run.fields(object_type.name, fields, value, path)
    if run.executor.is_awaitable(result):
        return await result
    return result


def _invalid_return(object_type: GraphQLObjectType, value: Any, field: FieldPlan) -> GraphQLError:
    return GraphQLError(
        f"Expected value of type '{object_type.name}' but got: {inspect_value(value)}.",
        field.nodes,
    )


class Run:
    """One execution of a plan: the executor it runs for, and the arguments each field was
    given in this request's variables."""

    __slots__ = ("args", "build_info", "executor")

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.build_info = executor.build_resolve_info
        self.args: dict[int, dict[str, Any]] = {}

    def info(self, field: FieldPlan, path: Path) -> Any:
        assert field.field_def is not None  # never asked of __typename
        return self.build_info(field.field_def, field.nodes, field.parent_type, path)

    def arguments(self, field: FieldPlan) -> dict[str, Any]:
        key = id(field)
        args = self.args.get(key)
        if args is None:
            executor = self.executor
            args = self.args[key] = get_argument_values(
                field.field_def,  # type: ignore[arg-type]
                field.nodes[0],
                executor.variable_values,
                None,
                executor.hide_suggestions,
            )
        return args

    def fields(
        self, type_name: str, fields: list[FieldPlan], source: Any, path: Path | None
    ) -> Any:
        """An object's answer: every field of the plan read off ``source`` and completed (the
        steps each object's generated function takes, for the root and a checked-later
        object)."""
        results: dict[str, Any] = {}
        waiting: list[str] | None = None
        try:
            for field in fields:
                name = field.response_name
                if field.typename is not None:
                    results[name] = field.typename
                elif field.attribute is not None:
                    try:
                        value = getattr(source, field.attribute)
                    except Exception as error:
                        _failed(self, field, error, path, results)
                        continue
                    if value.__class__ is field.exact:
                        results[name] = value
                    else:
                        waiting = _rest(self, field, value, path, results, waiting)
                else:
                    waiting = _resolved(self, field, source, path, results, waiting)
        except Exception:
            if waiting:  # settle what other fields started: they may fail too
                self.executor.settle_in_background([results[name] for name in waiting])
            raise
        if not waiting:
            return results
        return gather_fields(results, waiting)


# Classes whose instances are never awaitable (no ``__await__``, not a coroutine or generator):
# a plain field's value of one of them needs no awaitability test. Bounded by the classes the
# program has.
_never_awaitable: set[type] = set()


def _awaitable(value: Any, is_awaitable: Callable[[Any], bool]) -> bool:
    if is_awaitable(value):
        return True
    kind = value.__class__
    if not (
        isinstance(value, CoroutineType | GeneratorType) or hasattr(kind, "__await__")
    ) and "__await__" not in getattr(value, "__dict__", ()):
        _never_awaitable.add(kind)
    return False


async def _resolved_later(run: Run, value: Any, field: FieldPlan, path: Path) -> Any:
    try:
        completed = field.complete(run, await value, path, field)
        if run.executor.is_awaitable(completed):
            completed = await completed
    except Exception as raw_error:
        run.executor.handle_field_error(raw_error, field.return_type, field.details, path)
        return None
    return completed


async def gather_fields(results: dict[str, Any], waiting: list[str]) -> dict[str, Any]:
    if len(waiting) == 1:
        results[waiting[0]] = await results[waiting[0]]
    else:  # in parallel, cancelling the others when one fails, as graphql-core does
        gathered = await gather_with_cancel(*(results[name] for name in waiting))
        results.update(zip(waiting, gathered, strict=True))
    return results


class Plans:
    """Plans by operation node, for the most recent :data:`PLANS_KEPT` documents; ``None`` for
    an operation the generic executor must run."""

    def __init__(self) -> None:
        self.kept: OrderedDict[int, tuple[Any, OperationPlan | None]] = OrderedDict()

    def of(self, executor: Executor) -> OperationPlan | None:
        operation = executor.operation
        key = id(operation)
        found = self.kept.get(key)
        if found is not None and found[0] is operation:
            self.kept.move_to_end(key)
            return found[1]
        plan: OperationPlan | None
        if operation.operation is not OperationType.QUERY or _has_directives(executor):
            plan = None
        else:
            try:
                plan = OperationPlan(executor)
            except NotPlannable:
                plan = None
        self.kept[key] = (operation, plan)  # the node kept alive: its id stays its own
        if len(self.kept) > PLANS_KEPT:
            self.kept.popitem(last=False)
        return plan


def run(plan: OperationPlan, executor: Executor) -> Any:
    """The operation's result (or an awaitable of it), as ``Executor.execute_operation`` gives
    it."""
    this = Run(executor)
    try:
        data = this.fields(plan.root_type.name, plan.root, executor.root_value, None)
    except GraphQLError as error:
        executor.collected_errors.add(error, None)
        return executor.build_response(None)
    if executor.is_awaitable(data):

        async def finished() -> Any:
            try:
                result = await data
            except GraphQLError as error:
                executor.collected_errors.add(error, None)
                return executor.build_response(None)
            return executor.build_response(result)

        return finished()
    return executor.build_response(data)
