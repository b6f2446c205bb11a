"""Benchmark: what the cost estimate (backend/graphql/cost.py) adds to a request, side by side
with validating the same document (all of the schema's rules, uncached) in the same run: the
apps' largest operations, the 30-page flood of issue 15, and fan-outs of fragments.

    .venv/bin/python scripts/bench_query_cost.py
"""

from __future__ import annotations

import argparse
import functools
import re
import time
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from backend.graphql.cost import CostMeasure
from backend.graphql.limits import document_limits_rule
from backend.graphql.operations import load_manifest
from backend.graphql.schema import build_schema
from backend.settings import Settings


def best_of(runs: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def app_operation(name: str) -> str:
    [text] = [d for d in load_manifest().values() if re.match(rf"(query|mutation) {name}\b", d)]
    return text


def documents() -> list[tuple[str, str, dict[str, Any]]]:
    card = app_operation("MarketSearch")
    card = card[card.index("fragment ListingCard") :]
    pages = " ".join(
        f"a{i}: listings(first: 100) {{ edges {{ node {{ ...ListingCard }} }} }}" for i in range(30)
    )
    spreads = "\n".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, 30)
    )
    fan_out = (
        f"query FanOut {{ ...F1 }}\n{spreads}\n"
        "fragment F30 on Query { listings(first: 100) { edges { node { id } } } }"
    )
    return [
        ("SyncChanges", app_operation("SyncChanges"), {"since": "c", "first": 100}),
        ("OffersInbox", app_operation("OffersInbox"), {"first": 100}),
        ("MarketSearch", app_operation("MarketSearch"), {"first": 100}),
        ("30 pages of cards", f"query Flood {{ {pages} }}\n{card}", {}),
        ("fan-out, 30 levels", fan_out, {}),
    ]


def _estimate(schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> int:
    measure = CostMeasure(schema, document, variables)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return measure.of(operation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    schema = build_schema(settings)._schema
    # graphql-core's rules and EIC's depth and alias rule; Strawberry caches the result per
    # document, while the estimate runs for every request (the variables and the caller vary)
    rules = [*specified_rules, document_limits_rule(12, 30)]
    print(f"{'document':<20} {'bytes':>6} {'cost':>16} {'visits':>6} {'estimate us':>11} "
          f"{'validate us':>11} {'share':>6}")  # fmt: skip
    for name, text, variables in documents():
        document = parse(text)
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        measure = CostMeasure(schema, document, variables)
        cost = measure.of(operation)
        estimate = best_of(args.runs, functools.partial(_estimate, schema, document, variables))
        validating = best_of(
            max(3, args.runs // 10), functools.partial(validate, schema, document, rules)
        )
        print(
            f"{name:<20} {len(text):>6} {cost:>16,} {measure.visits:>6} {estimate * 1e6:>11.0f} "
            f"{validating * 1e6:>11.0f} {estimate / validating:>6.1%}"
        )


if __name__ == "__main__":
    main()
