"""Keyset pagination for services: stable pages with opaque cursors.

A cursor is the sort key of the last row seen (plus the sort's name), so a page boundary stays
correct when rows are inserted or deleted between requests, and reading page 50 costs what page 1
costs. The GraphQL layer wraps a :class:`Page` into a Relay connection.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.base import ExecutableOption

from backend.kit.errors import ErrorCode, ServiceError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class PageRequest:
    first: int = DEFAULT_PAGE_SIZE
    after: str | None = None

    @classmethod
    def of(cls, first: int | None, after: str | None) -> PageRequest:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ServiceError.of(
                ErrorCode.VALIDATION, f"first must be between 1 and {MAX_PAGE_SIZE}", "first"
            )
        return cls(first=size, after=after or None)


@dataclass(frozen=True, slots=True)
class SortKey:
    """One column (or expression) of a sort; the last key of a sort must be unique (the id).

    For an expression, ``value_of`` reads its value from a result item and ``python_type``
    decodes it from a cursor; for a mapped column both default to the column's own.
    """

    column: InstrumentedAttribute[Any] | ColumnElement[Any]
    descending: bool = False
    value_of: Callable[[Any], Any] | None = None
    python_type: Callable[[Any], Any] | type | None = None

    def value(self, item: Any) -> Any:
        if self.value_of is not None:
            return self.value_of(item)
        return getattr(item, str(self.column.key))

    def decode(self, value: Any) -> Any:
        return _from_json(value, self.python_type or self.column.type.python_type)


@dataclass(frozen=True, slots=True)
class Sort:
    name: str
    keys: tuple[SortKey, ...]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    total_count: int | None
    # True when counting stopped at a cap: more items match than ``total_count``.
    total_is_at_least: bool = False

    def with_items(self, items: list[U]) -> Page[U]:
        """The same page (cursors, neighbours, total) carrying other items, one per item: the
        views a service builds for the rows it read."""
        if len(items) != len(self.items):
            raise ValueError("a page's items are replaced one for one")
        return Page(
            items=items,
            cursors=self.cursors,
            has_next_page=self.has_next_page,
            has_previous_page=self.has_previous_page,
            total_count=self.total_count,
            total_is_at_least=self.total_is_at_least,
        )

    def map(self, to: Callable[[T], U]) -> Page[U]:
        return self.with_items([to(item) for item in self.items])


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _from_json(value: Any, python_type: Callable[[Any], Any] | type) -> Any:
    if value is None:
        return None
    if python_type is datetime:
        return datetime.fromisoformat(value)
    return python_type(value)


# json.dumps with separators builds an encoder per call (a few % of a page of 20 cursors)
_CURSOR_JSON = json.JSONEncoder(separators=(",", ":"))


def _json_value(value: Any) -> str | None:
    """A cursor value as the encoder above writes it (its own steps for these classes: the C
    escaping of ``ensure_ascii`` text, ``float.__repr__``), or None for any other value."""
    kind = value.__class__
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return None


def encode_cursor(sort: Sort, values: Sequence[Any]) -> str:
    """The cursor of an item whose sort keys have ``values``: URL-safe base64 of compact JSON
    (``{"s": sort name, "v": [values]}``), without padding."""
    shown = [_to_json(v) for v in values]
    parts: list[str] = []
    for value in shown:
        text = _json_value(value)
        if text is None:  # a value of another class: the encoder itself
            raw = _CURSOR_JSON.encode({"s": sort.name, "v": shown})
            break
        parts.append(text)
    else:  # the encoder's text, written directly (its set-up per call was most of the cost)
        raw = '{"s":' + encode_basestring_ascii(sort.name) + ',"v":[' + ",".join(parts) + "]}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


MAX_CURSOR_LENGTH = 1024


def _checked(value: Any) -> Any:
    """A decoded sort value the database can compare: aware times, finite numbers."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("cursor time without offset")
        value.astimezone(UTC)  # year 1 at +05:00 is before year 1 in UTC: OverflowError
    if isinstance(value, float | Decimal) and not (
        math.isfinite(value) if isinstance(value, float) else value.is_finite()
    ):
        raise ValueError("cursor number not finite")
    if isinstance(value, Decimal) and value.copy_abs() >= Decimal("1e15"):
        raise ValueError("cursor number out of range")
    return value


def decode_cursor(sort: Sort, cursor: str) -> list[Any]:
    invalid = ServiceError.of(ErrorCode.VALIDATION, "after is not a cursor of this list", "after")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if body["s"] != sort.name or len(body["v"]) != len(sort.keys):
            raise invalid
        return [_checked(key.decode(v)) for v, key in zip(body["v"], sort.keys, strict=True)]
    except ServiceError:
        raise
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        ArithmeticError,  # decimal.InvalidOperation, OverflowError
        RecursionError,
        binascii.Error,
    ) as exc:
        raise invalid from exc


def _bound(value: Any) -> Any:
    # SQLAlchemy reads `column < True` as an IS comparison and refuses it: send a parameter.
    return literal(value) if isinstance(value, bool) else value


def after_condition(sort: Sort, request: PageRequest) -> ColumnElement[bool] | None:
    """The condition "after the request's cursor" in ``sort`` (None on a first page); a
    VALIDATION error for a cursor that is not one of this sort's."""
    if not request.after:
        return None
    condition: ColumnElement[bool] = _after(sort, decode_cursor(sort, request.after))
    return condition


def _after(sort: Sort, values: list[Any]) -> Any:
    # (a, b, c) > (x, y, z) spelt out, so each key may sort in its own direction.
    alternatives = []
    for i, key in enumerate(sort.keys):
        equal_prefix = [
            k.column == _bound(v) for k, v in zip(sort.keys[:i], values[:i], strict=True)
        ]
        value = _bound(values[i])
        beyond = key.column < value if key.descending else key.column > value
        alternatives.append(and_(*equal_prefix, beyond))
    return or_(*alternatives)


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    *,
    sort: Sort,
    request: PageRequest,
    load: Sequence[ExecutableOption] = (),
    with_total: bool = True,
    count_cap: int | None = None,
    leading: Callable[[int | None], Sequence[Select[Any]]] | None = None,
) -> Page[Any]:
    """Run ``statement`` (a filtered ``select(Model)``) for one page, eager-loading ``load``.

    Costs two statements (the page and its total) plus one per ``selectinload`` in ``load``,
    whatever the page size. With ``count_cap`` the total counts up to that many items and says
    when more match (``total_is_at_least``): counting every match cost as much as the search.

    ``leading(total)`` (``total``: the exact count when it was counted, else None) gives
    cheaper statements that each select a leading part of ``statement``'s rows in ``sort``
    order: every row of theirs, and every row of ``statement`` that sorts before one of theirs
    (all rows within some distance, say). They are tried in turn; the first that fills the page
    (page size + 1 rows after the cursor) gives the page, which is then the page ``statement``
    gives; when none does, ``statement`` runs. Each try is one more statement, and the loads of
    ``load`` for a try that found some rows but too few. None are tried when the total fits in
    the page.
    """
    total = None
    at_least = False
    if with_total:
        counted = (await session.execute(count_statement(statement, count_cap))).scalar_one()
        total, at_least = counted_total(counted, count_cap)
    exact = None if at_least else total
    tries: Sequence[Select[Any]] = ()
    if leading is not None and not (
        exact is not None and request.after is None and exact <= request.first
    ):
        tries = leading(exact)
    after = after_condition(sort, request)
    rows: list[Any] = []
    for candidate in (*tries, statement):
        page_statement = page_of(candidate.options(*load), sort, after, request.first)
        result = (await session.execute(page_statement)).unique()
        # One entity per row gives the entities; more columns (a distance, say) give the rows.
        rows = list(
            result.scalars().all() if len(page_statement.column_descriptions) == 1 else result.all()
        )
        if len(rows) > request.first:
            break
    return page_from_rows(rows, sort=sort, request=request, total=total, at_least=at_least)


# The parts of :func:`paginate`, for a caller that builds its statements once and runs them with
# each request's values (``backend.kit.prepared``): the same statements, the same page.


def count_statement(statement: Select[Any], count_cap: int | None) -> Select[Any]:
    """The count of ``statement``'s rows (up to ``count_cap`` + 1 of them, with a cap)."""
    if count_cap is None:
        return select(func.count()).select_from(statement.order_by(None).subquery())
    # Only the first column (the entity's key): the rest would be read for nothing.
    # (maintain_column_froms=True walks every column's expression, 2 ms a search.)
    matching = statement.order_by(None).with_only_columns(statement.selected_columns[0])
    return select(func.count()).select_from(matching.limit(count_cap + 1).subquery())


def counted_total(counted: int, count_cap: int | None) -> tuple[int, bool]:
    """The total to show for ``counted`` rows of :func:`count_statement`, and whether more
    match than it says."""
    if count_cap is None:
        return counted, False
    return min(counted, count_cap), counted > count_cap


def page_of(
    statement: Select[Any], sort: Sort, after: ColumnElement[bool] | None, size: int
) -> Select[Any]:
    """The rows of ``statement`` for a page of ``size`` after ``after`` in ``sort`` order, and
    one more (whether a next page exists)."""
    if after is not None:
        statement = statement.where(after)
    order = [k.column.desc() if k.descending else k.column.asc() for k in sort.keys]
    return statement.order_by(*order).limit(size + 1)


def after_parameters(sort: Sort, prefix: str = "after") -> ColumnElement[bool]:
    """:func:`after_condition` with its values as parameters (named ``prefix``...), which
    :func:`after_values` gives for a request's cursor."""
    # As _after, each value its own parameter (alternative i, key j), as the literals are there.
    alternatives = []
    for i, key in enumerate(sort.keys):
        equal_prefix = [
            k.column == bindparam(f"{prefix}{i}_{j}") for j, k in enumerate(sort.keys[:i])
        ]
        value: BindParameter[Any] = bindparam(f"{prefix}{i}_{i}")
        beyond = key.column < value if key.descending else key.column > value
        alternatives.append(and_(*equal_prefix, beyond))
    condition: ColumnElement[bool] = or_(*alternatives)
    return condition


def after_values(sort: Sort, request: PageRequest, prefix: str = "after") -> dict[str, Any]:
    """The values of :func:`after_parameters` for the request's cursor (none on a first page);
    a VALIDATION error for a cursor that is not one of this sort's."""
    if not request.after:
        return {}
    values = decode_cursor(sort, request.after)
    return {f"{prefix}{i}_{j}": values[j] for i in range(len(sort.keys)) for j in range(i + 1)}


def page_from_rows(
    rows: Sequence[Any],
    *,
    sort: Sort,
    request: PageRequest,
    total: int | None,
    at_least: bool = False,
) -> Page[Any]:
    """The page of the rows :func:`page_of` read (a page's worth and one more, at most)."""
    items = list(rows[: request.first])
    return Page(
        items=items,
        cursors=[encode_cursor(sort, [k.value(item) for k in sort.keys]) for item in items],
        has_next_page=len(rows) > request.first,
        has_previous_page=request.after is not None,
        total_count=total,
        total_is_at_least=at_least,
    )
