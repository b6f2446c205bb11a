"""A small document must not buy a large amount of work: fragments that each spread the next one
twice double the work of a limiter that walks every spread again (20 levels kept a process busy
9-28 s, 30 levels for minutes). The limits measure each fragment once, so the work is one visit
per selection written in the document, whatever the fan-out."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, parse, print_ast, visit
from graphql.language import Visitor
from strawberry.types.execution import PreExecutionError

from backend.graphql.limits import DocumentMeasure, Measure
from backend.graphql.schema import build_schema
from tests.conftest import GraphQL, make_settings


def fan_out(levels: int, leaf: str = "a: __typename", root: str = "Query") -> str:
    """``...F1`` where each Fi spreads F(i+1) twice: 2**(levels-1) copies of the leaf."""
    spreads = "\n".join(
        f"fragment F{i} on {root} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, levels)
    )
    operation = root.lower()
    return f"{operation} FanOut {{ ...F1 }}\n{spreads}\nfragment F{levels} on {root} {{ {leaf} }}"


def selections_written(document: str) -> int:
    class Count(Visitor):
        seen = 0

        def enter(self, node: Any, *_: Any) -> None:
            if isinstance(node, FieldNode | FragmentSpreadNode | InlineFragmentNode):
                Count.seen += 1

    visit(parse(document), Count())
    return Count.seen


@pytest.mark.parametrize("levels", [20, 30])
async def test_a_fan_out_of_fragments_is_refused_for_its_aliases(gql: GraphQL, levels: int) -> None:
    # given a document of about 1 KB whose fragments double at each of 20 or 30 levels
    document = fan_out(levels)
    assert len(document) < 1300

    # when it is sent anonymously
    answer = await gql(document, token="")

    # then it is refused with the number of aliases it would run, before anything runs
    assert answer == {
        "data": None,
        "errors": [
            {
                "message": f"{2 ** (levels - 1)} aliases found. Allowed: 30",
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ],
    }


@pytest.mark.parametrize("levels", [20, 30, 200])
def test_measuring_a_fan_out_visits_each_written_selection_once(levels: int) -> None:
    document = fan_out(levels, leaf="a: __typename me { user { id } }")
    measure = DocumentMeasure(parse(document))
    [(_, measured)] = measure.operations()
    assert (measured.depth, measured.aliases) == (2, 2 ** (levels - 1))
    assert measure.visits == selections_written(document)


def test_the_deepest_field_is_found_through_a_fan_out_without_walking_it_again() -> None:
    # every level spreads the next twice and nests one field deeper
    levels = 25
    fragments = "\n".join(
        f"fragment F{i} on User {{ ...F{i + 1} organisations: memberships {{ role }} ...F{i + 1} }}"
        for i in range(1, levels)
    )
    document = parse(
        f"query Deep {{ me {{ user {{ ...F1 }} }} }}\n{fragments}\n"
        f"fragment F{levels} on User {{ memberships {{ organisation {{ cluster {{ id }} }} }} }}"
    )
    measure = DocumentMeasure(document)
    [(operation, measured)] = measure.operations()
    assert measured.depth == 5
    beyond = measure.first_beyond(operation, 4)
    assert isinstance(beyond, FieldNode)
    assert beyond.name.value == "id"
    # the search enters one branch per level and measures its siblings' (fragments are memoised)
    assert measure.visits <= selections_written(print_ast(document)) * 6


def test_a_fragment_that_spreads_itself_adds_nothing() -> None:
    document = parse(
        "query Q { ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }"
    )
    [(_, measured)] = DocumentMeasure(document).operations()
    assert measured == Measure(depth=0, aliases=0)


async def test_a_trusted_only_server_refuses_an_unknown_document_before_validating_it(
    database_url: str,
) -> None:
    # given a server that runs only the apps' operations, and a fan-out document that any
    # validation would refuse for its aliases
    document = fan_out(60)
    open_schema = build_schema(make_settings(database_url))
    trusted_schema = build_schema(make_settings(database_url, trusted_operations_only=True))
    assert [e.message for e in (await open_schema.execute(document)).errors or []] == [
        f"{2**59} aliases found. Allowed: 30"
    ]

    # when it arrives as a query (HTTP) or a subscription (the WebSocket's subscribe message)
    queried = await trusted_schema.execute(document)
    stream = await trusted_schema.subscribe(fan_out(60, root="Subscription"))
    assert not isinstance(stream, PreExecutionError)
    subscribed = [result async for result in stream]

    # then both are refused as untrusted only: no validation rule ran to say anything else
    assert [e.extensions for e in queried.errors or []] == [{"code": "OPERATION_NOT_TRUSTED"}]
    assert [[e.extensions for e in r.errors or []] for r in subscribed] == [
        [{"code": "OPERATION_NOT_TRUSTED"}]
    ]
