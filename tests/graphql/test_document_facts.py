"""What is remembered per parsed document (backend.graphql.extensions: validation and cost)
gives what working it out again gives: per schema and rules, per page size asked."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from backend.graphql.cost import CostMeasure
from backend.graphql.extensions import cost_of
from backend.graphql.schema import build_schema
from backend.settings import Settings

DOCUMENT = """
query Page($first: Int, $other: Int) {
  listings(first: $first) { edges { node { id title } } }
  more: listings(first: $other) { edges { node { id } } }
}
"""


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 5},
        {"first": 50},
        {},
        {"first": None},
        {"first": "many"},
        {"first": 20.0},
        {"first": True},
        {"first": 3, "other": 7},
        {"first": 3, "other": {"not": "a number"}},
        {"first": 10**30},
    ],
)
def test_a_remembered_cost_is_the_cost_measured_again(variables: dict[str, Any]) -> None:
    schema = build_schema(Settings())._schema
    document = parse(DOCUMENT)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    for _ in range(2):  # the second time from what was remembered
        # ... and against every page size asked before, for the same document object
        for earlier in ({"first": 5}, {"first": 50}, {}, variables):
            assert cost_of(schema, document, operation, earlier) == CostMeasure(
                schema, document, earlier
            ).of(operation)


async def test_validation_is_remembered_per_schema() -> None:
    development = build_schema(Settings(environment="development", introspection_enabled=True))
    production = build_schema(Settings(environment="test", introspection_enabled=False))
    query = "{ __schema { queryType { name } } }"
    for _ in range(2):  # the same text, so the same parsed document, both ways in turn
        allowed = await development.execute(query)
        refused = await production.execute(query)
        assert allowed.errors is None
        assert refused.errors
        assert "introspection" in refused.errors[0].message.lower()
