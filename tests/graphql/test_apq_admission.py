"""Which texts are kept as automatic persisted queries, and what deciding costs: the cheap
limits before the schema's validation, verdicts remembered by hash, a kept text not checked
again."""

from __future__ import annotations

from functools import cache

import pytest
from graphql import GraphQLSchema, parse

from backend.graphql.apq import MemoryQueryStore
from backend.graphql.extensions import (
    MAX_REPEATED_FIELDS,
    Admission,
    SchemaOptions,
    admission,
    most_repeated_field,
)
from backend.graphql.operations import TrustedDocuments, operations_of, sha256
from backend.graphql.persisted import PersistedQueries
from backend.graphql.schema import build_schema
from backend.settings import Settings


@cache
def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


@cache
def _schema() -> GraphQLSchema:
    return build_schema(_settings())._schema


def _admission() -> Admission:
    admits = admission(_schema(), SchemaOptions.of(_settings()))
    assert isinstance(admits, Admission)
    return admits


def _repeated(times: int) -> str:
    return "query Repeated { clusters { " + " ".join(["totalCount"] * times) + " } }"


def test_a_field_repeated_past_the_bound_is_not_kept_while_every_app_document_is() -> None:
    admits = _admission()
    # a field repeated up to the bound is kept; once more, and it is not (graphql-core would
    # compare every pair of them: the cost of deciding grew with the square of the document)
    assert admits(_repeated(MAX_REPEATED_FIELDS))
    assert not admits(_repeated(MAX_REPEATED_FIELDS + 1))
    assert not admits(_repeated(500))
    # repeats through fragments count too, as graphql-core collects them
    spread = (
        "query Spread { clusters { totalCount ...A ... on ClusterConnection { ...A } } }\n"
        "fragment A on ClusterConnection { " + " ".join(["totalCount"] * MAX_REPEATED_FIELDS) + " }"
    )
    assert most_repeated_field(parse(spread), stop_above=100) == MAX_REPEATED_FIELDS + 1
    assert not admits(spread)
    # while every operation of the apps, ours and Apollo's bodies, is kept
    for operation in operations_of(_schema()):
        for text in (operation.document, operation.apollo_body):
            assert admits(text), operation.name


def test_a_verdict_is_remembered_by_the_texts_hash_and_the_memory_is_bounded() -> None:
    admits = _admission()
    admits.VERDICTS_KEPT = 2
    texts = [_repeated(times) for times in (1, 2, 17)]
    assert [admits(text) for text in texts] == [True, True, False]
    # the oldest went first; the others are answered from memory
    assert admits.verdicts == {sha256(texts[1]): True, sha256(texts[2]): False}
    # a verdict is the schema's, not the memory's: a text that fails validation is refused
    assert not admits("query Unknown { clusters { nothingHere } }")


async def test_a_kept_text_sent_again_with_its_hash_is_not_checked_or_kept_again() -> None:
    # Given a server that keeps automatic persisted queries in memory
    checked: list[str] = []

    def admits(document: str) -> bool:
        checked.append(document)
        return True

    store = MemoryQueryStore(ttl_seconds=60, max_entries=10, max_bytes=10_000)
    persisted = PersistedQueries(
        documents=lambda: TrustedDocuments({}),
        trusted_only=False,
        store=store,
        admits=admits,
        max_document_bytes=1000,
    )
    text = _repeated(1)
    persisted_query = {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}
    # when a client sends the text with its hash three times (as a link that never drops it)
    for _ in range(3):
        request = {"query": text, "extensions": persisted_query}
        await persisted.resolve(request)
        assert request["query"] == text
    # then it was checked once, and is kept
    assert checked == [text]
    assert await store.get(sha256(text)) == text


@pytest.mark.parametrize("times", [MAX_REPEATED_FIELDS, 2000])
def test_counting_repeats_stops_at_the_bound(times: int) -> None:
    counted = most_repeated_field(parse(_repeated(times)), stop_above=MAX_REPEATED_FIELDS)
    assert counted == min(times, MAX_REPEATED_FIELDS + 1)
