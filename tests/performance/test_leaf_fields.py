"""The short way through plain leaf fields (backend.graphql.execution) answers exactly as
graphql-core's generic executor does, errors included, and is taken where it may be."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from backend.graphql import execution
from backend.graphql.schema import build_schema
from backend.settings import Settings


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Part:
    name: str
    weight: Decimal
    colour: Colour
    made_at: datetime
    note: str | None
    required: str  # holds None in one case: a non-null violation the generic path reports
    count: int  # holds a value Int refuses in one case

    @strawberry.field
    def label(self, prefix: str = "#") -> str:
        return f"{prefix}{self.name}"

    @strawberry.field
    async def later(self) -> str:
        return self.name.upper()


def _part(name: str, **overrides: Any) -> Part:
    values: dict[str, Any] = {
        "name": name,
        "weight": Decimal("1.50"),
        "colour": Colour.GREEN,
        "made_at": datetime(2026, 12, 7, 8, 30, tzinfo=UTC),
        "note": None,
        "required": "yes",
        "count": 3,
    }
    values.update(overrides)
    return Part(**values)


@strawberry.type
class Query:
    @strawberry.field
    def parts(self) -> list[Part]:
        return [_part("a", note="kept"), _part("b")]

    @strawberry.field
    def broken(self) -> Part | None:
        return _part("c", required=None)

    @strawberry.field
    def too_big(self) -> Part | None:
        return _part("d", count=2**40)


DOCUMENTS = [
    "{ parts { name weight colour madeAt note required count } }",
    '{ parts { n: name name again: name __typename label(prefix: "*") later } }',
    "query($with: Boolean!) { parts { name @include(if: $with) note @skip(if: $with) } }",
    "{ parts { ...Card ...Card } } fragment Card on Part { name colour }",
    "{ broken { name required } }",
    "{ tooBig { name count } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_the_short_way_answers_as_the_generic_executor(document: str) -> None:
    fast = strawberry.Schema(query=Query, execution_context_class=execution.ExecutionContext)
    generic = strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )
    variables = {"with": True}
    ours = await fast.execute(document, variable_values=variables)
    theirs = await generic.execute(document, variable_values=variables)
    assert ours.data == theirs.data
    if "broken" in document or "tooBig" in document:
        assert ours.errors  # the generic path reported the value it could not complete
    assert [(e.message, e.path) for e in ours.errors or []] == [
        (e.message, e.path) for e in theirs.errors or []
    ]


async def test_plain_leaf_fields_do_not_go_through_the_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved: list[str] = []
    get_result = StrawberryField.get_result

    def counting(self: StrawberryField, *args: Any, **kwargs: Any) -> Any:
        resolved.append(self.python_name)
        return get_result(self, *args, **kwargs)

    monkeypatch.setattr(StrawberryField, "get_result", counting)
    schema = strawberry.Schema(query=Query, execution_context_class=execution.ExecutionContext)
    result = await schema.execute("{ parts { name colour label later } }")
    assert result.errors is None
    # the root field, then per part the two fields with resolvers of their own
    assert sorted(resolved) == ["label", "label", "later", "later", "parts"]


def test_the_app_schema_takes_the_short_way_for_plain_leaves_only() -> None:
    schema = build_schema(Settings())._schema  # graphql-core's schema
    listing = schema.type_map["Listing"]
    plans = execution._plans_of(listing)
    assert {"id", "title", "quantity", "status", "publishedAt", "distanceKm"} <= set(plans)
    assert not {"material", "unit", "organisation", "location", "specs"} & set(plans)
    material = schema.type_map["Material"]
    assert "displayName" not in execution._plans_of(material)  # it has an argument
