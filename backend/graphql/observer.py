"""What each GraphQL operation was and how it ended, for the logs and the metrics.

Added to the schema only when something reads it (JSON logs or metrics on): otherwise it costs
nothing. It fills the request's :class:`backend.observability.RequestFacts`; the request's
middleware records the metrics once the answer is out, so one HTTP request costs one update of
each metric whatever happened inside.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from strawberry.extensions import SchemaExtension

from backend.graphql.operations import MANIFEST
from backend.kit.errors import ErrorCode
from backend.observability import RequestFacts, request_facts_var

# A GraphQL name; anything else a client sends as operationName names no operation.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_DEFINITION = re.compile(r"(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")

# Codes an answer's first error may carry (ours, set by the schema's masking and limits);
# anything else counts as "OTHER", so a metric label can never take a value a client chose.
OUTCOMES = frozenset(
    {code.value for code in ErrorCode}
    | {
        "INTERNAL",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_COSTLY",
        "OPERATION_NOT_TRUSTED",
        "PERSISTED_QUERY_NOT_FOUND",
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "PERSISTED_QUERY_HASH_MISMATCH",
        "BAD_REQUEST",
    }
)


@cache
def known_operations() -> frozenset[str]:
    """The names of the apps' operations (clients/operations/manifest.json): the only values
    the ``operation`` label takes besides "other". Read from each document's first line, not
    parsed: a few milliseconds once, against ~0.5 s to parse them all."""
    try:
        documents = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # an installed wheel without the manifest: every name "other"
        return frozenset()
    names = set()
    for document in documents.values():
        found = _DEFINITION.match(document)
        if found is not None:
            names.add(found.group(1))
    return frozenset(names)


def outcome_of(result: Any, *, mutation: bool) -> str:
    """ "ok", or the code of the answer's first error (a GraphQL error's ``extensions.code``,
    or for a mutation the first ``errors`` entry of its payloads)."""
    if result is None:
        return "INTERNAL"
    errors = getattr(result, "errors", None)
    if errors:
        code = (errors[0].extensions or {}).get("code")
        return code if code in OUTCOMES else "OTHER"
    data = getattr(result, "data", None)
    if mutation and isinstance(data, dict):
        for payload in data.values():
            problems = payload.get("errors") if isinstance(payload, dict) else None
            if problems and isinstance(problems[0], dict):
                code = problems[0].get("code")
                return code if code in OUTCOMES else "OTHER"
    return "ok"


def _name(facts: RequestFacts, name: object) -> None:
    if isinstance(name, str) and _NAME.fullmatch(name):
        facts.operation = name
        facts.label = name if name in known_operations() else "other"


class OperationObserver(SchemaExtension):
    """Names the request's operation and its outcome in its RequestFacts. Listed first among the
    extensions, so that it reads the answer after the error masking has given errors codes
    (Strawberry leaves the operation hooks in reverse order)."""

    def on_operation(self) -> Iterator[None]:
        facts = request_facts_var.get()
        context = self.execution_context
        if facts is not None:
            # the name the client gave (Apollo always sends one), for what is logged meanwhile
            _name(facts, context._provided_operation_name)
        yield
        if facts is None:
            return
        # a document without operationName runs its first operation; one that does not parse
        # names nothing
        with contextlib.suppress(Exception):
            _name(facts, context.operation_name)
        try:
            mutation = context.operation_type.value == "mutation"
        except Exception:  # no operation to type (a parse or validation failure)
            mutation = False
        facts.outcome = outcome_of(context.result, mutation=mutation)
