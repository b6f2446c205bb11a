"""Read statements compiled once and sent as the driver's SQL.

Executing a Core statement costs SQLAlchemy work before and after the driver's: the statement's
cache key (a walk of the whole statement), the compiled-cache lookup, an execution context that
processes every parameter, and a result that reads its columns' types. For the apps' hot pages,
whose statements are the same every request bar the values, that work cost more than the
driver's own (a 36-column listing page: ~40 % of the statement). A :class:`Prepared` statement
is compiled for a dialect once (and once per length of each expanding ``IN`` list), keeps its
SQL text, the order of its parameters and their type processors, and its columns' result
processors, and is sent with ``exec_driver_sql``: the same SQL text SQLAlchemy would send, the
same values in and out (UUIDs, aware datetimes, Decimals, JSON on either database), and the
engine's events still see each statement (the statement counts the tests pin, the tables a
read touched).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

# Forms kept per statement: one per dialect and per combination of expanding lists' lengths
# (a page's ids, up to its size). Past this many a form is compiled for the call and dropped.
MAX_FORMS = 64


class _Form(NamedTuple):
    sql: str
    # per position: ("value", name, processor), ("item", name, index, processor) of an expanding
    # list, or ("constant", processed value)
    positions: tuple[tuple[Any, ...], ...]
    row: Any  # the named tuple class of a row
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None  # None: not known yet


class Prepared:
    """A read-only Core statement compiled once per dialect; :meth:`rows` runs it on a
    connection with the given values of its parameters and gives named tuples of its columns
    (named as the statement's ``keys``)."""

    __slots__ = ("_expanding", "_forms", "statement")

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._forms: dict[tuple[Any, ...], _Form] = {}
        self._expanding = tuple(
            sorted(
                {
                    p.key
                    for p in statement._get_embedded_bindparams()
                    # a list the statement holds (``in_([...])``) is the same every call
                    if isinstance(p, BindParameter) and p.expanding and p.value is None
                }
            )
        )

    async def rows(
        self, connection: AsyncConnection, values: Mapping[str, Any] | None = None
    ) -> list[Any]:
        given = values or {}
        dialect = connection.dialect
        # which values a call gives decides which parameters are the statement's constants
        key = (type(dialect), tuple(given), *(len(given[name]) for name in self._expanding))
        form = self._forms.get(key)
        if form is None:
            form = self._compile(dialect, given)
            if len(self._forms) < MAX_FORMS:
                self._forms[key] = form
        parameters = tuple(_value(position, given) for position in form.positions)
        result = await connection.exec_driver_sql(form.sql, parameters)
        if form.results is None:
            form = form._replace(results=_result_processors(self, dialect, result))
            if self._forms.get(key) is not None:
                self._forms[key] = form
        raw = result.all()
        make = form.row._make
        if not form.results:
            return [make(row) for row in raw]
        out = []
        for row in raw:
            columns = list(row)
            for index, processor in form.results:
                columns[index] = processor(columns[index])
            out.append(make(columns))
        return out

    def _compile(self, dialect: Dialect, given: Mapping[str, Any]) -> _Form:
        compiled = self.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if not compiled.positional:
            raise ValueError(f"{dialect.name}: Prepared needs a positional paramstyle")
        state = compiled.construct_expanded_state(dict(given))
        expanded_from = {
            expanded: (name, index)
            for name, names in state.parameter_expansion.items()
            for index, expanded in enumerate(names)
        }
        positions: list[tuple[Any, ...]] = []
        # the expanded lists' items' processors, then the statement's own parameters'
        # (a tuple IN's processors come as sequences: Prepared does not take tuple INs)
        processors: dict[str, Any] = {**compiled._bind_processors, **state.processors}
        for name in state.positiontup or ():
            processor = processors.get(name)
            if name in expanded_from and expanded_from[name][0] in given:
                origin, index = expanded_from[name]
                positions.append(("item", origin, index, processor))
            elif name in given:
                positions.append(("value", name, processor))
            else:
                value = state.parameters[name]
                positions.append(("constant", processor(value) if processor else value))
        keys = [column[0] for column in compiled._result_columns]
        row = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
        return _Form(state.statement, tuple(positions), row, None)


def _value(position: tuple[Any, ...], given: Mapping[str, Any]) -> Any:
    kind = position[0]
    if kind == "constant":
        return position[1]
    if kind == "value":
        value, processor = given[position[1]], position[2]
    else:
        value, processor = given[position[1]][position[2]], position[3]
    return processor(value) if processor is not None and value is not None else value


def _result_processors(
    prepared: Prepared, dialect: Dialect, result: Any
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """Each column's result processor from its type and the driver's description of it, as a
    result of the executed statement would have used."""
    compiled = prepared.statement.compile(dialect=dialect)
    description: Sequence[Any] = result.cursor.description if result.cursor else ()
    processors = []
    for index, column in enumerate(compiled._result_columns):
        coltype = description[index][1] if index < len(description) else None
        processor = column[3]._cached_result_processor(dialect, coltype)
        if processor is not None:
            processors.append((index, processor))
    return tuple(processors)
