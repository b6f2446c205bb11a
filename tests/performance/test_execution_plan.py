"""Compiled execution plans (backend.graphql.plan) answer exactly as graphql-core's generic
executor does, errors and their paths included, and every query the apps send is planned."""

from __future__ import annotations

import asyncio
import enum
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
import strawberry
from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.values import VariableValues
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from backend.graphql import execution, plan
from backend.graphql.schema import build_schema
from backend.settings import Settings

MANIFEST = Path(__file__).parents[2] / "clients" / "operations" / "manifest.json"


@strawberry.enum
class Grade(enum.Enum):
    PRIME = "prime"
    SECOND = "second"


class NeverAllowed(BasePermission):
    message = "Not for you"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Bale(Named):
    grade: Grade
    kilos: int
    price: float | None
    secret: str = strawberry.field(default="hidden", permission_classes=[NeverAllowed])
    must: str = "set"  # holds None in one case: a non-null field the value breaks
    packed: datetime = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    cost: Decimal = Decimal("2.50")

    @strawberry.field
    async def later(self, suffix: str = "!") -> str:
        await asyncio.sleep(0)
        return self.name + suffix

    @strawberry.field
    def fails(self) -> str | None:
        raise ValueError(f"no answer for {self.name}")

    @strawberry.field
    def fails_hard(self) -> str:
        raise ValueError(f"no answer at all for {self.name}")


class BrokenScale(Bale):
    """A bale whose weight and price cannot be read: a plain field's read raises."""

    def __getattribute__(self, name: str) -> Any:
        if name in ("kilos", "price"):
            raise ValueError(f"the scale is broken for {name}")
        return super().__getattribute__(name)


@strawberry.type
class Sack(Named):
    litres: int


Goods = Annotated[Bale | Sack, strawberry.union("Goods")]


def _bales() -> list[Bale]:
    return [
        Bale(name="a", grade=Grade.PRIME, kilos=40, price=2.5),
        Bale(name="b", grade=Grade.SECOND, kilos=2**40, price=None),  # Int refuses 2**40
        Bale(name="c", grade=Grade.PRIME, kilos=1, price=float("nan")),  # Float refuses NaN
        # text where a DateTime and a Decimal belong: DateTime's coercion refuses it
        Bale(name="d", grade=Grade.PRIME, kilos=2, price=1.0, packed="today", cost="3"),  # type: ignore[arg-type]
    ]


@strawberry.type
class Query:
    @strawberry.field
    def bales(self) -> list[Bale]:
        return _bales()

    @strawberry.field
    async def bales_later(self, first: int = 10) -> list[Bale | None]:
        await asyncio.sleep(0)
        return [*_bales()[:first], None]

    @strawberry.field
    def broken_bale(self) -> Bale | None:
        bale = Bale(name="z", grade=Grade.PRIME, kilos=1, price=None)
        bale.must = None  # type: ignore[assignment]
        return bale

    @strawberry.field
    def strict_bales(self) -> list[Bale]:
        bale = Bale(name="y", grade=Grade.PRIME, kilos=1, price=None)
        bale.must = None  # type: ignore[assignment]
        return [*_bales()[:1], bale]

    @strawberry.field
    def goods(self) -> list[Goods]:
        return [_bales()[0], Sack(name="s", litres=20)]

    @strawberry.field
    def named(self) -> list[Named]:
        return [Sack(name="t", litres=5), _bales()[0]]

    @strawberry.field
    def odd_bales(self) -> list[Bale | None]:
        return [_bales()[0], BrokenScale(name="w", grade=Grade.SECOND, kilos=3, price=None)]

    @strawberry.field
    def items(self) -> list[int | None]:
        return [1, 2**40, 3]


# (document, whether it breaks somewhere: then the errors are compared too)
DOCUMENTS = [
    ("{ bales { name grade kilos price must packed cost __typename } }", True),  # 2**40, NaN
    ('{ bales { n: name name again: later later(suffix: "?") } }', False),
    ("query($s: String!) { balesLater(first: 2) { name later(suffix: $s) } }", False),
    ("{ bales { name secret } }", True),
    ("{ bales { name fails } }", True),
    ("{ bales { name failsHard } }", True),
    ("{ brokenBale { name must } }", True),
    ("{ strictBales { name must } }", True),
    ("{ goods { __typename ... on Bale { name kilos } ... on Sack { name litres } } }", False),
    ("{ named { name ... on Sack { litres } ...B } } fragment B on Bale { grade }", False),
    ("{ items }", True),
    ("{ oddBales { name price grade } }", True),  # a nullable plain field's read raises
    ("{ oddBales { name kilos } }", True),  # a non-null one's: the bale is null
    ("{ bales { ...Card ...Card } } fragment Card on Bale { name grade }", False),
]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    ours = strawberry.Schema(query=Query, execution_context_class=execution.ExecutionContext)
    generic = strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    return ours, generic


@pytest.mark.parametrize(("document", "breaks"), DOCUMENTS)
async def test_a_plan_answers_as_the_generic_executor(
    document: str, breaks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[Any] = []
    planned = plan.run

    def counting(operation_plan: Any, executor: Any) -> Any:
        ran.append(operation_plan)
        return planned(operation_plan, executor)

    monkeypatch.setattr(plan, "run", counting)
    ours, generic = _schemas()
    variables = {"s": "*"}
    mine = await ours.execute(document, variable_values=variables)
    theirs = await generic.execute(document, variable_values=variables)
    assert ran, "the document ran without a plan"
    assert mine.data == theirs.data
    assert [(e.message, e.path, e.locations) for e in mine.errors or []] == [
        (e.message, e.path, e.locations) for e in theirs.errors or []
    ]
    assert bool(mine.errors) is breaks


async def test_a_permission_class_on_a_plain_field_still_runs() -> None:
    ours, _ = _schemas()
    result = await ours.execute("{ bales { name secret } }")
    assert result.data is None  # the non-null field's error nulls up to the root
    assert result.errors
    assert result.errors[0].message == "Not for you"


@pytest.mark.parametrize(
    "document",
    [
        "query($w: Boolean!) { bales { name @include(if: $w) } }",
        "{ __schema { queryType { name } } }",
        "mutation { __typename }",
    ],
)
async def test_what_only_the_generic_executor_does_is_left_to_it(
    document: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[Any] = []
    monkeypatch.setattr(plan, "run", lambda p, e: ran.append(p))
    ours, generic = _schemas()
    mine = await ours.execute(document, variable_values={"w": True})
    theirs = await generic.execute(document, variable_values={"w": True})
    assert not ran
    assert mine.data == theirs.data


def _executor_for(schema: Any, document: str, name: str) -> SimpleNamespace:
    """What OperationPlan reads of an executor, for a document whose variables are not at hand
    (the apps' documents use no directives, so the selections do not depend on them)."""
    parsed = parse(document)
    operation = next(
        d
        for d in parsed.definitions
        if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name
    )
    fragments = {
        d.name.value: FragmentDetails(d)
        for d in parsed.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    return SimpleNamespace(
        schema=schema,
        operation=operation,
        fragments=fragments,
        fragment_definitions={k: v.definition for k, v in fragments.items()},
        variable_values=VariableValues({}, {}),
        hide_suggestions=True,
    )


def test_every_query_the_apps_send_has_a_plan() -> None:
    schema = build_schema(Settings())._schema
    planned = []
    for document in json.loads(MANIFEST.read_text()).values():  # id -> document
        parsed = parse(document)
        for definition in parsed.definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation is OperationType.QUERY
            ):
                assert definition.name is not None
                executor = _executor_for(schema, document, definition.name.value)
                assert not plan._has_directives(executor)  # type: ignore[arg-type]
                plan.OperationPlan(executor)  # type: ignore[arg-type]  # raises NotPlannable
                planned.append(definition.name.value)
    assert {"MarketSearch", "ThreadDetail", "EventsFeed", "SyncChanges"} <= set(planned)
