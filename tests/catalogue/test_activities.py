"""The ISIC Rev. 4 activities through GraphQL: the activity picker's search by words and by the
start of a code, the level and parent filters, pages by code, and that anyone may read them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from backend.catalogue import service as catalogue
from backend.kit.db import Database
from backend.kit.errors import Problems
from tests.conftest import GraphQL

DATA = Path(__file__).resolve().parents[2] / "backend" / "catalogue" / "data"

ACTIVITIES = """
query Activities(
  $search: String, $level: ActivityLevel, $parentCode: String, $first: Int, $after: String
) {
  activities(
    search: $search, level: $level, parentCode: $parentCode, first: $first, after: $after
  ) {
    totalCount
    edges { cursor node { code level title parentCode section } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
# `level` left out of the document: the argument's default applies.
ACTIVITY_CODES = """
query Codes($search: String, $parentCode: String) {
  activities(search: $search, parentCode: $parentCode, first: 100) {
    totalCount edges { node { code } }
  }
}
"""
ALL_LEVELS = """
query Codes($search: String, $parentCode: String, $level: ActivityLevel) {
  activities(search: $search, parentCode: $parentCode, level: $level, first: 100) {
    totalCount edges { node { code } }
  }
}
"""
SAWMILLING = {
    "code": "1610",
    "level": "CLASS",
    "title": "Sawmilling and planing of wood",
    "parentCode": "161",
    "section": "C",
}
WOOD_CLASSES = ["0230", "1610", "1621", "1623", "1629"]
DIVISION_16 = ["1610", "1621", "1622", "1623", "1629"]


def codes(body: dict[str, Any]) -> list[str]:
    assert "errors" not in body, body
    return [e["node"]["code"] for e in body["data"]["activities"]["edges"]]


def classes_in_the_data() -> list[str]:
    with (DATA / "isic-rev4.csv").open(encoding="utf-8", newline="") as rows:
        return sorted(row["code"] for row in csv.DictReader(rows) if row["level"] == "CLASS")


async def test_a_word_finds_the_class_with_its_whole_card_without_signing_in(
    gql: GraphQL, db: Database
) -> None:
    # given the activities `eic migrate` loaded, and nobody signed in
    # when the picker searches for a word, in another case
    body = await gql(ACTIVITIES, {"search": "SawMill"})

    # then the one class whose title holds it comes, with its level, parent and section
    cursor = body["data"]["activities"]["edges"][0]["cursor"]
    assert body == {
        "data": {
            "activities": {
                "totalCount": 1,
                "edges": [{"cursor": cursor, "node": SAWMILLING}],
                "pageInfo": {
                    "hasNextPage": False,
                    "hasPreviousPage": False,
                    "startCursor": cursor,
                    "endCursor": cursor,
                },
            }
        }
    }


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("wood", WOOD_CLASSES),
        # every word must match, anywhere in the title
        ("wood containers", ["1623"]),
        ("  CONTAINERS   wood ", ["1623"]),
        ("rice", ["0111", "0112"]),
        # the start of a code finds that division's or group's classes
        ("16", DIVISION_16),
        ("162", ["1621", "1622", "1623", "1629"]),
        ("1610", ["1610"]),
        ("16.2", ["1621", "1622", "1623", "1629"]),
        ("16 containers", ["1623"]),
        # a code prefix is the start of the code, not a part of it
        ("610", []),
        # LIKE wildcards are plain characters
        ("%", []),
        ("_", []),
        ("no such activity anywhere", []),
    ],
)
async def test_the_picker_matches_words_and_the_start_of_codes(
    gql: GraphQL, db: Database, search: str, found: list[str]
) -> None:
    # given the loaded activities
    # when the picker searches as the user types
    body = await gql(ACTIVITY_CODES, {"search": search})

    # then the matching classes come by code
    assert codes(body) == found
    assert body["data"]["activities"]["totalCount"] == len(found)


@pytest.mark.parametrize(
    ("variables", "found"),
    [
        # every level when the level is null
        ({"search": "16", "level": None}, ["16", "161", "1610", "162", *DIVISION_16[1:]]),
        ({"search": "wood", "level": "GROUP"}, ["023", "161", "162"]),
        ({"search": "wood", "level": "DIVISION"}, ["16"]),
        ({"search": "manufacturing", "level": "SECTION"}, ["C"]),
        # below a parent, at any depth
        ({"parentCode": "16"}, DIVISION_16),
        ({"parentCode": "161"}, ["1610"]),
        ({"parentCode": "1610"}, []),
        ({"parentCode": "16", "level": "GROUP"}, ["161", "162"]),
        ({"parentCode": "16", "level": None}, ["161", "1610", "162", *DIVISION_16[1:]]),
        ({"parentCode": "C", "level": "DIVISION"}, [str(d) for d in range(10, 34)]),
        ({"parentCode": "A", "search": "wood"}, ["0230"]),
        ({"parentCode": "C", "search": "wood"}, WOOD_CLASSES[1:]),
    ],
)
async def test_level_and_parent_filters(
    gql: GraphQL, db: Database, variables: dict[str, Any], found: list[str]
) -> None:
    # given the loaded activities
    # when the picker narrows by level or browses below an activity
    body = await gql(ALL_LEVELS, variables)

    # then only those of the level, below the parent, come by code
    assert codes(body) == found


async def test_the_default_is_the_classes_only(gql: GraphQL, db: Database) -> None:
    # given the loaded activities: 21 sections, 88 divisions, 238 groups and 419 classes
    # when the picker opens without a search
    body = await gql(ACTIVITY_CODES)

    # then it lists the 419 classes, the level organisations name, from the first code
    assert body["data"]["activities"]["totalCount"] == 419
    assert codes(body) == classes_in_the_data()[:100]


async def test_pages_walk_every_class_once_in_code_order(gql: GraphQL, db: Database) -> None:
    # given the 419 classes
    # when they are read a hundred at a time
    seen: list[str] = []
    after = None
    pages = []
    while True:
        body = await gql(ACTIVITIES, {"first": 100, "after": after})
        connection = body["data"]["activities"]
        pages.append((len(connection["edges"]), connection["pageInfo"]["hasPreviousPage"]))
        seen += codes(body)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    # then five pages hold each class once, by code
    assert pages == [(100, False), (100, True), (100, True), (100, True), (19, True)]
    assert seen == classes_in_the_data()


async def test_a_page_of_a_search_continues_after_its_cursor(gql: GraphQL, db: Database) -> None:
    # given the five classes of division 16, read two at a time
    first = await gql(ACTIVITIES, {"search": "16", "first": 2})
    assert codes(first) == DIVISION_16[:2]
    after = first["data"]["activities"]["pageInfo"]["endCursor"]

    # when the next two are asked for
    second = await gql(ACTIVITIES, {"search": "16", "first": 2, "after": after})

    # then they follow, and one more is left
    assert codes(second) == DIVISION_16[2:4]
    assert second["data"]["activities"]["pageInfo"]["hasNextPage"] is True
    assert second["data"]["activities"]["totalCount"] == 5


async def test_signed_in_people_read_the_same(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a signed-in firm
    firm = await register("admin@pellets.example", cluster_id)

    # when it searches, and somebody without a token searches the same
    signed_in = await gql(ACTIVITIES, {"search": "sawmill"}, token=firm.access_token)
    anonymous = await gql(ACTIVITIES, {"search": "sawmill"}, token="")

    # then both get the same answer
    assert signed_in == anonymous
    assert codes(signed_in) == ["1610"]


@pytest.mark.parametrize(
    ("variables", "extensions"),
    [
        # not a code at all, and a code of the right shape that ISIC does not have
        ({"parentCode": "ewc-03"}, {"code": "VALIDATION", "field": "parentCode"}),
        ({"parentCode": "Z"}, {"code": "VALIDATION", "field": "parentCode"}),
        ({"parentCode": "04"}, {"code": "VALIDATION", "field": "parentCode"}),
        ({"search": "x" * 101}, {"code": "VALIDATION", "field": "search"}),
        ({"first": 101}, {"code": "VALIDATION", "field": "first"}),
    ],
)
async def test_bad_arguments_are_validation_errors(
    gql: GraphQL, db: Database, variables: dict[str, Any], extensions: Any
) -> None:
    # given the loaded activities
    # when the picker is given an argument it cannot use
    body = await gql(ACTIVITIES, variables)

    # then the query fails with a validation error on that argument
    assert body["data"] is None, body
    assert [(e["path"], e["extensions"]) for e in body["errors"]] == [(["activities"], extensions)]


async def test_loaders_read_many_activities_by_code_in_one_statement(
    db: Database, sql_statements: Any
) -> None:
    # given codes of every level, one unknown and one that is no code at all
    wanted = ["1610", "16", "C", "9999", "16'; --", "1610"]

    # when the loaders' look-up reads them
    with sql_statements() as log:
        found = await catalogue.get_activities(db=db, codes=wanted)

    # then the existing ones come by code, in one statement (the malformed one never reaches it)
    assert {code: (a.level.value, a.parent_code) for code, a in found.items()} == {
        "1610": ("CLASS", "161"),
        "16": ("DIVISION", "C"),
        "C": ("SECTION", None),
    }
    assert [s for s in log.statements if not s.startswith("BEGIN")] == [log.statements[-1]]
    # and nothing at all is read for no codes
    with sql_statements() as nothing:
        assert await catalogue.get_activities(db=db, codes=["x"]) == {}
    assert nothing.count == 0
    # and one activity comes by its code
    sawmilling = await catalogue.get_activity(db=db, code="1610")
    assert sawmilling is not None
    assert (sawmilling.title, sawmilling.section) == ("Sawmilling and planing of wood", "C")
    assert await catalogue.get_activity(db=db, code="16-10") is None


@pytest.mark.parametrize(
    ("code", "problems"),
    [
        ("1610", []),
        (
            "16",
            [
                (
                    "activityCode",
                    "16 is a division of ISIC Rev. 4: choose one of its classes (four digits)",
                )
            ],
        ),
        ("9999", [("activityCode", "Not an ISIC Rev. 4 activity code")]),
        ("sawmill", [("activityCode", "Not an ISIC Rev. 4 activity code")]),
    ],
)
async def test_other_domains_check_a_class_in_their_own_unit_of_work(
    db: Database, code: str, problems: list[tuple[str, str]]
) -> None:
    # given a unit of work of another domain and its problems so far
    found = Problems()

    # when it checks the code an organisation gave
    async with db.read() as session:
        activity = await catalogue.check_activity_class(session, found, code, "activityCode")

    # then a class comes back, anything else is a problem on the caller's field
    assert [(p.field, p.message) for p in found.items] == problems
    assert (activity.code if activity else None) == (None if problems else code)
