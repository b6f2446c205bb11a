"""A request leaves no reference cycle holding its executor and context: everything it built
is freed when it ends, not at the next garbage collection (which freed hundreds of requests'
rows and objects at once, a 60-100 ms pause at the p99 of scripts/bench_pages.py)."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from backend.graphql.context import Context
from backend.graphql.execution import ExecutionContext
from tests.conftest import GraphQL


@contextmanager
def cyclic_garbage() -> Iterator[list[Any]]:
    """What only the cycle collector would have freed while the block ran."""
    gc.collect()
    found: list[Any] = []
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def held(garbage: list[Any]) -> list[str]:
    return [type(o).__name__ for o in garbage if isinstance(o, ExecutionContext | Context)]


async def test_a_query_leaves_its_executor_and_context_to_reference_counting(
    gql: GraphQL, cluster_id: str
) -> None:
    # warm: the plan, the caches (what they keep is not garbage)
    page = "{ clusters { totalCount edges { node { id name } } } }"
    await gql(page)
    with cyclic_garbage() as garbage:
        for _ in range(3):
            body = await gql(page)
            assert body["data"]["clusters"]["edges"], body
        missing = await gql(f'{{ cluster(id: "{uuid.uuid4()}") {{ id }} me {{ __typename }} }}')
        assert missing["data"] == {"cluster": None, "me": None}
        failed = await gql("{ clusters(first: 1000) { totalCount } }")  # a resolver's error
        assert failed["errors"]
    assert held(garbage) == []
