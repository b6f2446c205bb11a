"""``total_count_selected`` tells whether a connection's selection asks for ``totalCount``,
written straight, aliased, or through inline and named fragments (nested ones too)."""

from __future__ import annotations

import pytest
import strawberry

from backend.graphql.pagination import total_count_selected


@strawberry.type
class Listed:
    total_count: int = 3
    asked: bool = False
    other: int = 1


@strawberry.type
class Query:
    @strawberry.field
    def listed(self, info: strawberry.Info) -> Listed:
        return Listed(asked=total_count_selected(info))


schema = strawberry.Schema(query=Query)


@pytest.mark.parametrize(
    ("document", "asked"),
    [
        ("{ listed { asked totalCount } }", True),
        ("{ listed { asked n: totalCount } }", True),
        ("{ listed { asked other } }", False),
        ("{ listed { asked ... on Listed { totalCount } } }", True),
        ("{ listed { asked ...F } } fragment F on Listed { totalCount }", True),
        (
            "{ listed { asked ...F } } fragment F on Listed { ...G }"
            " fragment G on Listed { totalCount }",
            True,
        ),
        ("{ listed { asked ...F } } fragment F on Listed { other }", False),
        ("{ a: listed { asked } b: listed { totalCount } }", False),  # each field for itself
    ],
)
def test_total_count_is_asked_for(document: str, asked: bool) -> None:
    result = schema.execute_sync(document)
    assert result.errors is None
    assert result.data is not None
    first = result.data.get("listed") or result.data["a"]
    assert first["asked"] is asked
