"""``backend.graphql.arguments.convert_arguments`` gives what Strawberry's own conversion gives:
for every field with arguments in our schema (values filled in from the types, then null, then
left out), and for the kinds of type our schema has none of (Maybe, GlobalID, input types that
build their own value, lazy and recursive inputs), errors included."""

from __future__ import annotations

import base64
import dataclasses
import enum
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from strawberry.relay import GlobalID
from strawberry.types.arguments import convert_arguments as strawberry_convert_arguments

from backend.graphql import arguments
from backend.graphql.schema import build_schema
from backend.settings import Settings

SCALAR_VALUES: dict[str, Any] = {
    "String": "husk",
    "ID": "3f1c2d7e-0000-4000-8000-000000000001",
    "Int": 7,
    "Float": 2.5,
    "Boolean": True,
    "DateTime": datetime(2026, 12, 8, 9, 30, tzinfo=UTC),
    "Date": date(2026, 12, 8),
    "Decimal": Decimal("12.50"),
    "JSON": {"a": [1, 2]},
    "UUID": "3f1c2d7e-0000-4000-8000-000000000002",
}


def sample(graphql_type: GraphQLInputType, depth: int = 0) -> Any:
    """A value graphql-core could hand a resolver for ``graphql_type`` (Python names of enum
    members, parsed scalars, dicts for inputs, every input field filled in)."""
    if isinstance(graphql_type, GraphQLNonNull):
        return sample(graphql_type.of_type, depth)
    if isinstance(graphql_type, GraphQLList):
        item = sample(graphql_type.of_type, depth + 1)
        return [item, item] if item is not None else []
    if isinstance(graphql_type, GraphQLEnumType):
        first = next(iter(graphql_type.values.values()))
        return first.value
    if isinstance(graphql_type, GraphQLScalarType):
        return SCALAR_VALUES.get(graphql_type.name, "value")
    if isinstance(graphql_type, GraphQLInputObjectType):
        if depth > 3:
            return None
        return {name: sample(field.type, depth + 1) for name, field in graphql_type.fields.items()}
    raise AssertionError(graphql_type)


def fields_with_arguments(schema: strawberry.Schema) -> Iterator[tuple[str, str]]:
    for type_name, graphql_type in schema._schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            if field.args:
                yield type_name, field_name


SCHEMA = build_schema(Settings(_env_file=None))
FIELDS = sorted(fields_with_arguments(SCHEMA))


def converted(convert: Any, value: dict[str, Any], field: Any, schema: Any) -> Any:
    try:
        result = convert(
            value, field.arguments, schema.schema_converter.scalar_registry, schema.config
        )
    except Exception as error:  # the same error, of the same class
        return ("raised", type(error), str(error))
    return shape(result)


def shape(value: Any) -> Any:
    """The value with the class of every part, for a comparison that sees a dataclass where a
    dict was, or a tuple where a list was."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value),
            {f.name: shape(getattr(value, f.name)) for f in dataclasses.fields(value)},
        )
    if isinstance(value, dict):
        return (dict, {k: shape(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return (type(value), [shape(v) for v in value])
    return (type(value), value)


def test_the_schema_has_fields_with_input_arguments() -> None:
    # what the comparison below covers: fields with arguments, inputs among them, nested ones
    assert len(FIELDS) > 100
    listings = SCHEMA._schema.query_type.fields["listings"]  # type: ignore[union-attr]
    assert isinstance(listings.args["filter"].type, GraphQLInputObjectType)


@pytest.mark.parametrize(("type_name", "field_name"), FIELDS)
def test_every_field_converts_its_arguments_as_strawberry_does(
    type_name: str, field_name: str
) -> None:
    field = SCHEMA.get_field_for_type(field_name, type_name)
    assert field is not None
    graphql_field = SCHEMA._schema.type_map[type_name].fields[field_name]  # type: ignore[union-attr]
    filled = {name: sample(arg.type) for name, arg in graphql_field.args.items()}
    nulls = {
        name: None
        for name, arg in graphql_field.args.items()
        if not isinstance(arg.type, GraphQLNonNull)
    }
    for value in (filled, nulls, {}):
        expected = converted(strawberry_convert_arguments, value, field, SCHEMA)
        assert converted(arguments.convert_arguments, value, field, SCHEMA) == expected
        # a second time: from the kept converter
        assert converted(arguments.convert_arguments, value, field, SCHEMA) == expected


# Kinds of type our schema does not have (yet): each goes through Strawberry's own conversion,
# or gives what it gives.


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Point:
    x: float
    label: str | None  # no default: None when left out
    y: float = 0.0
    tags: list[str] | None = None


@strawberry.input
class Tree:
    label: str
    children: list[Tree] | None = None
    colour: Colour | None = None
    shade: strawberry.Maybe[str | None] = None


def _built_by_hand(cls: type, value: Any, context: Any) -> Any:
    return {"built": dict(value), "path": context.path}


@strawberry.input
class Handmade:
    text: str


Handmade.__strawberry_definition__.from_input = _built_by_hand  # type: ignore[attr-defined]


@strawberry.type
class Query:
    @strawberry.field
    def echo(
        self,
        point: Point,
        tree: Tree | None = None,
        points: list[Point] | None = None,
        colours: list[Colour] | None = None,
        maybe_colours: list[Colour | None] | None = None,
        node: GlobalID | None = None,
        nodes: list[GlobalID] | None = None,
        handmade: list[Handmade] | None = None,
        lazy: Annotated[Point, strawberry.lazy("tests.graphql.test_arguments")] | None = None,
        lazies: list[Annotated[Point, strawberry.lazy("tests.graphql.test_arguments")]]
        | None = None,
        some: strawberry.Maybe[int] = None,
        day: date | None = None,
    ) -> str:
        return "ok"


SMALL = strawberry.Schema(query=Query)
NODE = base64.b64encode(b"Listing:1").decode()


@pytest.mark.parametrize(
    "value",
    [
        {"point": {"x": 1.0}},
        {"point": {"x": 1.0, "y": 2.0, "tags": ["a", "b"]}},
        {"point": {"x": 1.0, "tags": None}},
        {
            "point": {"x": 1.0},
            "tree": {
                "label": "root",
                "colour": Colour.RED,
                "children": [{"label": "a", "children": [{"label": "b", "shade": None}]}],
                "shade": "dark",
            },
        },
        {"point": {"x": 1.0}, "points": [{"x": 2.0}, {"x": 3.0, "y": 1.0}]},
        {"point": {"x": 1.0}, "colours": [Colour.RED, Colour.BLUE], "maybeColours": [None]},
        {"point": {"x": 1.0}, "maybeColours": [Colour.BLUE, None], "colours": []},
        {"point": {"x": 1.0}, "node": NODE, "nodes": [NODE, NODE]},
        {"point": {"x": 1.0}, "node": "not a global id"},
        {"point": {"x": 1.0}, "handmade": [{"text": "one"}, {"text": "two"}]},
        {"point": {"x": 1.0}, "lazy": {"x": 5.0}, "lazies": [{"x": 6.0, "label": "six"}]},
        {"point": {"x": 1.0}, "some": 3},
        {"point": {"x": 1.0}, "some": None},
        {"point": {"x": 1.0}, "day": date(2026, 1, 2), "tree": None, "points": None},
    ],
)
def test_other_kinds_of_type_convert_as_strawberry_converts_them(value: dict[str, Any]) -> None:
    field = SMALL.get_field_for_type("echo", "Query")
    assert field is not None
    expected = converted(strawberry_convert_arguments, value, field, SMALL)
    assert converted(arguments.convert_arguments, value, field, SMALL) == expected


def test_a_default_list_is_copied_for_each_call() -> None:
    # graphql-core hands every request the same default: a resolver that changes its list
    # must not change the next request's
    field = SMALL.get_field_for_type("echo", "Query")
    assert field is not None
    tags = ["a"]
    value = {"point": {"x": 1.0, "tags": tags}, "colours": [Colour.RED]}
    registry, config = SMALL.schema_converter.scalar_registry, SMALL.config
    first = arguments.convert_arguments(value, field.arguments, registry, config)
    assert first["point"].tags == tags
    assert first["point"].tags is not tags
    assert first["colours"] is not value["colours"]


def test_strawberry_resolvers_use_it() -> None:
    import strawberry.schema.schema_converter as schema_converter

    arguments.install()
    assert schema_converter.convert_arguments is arguments.convert_arguments
