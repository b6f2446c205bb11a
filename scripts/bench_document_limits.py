"""Benchmark: validating a fan-out document (each fragment spreads the next one twice), with the
limit rules EIC uses (backend/graphql/limits.py) side by side with Strawberry's depth and alias
limiters in the same run, as ratios. The old limiters double their work with each level; the
document grows by one line.

    .venv/bin/python scripts/bench_document_limits.py                  # 10 to 18 levels
    .venv/bin/python scripts/bench_document_limits.py --levels 12 20   # mind: 20 old takes ~5 s
"""

from __future__ import annotations

import argparse
import time

from graphql import DocumentNode, GraphQLSchema, parse, validate
from strawberry.extensions.max_aliases import create_validator as strawberry_aliases
from strawberry.extensions.query_depth_limiter import create_validator as strawberry_depth

from backend.graphql.limits import document_limits_rule
from backend.graphql.schema import build_schema
from backend.settings import Settings


def fan_out(levels: int) -> DocumentNode:
    spreads = "\n".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, levels)
    )
    leaf = f"fragment F{levels} on Query {{ a: __typename me {{ user {{ id }} }} }}"
    return parse(f"query FanOut {{ ...F1 }}\n{spreads}\n{leaf}")


def best_of(runs: int, schema: GraphQLSchema, document: DocumentNode, rules: list[type]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        validate(schema, document, rules)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs=2, default=(10, 18), metavar=("FROM", "TO"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    schema = build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]
    print(f"{'levels':>6} {'bytes':>6} {'strawberry ms':>14} {'eic ms':>8} {'ratio':>8}")
    for levels in range(args.levels[0], args.levels[1] + 1, 2):
        document = fan_out(levels)
        size = len(document.loc.source.body) if document.loc else 0
        old = best_of(
            args.runs, schema, document, [strawberry_depth(12, None), strawberry_aliases(30)]
        )
        new = best_of(args.runs, schema, document, [document_limits_rule(12, 30)])
        print(f"{levels:>6} {size:>6} {old * 1000:>14.2f} {new * 1000:>8.2f} {old / new:>8.0f}")


if __name__ == "__main__":
    main()
