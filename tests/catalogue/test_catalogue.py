"""The material catalogue and units through GraphQL: browsing, search in the clusters' languages,
single materials, units, and platform admins adding materials."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.catalogue.models import Material
from backend.kit.db import Database
from tests.conftest import GraphQL

DATA = Path(__file__).resolve().parents[2] / "backend" / "catalogue" / "data"

MATERIALS = """
query Materials($search: String, $parentCode: String, $first: Int, $after: String) {
  materials(search: $search, parentCode: $parentCode, first: $first, after: $after) {
    totalCount
    edges { node { code name } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""
MATERIAL_NAMES = """
query Materials($search: String, $parentCode: String) {
  materials(search: $search, parentCode: $parentCode, first: 100) {
    totalCount edges { node { code name } }
  }
}
"""
MATERIAL = """
query Material($code: String!) {
  material(code: $code) {
    code name parentCode ewcCode hsCode hazardous description
    localNames { language name }
    ja: displayName(language: "ja")
    vi: displayName(language: "vi")
    de: displayName(language: "de")
  }
}
"""
UNITS = "query { units { code name symbol dimension factor } }"
MATERIAL_CREATE = """
mutation Create($input: MaterialCreateInput!) {
  materialCreate(input: $input) {
    material {
      code name parentCode ewcCode hsCode hazardous description localNames { language name }
    }
    errors { code message field }
  }
}
"""
LISTING_CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) {
    listing { id status material { code ewcCode hazardous } }
    errors { code message field }
  }
}
"""
LISTINGS_OF_MATERIAL = """
query Listings($code: String!) {
  listings(filter: {materialCode: $code}) { totalCount edges { node { id title } } }
}
"""


def nodes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["node"]["code"], e["node"]["name"]) for e in body["data"]["materials"]["edges"]]


# The 21 roots by name: the 20 EWC chapters and the eco-products.
ROOTS = [
    (
        "ewc-17",
        "Construction and demolition wastes (including excavated soil from contaminated sites)",
    ),
    ("eco-products", "Eco-products"),
    (
        "ewc-20",
        "Municipal wastes (household waste and similar commercial, industrial and institutional "
        "wastes) including separately collected fractions",
    ),
    (
        "ewc-13",
        "Oil wastes and wastes of liquid fuels (except edible oils, and those in chapters 05, 12 "
        "and 19)",
    ),
    ("ewc-14", "Waste organic solvents, refrigerants and propellants (except 07 and 08)"),
    (
        "ewc-15",
        "Waste packaging, absorbents, wiping cloths, filter materials and protective clothing not "
        "otherwise specified",
    ),
    (
        "ewc-02",
        "Wastes from agriculture, horticulture, aquaculture, forestry, hunting and fishing, food "
        "preparation and processing",
    ),
    (
        "ewc-11",
        "Wastes from chemical surface treatment and coating of metals and other materials; "
        "non-ferrous hydro-metallurgy",
    ),
    (
        "ewc-18",
        "Wastes from human or animal health care and/or related research (except kitchen and "
        "restaurant wastes not arising from immediate health care)",
    ),
    ("ewc-06", "Wastes from inorganic chemical processes"),
    ("ewc-07", "Wastes from organic chemical processes"),
    (
        "ewc-05",
        "Wastes from petroleum refining, natural gas purification and pyrolytic treatment of coal",
    ),
    (
        "ewc-12",
        "Wastes from shaping and physical and mechanical surface treatment of metals and plastics",
    ),
    ("ewc-04", "Wastes from the leather, fur and textile industries"),
    (
        "ewc-08",
        "Wastes from the manufacture, formulation, supply and use (mfsu) of coatings (paints, "
        "varnishes and vitreous enamels), adhesives, sealants and printing inks",
    ),
    ("ewc-09", "Wastes from the photographic industry"),
    ("ewc-10", "Wastes from thermal processes"),
    (
        "ewc-19",
        "Wastes from waste management facilities, off-site waste water treatment plants and the "
        "preparation of water intended for human consumption and water for industrial use",
    ),
    (
        "ewc-03",
        "Wastes from wood processing and the production of panels and furniture, pulp, paper and "
        "cardboard",
    ),
    ("ewc-16", "Wastes not otherwise specified in the list"),
    (
        "ewc-01",
        "Wastes resulting from exploration, mining, quarrying, and physical and chemical "
        "treatment of minerals",
    ),
]
EWC_03_01_05 = (
    "ewc-03-01-05",
    "Sawdust, shavings, cuttings, wood, particle board and veneer other than those mentioned in "
    "03 01 04",
)
EWC_03_01_04 = (
    "ewc-03-01-04",
    "Sawdust, shavings, cuttings, wood, particle board and veneer containing hazardous substances",
)


async def test_materials_without_arguments_lists_the_roots_by_name(
    gql: GraphQL, db: Database
) -> None:
    # given the catalogue `eic migrate` loaded, and nobody signed in
    # when the catalogue is browsed without arguments
    first_page = await gql(MATERIALS)

    # then the first 20 roots come by name, and one more waits on the next page
    assert first_page["data"]["materials"]["totalCount"] == 21, first_page
    assert nodes(first_page) == ROOTS[:20]
    page_info = first_page["data"]["materials"]["pageInfo"]
    assert (page_info["hasNextPage"], page_info["hasPreviousPage"]) == (True, False)

    # when the next page is asked for
    second_page = await gql(MATERIALS, {"after": page_info["endCursor"]})

    # then it holds the last root and nothing follows
    assert nodes(second_page) == ROOTS[20:]
    assert second_page["data"]["materials"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("parent_code", "children"),
    [
        (
            "ewc-03",
            [
                ("ewc-03-03", "Wastes from pulp, paper and cardboard production and processing"),
                ("ewc-03-02", "Wastes from wood preservation"),
                (
                    "ewc-03-01",
                    "Wastes from wood processing and the production of panels and furniture",
                ),
            ],
        ),
        (
            "ewc-03-01-05",
            [
                ("sawdust", "Sawdust"),
                ("wood-shavings", "Wood shavings"),
                ("wood-trimmings", "Wood trimmings and offcuts"),
            ],
        ),
        (
            "eco-products",
            [
                ("bio-ethanol", "Bio-ethanol"),
                ("biodiesel", "Biodiesel"),
                ("biogas", "Biogas"),
                ("biomass-briquettes", "Biomass briquettes"),
                ("fish-feed", "Fish feed"),
                ("green-electricity", "Green electricity from biomass"),
                ("natural-cosmetics", "Natural cosmetics"),
                ("rice-bran-oil", "Rice bran oil"),
                ("spun-silk", "Spun silk yarn"),
                ("cat-sand", "Wood cat litter"),
                ("wood-pellets", "Wood pellets"),
                ("wood-concrete", "Wood-based concrete"),
            ],
        ),
        ("bark", []),
    ],
)
async def test_materials_with_parent_code_lists_its_children_by_name(
    gql: GraphQL, db: Database, parent_code: str, children: list[tuple[str, str]]
) -> None:
    # given the loaded catalogue
    # when the children of one material are asked for
    body = await gql(MATERIAL_NAMES, {"parentCode": parent_code})

    # then exactly its direct children come, by name (grandchildren stay below)
    assert "errors" not in body, body
    assert nodes(body) == children
    assert body["data"]["materials"]["totalCount"] == len(children)


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("sawdust", [("sawdust", "Sawdust"), EWC_03_01_04, EWC_03_01_05]),
        ("SawDust", [("sawdust", "Sawdust"), EWC_03_01_04, EWC_03_01_05]),
        ("  husk ", [("rice-husk", "Rice husk"), ("rice-husk-ash", "Rice husk ash")]),
        ("おがくず", [("sawdust", "Sawdust")]),
        ("แกลบ", [("rice-husk", "Rice husk"), ("rice-husk-ash", "Rice husk ash")]),
        ("trấu", [("rice-husk", "Rice husk"), ("rice-husk-ash", "Rice husk ash")]),
        ("TRẤU", [("rice-husk", "Rice husk"), ("rice-husk-ash", "Rice husk ash")]),
        ("mỡ cá", [("fish-fat", "Fish fat")]),
        (
            "03 01 05",
            [
                ("sawdust", "Sawdust"),
                EWC_03_01_05,
                ("wood-shavings", "Wood shavings"),
                ("wood-trimmings", "Wood trimmings and offcuts"),
            ],
        ),
        ("wood-shavings", [("wood-shavings", "Wood shavings")]),
        # LIKE wildcards are plain characters; no material has them in its names
        ("%", []),
        ("_", []),
        ("no such material anywhere", []),
    ],
)
async def test_materials_search_matches_codes_and_names_in_any_language(
    gql: GraphQL, db: Database, search: str, found: list[tuple[str, str]]
) -> None:
    # given the loaded catalogue
    # when it is searched without a parent
    body = await gql(MATERIAL_NAMES, {"search": search})

    # then every material whose code, name in any language or EWC code holds the text comes
    assert "errors" not in body, body
    assert nodes(body) == found
    assert body["data"]["materials"]["totalCount"] == len(found)


@pytest.mark.parametrize(
    ("search", "parent_code", "found"),
    [
        # rice husk ash is under EWC 10 (thermal processes), not under 02
        ("husk", "ewc-02", [("rice-husk", "Rice husk")]),
        ("husk", "ewc-10", [("rice-husk-ash", "Rice husk ash")]),
        # the parent itself is not below itself
        ("sawdust", "ewc-03-01-05", [("sawdust", "Sawdust")]),
        ("sawdust", "ewc-03", [("sawdust", "Sawdust"), EWC_03_01_04, EWC_03_01_05]),
        ("sawdust", "ewc-02", []),
    ],
)
async def test_materials_search_within_a_parent_looks_in_its_whole_subtree(
    gql: GraphQL, db: Database, search: str, parent_code: str, found: list[tuple[str, str]]
) -> None:
    # given the loaded catalogue
    # when it is searched below one material
    body = await gql(MATERIAL_NAMES, {"search": search, "parentCode": parent_code})

    # then only matches below that material come, at any depth
    assert "errors" not in body, body
    assert nodes(body) == found


async def test_materials_search_pages_walk_every_match_once(gql: GraphQL, db: Database) -> None:
    # given the 23 materials whose code starts with ewc-03 (chapter, sub-chapters, entries)
    expected = (await gql(MATERIAL_NAMES, {"search": "ewc-03"}))["data"]["materials"]
    assert expected["totalCount"] == 23, expected

    # when they are read five at a time
    seen: list[tuple[str, str]] = []
    after = None
    pages = 0
    while True:
        body = await gql(MATERIALS, {"search": "ewc-03", "first": 5, "after": after})
        connection = body["data"]["materials"]
        assert connection["totalCount"] == 23
        seen += nodes(body)
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    # then each comes exactly once, in the order of the single page
    assert pages == 5
    assert seen == [(e["node"]["code"], e["node"]["name"]) for e in expected["edges"]]
    assert all(code.startswith("ewc-03") for code, _ in seen)


@pytest.mark.parametrize("search", [None, "sawdust"])
async def test_materials_with_an_unknown_parent_code_is_a_validation_error(
    gql: GraphQL, db: Database, search: str | None
) -> None:
    # given a code the catalogue does not have
    # when it is browsed below it
    body = await gql(
        'query M($search: String) { materials(parentCode: "ewc-99", search: $search) '
        "{ totalCount } }",
        {"search": search},
    )

    # then the query fails with a validation error on parentCode
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Not a code of the material catalogue",
                "locations": [{"line": 1, "column": 28}],
                "path": ["materials"],
                "extensions": {"code": "VALIDATION", "field": "parentCode"},
            }
        ],
    }


async def test_material_by_code_carries_codes_and_local_names(gql: GraphQL, db: Database) -> None:
    # given the loaded catalogue
    # when one of the clusters' materials is read
    body = await gql(MATERIAL, {"code": "sawdust"})

    # then it carries the EWC code of its entry, its HS code and its names in the clusters'
    # languages, and a display name per language that falls back to English
    assert body == {
        "data": {
            "material": {
                "code": "sawdust",
                "name": "Sawdust",
                "parentCode": "ewc-03-01-05",
                "ewcCode": "03 01 05",
                "hsCode": "4401.41",
                "hazardous": False,
                "description": "",
                "localNames": [
                    {"language": "ja", "name": "おがくず"},
                    {"language": "th", "name": "ขี้เลื่อย"},
                    {"language": "vi", "name": "mùn cưa"},
                ],
                "ja": "おがくず",
                "vi": "mùn cưa",
                "de": "Sawdust",
            }
        }
    }


async def test_material_by_code_shows_a_hazardous_ewc_entry(gql: GraphQL, db: Database) -> None:
    # given 03 01 04, marked hazardous in the EWC list
    # when it is read
    body = await gql(MATERIAL, {"code": "ewc-03-01-04"})

    # then it is hazardous, has its EWC code and no names but the English one
    assert body == {
        "data": {
            "material": {
                "code": "ewc-03-01-04",
                "name": EWC_03_01_04[1],
                "parentCode": "ewc-03-01",
                "ewcCode": "03 01 04",
                "hsCode": None,
                "hazardous": True,
                "description": "Mirror hazardous",
                "localNames": [],
                "ja": EWC_03_01_04[1],
                "vi": EWC_03_01_04[1],
                "de": EWC_03_01_04[1],
            }
        }
    }


async def test_material_by_code_is_null_for_an_unknown_code(gql: GraphQL, db: Database) -> None:
    # given a code nobody defined
    # when it is read
    body = await gql(MATERIAL, {"code": "unobtainium"})

    # then there is no material, and no error
    assert body == {"data": {"material": None}}


async def test_material_lookups_with_control_characters_find_nothing(gql: GraphQL) -> None:
    body = await gql('query { material(code: "wood\\u0000") { code } }')
    assert body == {"data": {"material": None}}


async def test_units_list_every_unit_with_dimension_and_factor(gql: GraphQL, db: Database) -> None:
    # given the units `eic migrate` loaded
    # when they are listed
    body = await gql(UNITS)

    # then each comes with its factor to its dimension's base unit, by dimension and size
    def unit(code: str, name: str, symbol: str, dimension: str, factor: str) -> dict[str, str]:
        return {
            "code": code,
            "name": name,
            "symbol": symbol,
            "dimension": dimension,
            "factor": factor,
        }

    assert body == {
        "data": {
            "units": [
                unit("BG", "bag", "bag", "BAG", "1"),
                unit("H87", "piece", "pc", "COUNT", "1"),
                unit("DZN", "dozen", "doz", "COUNT", "12"),
                unit("KWH", "kilowatt hour", "kWh", "ENERGY", "1"),
                unit("GJ", "gigajoule", "GJ", "ENERGY", "277.7777777778"),
                unit("MWH", "megawatt hour", "MWh", "ENERGY", "1000"),
                unit("GRM", "gram", "g", "MASS", "0.001"),
                unit("KGM", "kilogram", "kg", "MASS", "1"),
                unit("QTL", "quintal (100 kg)", "q", "MASS", "100"),
                unit("TNE", "tonne", "t", "MASS", "1000"),
                unit("MLT", "millilitre", "ml", "VOLUME", "0.001"),
                unit("LTR", "litre", "l", "VOLUME", "1"),
                unit("MTQ", "cubic metre", "m³", "VOLUME", "1000"),
            ]
        }
    }


async def test_platform_admin_adds_a_material_that_firms_can_list(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # given a platform admin and a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when the admin adds cedar sawdust under sawdust
    created = await gql(
        MATERIAL_CREATE,
        {
            "input": {
                "code": "sugi-sawdust",
                "parentCode": "sawdust",
                "name": " Cedar (sugi) sawdust ",
                "localNames": [{"language": "ja", "name": "杉おがくず"}],
                "hsCode": "4401.41",
                "description": "From Japanese cedar only.",
            }
        },
        token=platform_admin_token,
    )

    # then it exists under its parent and inherits the EWC code and hazard flag
    material = {
        "code": "sugi-sawdust",
        "name": "Cedar (sugi) sawdust",
        "parentCode": "sawdust",
        "ewcCode": "03 01 05",
        "hsCode": "4401.41",
        "hazardous": False,
        "description": "From Japanese cedar only.",
        "localNames": [{"language": "ja", "name": "杉おがくず"}],
    }
    assert created == {"data": {"materialCreate": {"material": material, "errors": []}}}
    read = await gql(MATERIAL, {"code": "sugi-sawdust"})
    assert read["data"]["material"] == {
        **material,
        "ja": "杉おがくず",
        "vi": "Cedar (sugi) sawdust",
        "de": "Cedar (sugi) sawdust",
    }
    assert nodes(await gql(MATERIAL_NAMES, {"parentCode": "sawdust"})) == [
        ("sugi-sawdust", "Cedar (sugi) sawdust")
    ]
    assert nodes(await gql(MATERIAL_NAMES, {"search": "杉"})) == [
        ("sugi-sawdust", "Cedar (sugi) sawdust")
    ]

    # when the firm lists it
    listed = await gql(
        LISTING_CREATE,
        {
            "input": {
                "kind": "OFFER",
                "category": "BY_PRODUCT",
                "title": "Sugi sawdust, kiln dried",
                "materialCode": "sugi-sawdust",
                "quantity": "3",
                "unit": "TNE",
                "location": {"lat": 35.09, "lon": 133.69},
                "publish": True,
            }
        },
        token=firm.access_token,
    )

    # then the listing is made, and a search for its ancestors finds it
    payload = listed["data"]["listingCreate"]
    assert payload["errors"] == [], listed
    assert payload["listing"]["material"] == {
        "code": "sugi-sawdust",
        "ewcCode": "03 01 05",
        "hazardous": False,
    }
    listing_id = payload["listing"]["id"]
    for ancestor in ("sugi-sawdust", "sawdust", "ewc-03-01-05", "ewc-03"):
        found = await gql(LISTINGS_OF_MATERIAL, {"code": ancestor})
        assert found == {
            "data": {
                "listings": {
                    "totalCount": 1,
                    "edges": [{"node": {"id": listing_id, "title": "Sugi sawdust, kiln dried"}}],
                }
            }
        }, ancestor


@pytest.mark.parametrize(("given", "expected"), [(None, True), (True, True)])
async def test_material_created_under_a_hazardous_entry_inherits_its_flag_unless_given(
    gql: GraphQL, db: Database, platform_admin_token: str, given: bool | None, expected: bool
) -> None:
    # given the hazardous entry 03 01 04
    # when an admin adds a material below it, with or without its own flag
    body = await gql(
        MATERIAL_CREATE,
        {
            "input": {
                "code": "treated-sawdust",
                "parentCode": "ewc-03-01-04",
                "name": "Sawdust of treated timber",
                "hazardous": given,
            }
        },
        token=platform_admin_token,
    )

    # then it takes the parent's flag when none is given
    assert body == {
        "data": {
            "materialCreate": {
                "material": {
                    "code": "treated-sawdust",
                    "name": "Sawdust of treated timber",
                    "parentCode": "ewc-03-01-04",
                    "ewcCode": "03 01 04",
                    "hsCode": None,
                    "hazardous": expected,
                    "description": "",
                    "localNames": [],
                },
                "errors": [],
            }
        }
    }


async def test_a_material_under_a_hazardous_entry_cannot_be_made_not_hazardous(
    gql: GraphQL, db: Database, platform_admin_token: str
) -> None:
    # given the hazardous entry 03 01 04: the marketplace's licence check reads the flag
    # when an admin adds a material below it marked not hazardous
    body = await gql(
        MATERIAL_CREATE,
        {
            "input": {
                "code": "treated-sawdust",
                "parentCode": "ewc-03-01-04",
                "name": "Sawdust of treated timber",
                "hazardous": False,
            }
        },
        token=platform_admin_token,
    )
    # then it is refused, and nothing is made
    assert body["data"]["materialCreate"] == {
        "material": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "ewc-03-01-04 is hazardous, and so is everything below it",
                "field": "hazardous",
            }
        ],
    }
    assert (await gql(MATERIAL, {"code": "treated-sawdust"}))["data"] == {"material": None}


NEW_MATERIAL = {"code": "cedar-chips", "parentCode": "ewc-03-01-05", "name": "Cedar chips"}


async def test_material_create_by_a_firm_is_forbidden(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it tries to add a material
    body = await gql(MATERIAL_CREATE, {"input": NEW_MATERIAL}, token=firm.access_token)

    # then it is refused and nothing is added
    assert body == {
        "data": {
            "materialCreate": {
                "material": None,
                "errors": [
                    {
                        "code": "FORBIDDEN",
                        "message": "Only platform admins may do this",
                        "field": None,
                    }
                ],
            }
        }
    }
    assert await gql(MATERIAL, {"code": "cedar-chips"}) == {"data": {"material": None}}


async def test_material_create_without_signing_in_is_unauthenticated(
    gql: GraphQL, db: Database
) -> None:
    # given nobody signed in
    # when a material is added
    body = await gql(MATERIAL_CREATE, {"input": NEW_MATERIAL})

    # then it is refused as unauthenticated
    assert body == {
        "data": {
            "materialCreate": {
                "material": None,
                "errors": [
                    {"code": "UNAUTHENTICATED", "message": "Sign in to do this", "field": None}
                ],
            }
        }
    }
    assert await gql(MATERIAL, {"code": "cedar-chips"}) == {"data": {"material": None}}


@pytest.mark.parametrize("code", ["sawdust", "ewc-03", "cedar-chips"])
async def test_material_create_with_a_code_in_use_is_a_conflict(
    gql: GraphQL, db: Database, platform_admin_token: str, code: str
) -> None:
    # given a material with the code exists (from the catalogue, or added by an admin)
    gql.token = platform_admin_token
    first = await gql(MATERIAL_CREATE, {"input": NEW_MATERIAL})
    assert first["data"]["materialCreate"]["errors"] == [], first

    # when an admin adds another with the same code
    body = await gql(
        MATERIAL_CREATE, {"input": {"code": code, "parentCode": "bark", "name": "Another one"}}
    )

    # then it is a conflict on the code, and the existing material is unchanged
    assert body == {
        "data": {
            "materialCreate": {
                "material": None,
                "errors": [
                    {
                        "code": "CONFLICT",
                        "message": "A material with this code exists",
                        "field": "code",
                    }
                ],
            }
        }
    }
    existing = await gql(MATERIAL, {"code": code})
    assert existing["data"]["material"]["parentCode"] != "bark"
    assert existing["data"]["material"]["name"] != "Another one"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        *(
            (
                {"code": code},
                "code",
                "Use lower-case letters, digits and single hyphens (at most 64)",
            )
            for code in [
                "Cedar-Chips",
                "cedar chips",
                "cedar--chips",
                "-cedar",
                "cedar-",
                "",
                "a" * 65,
            ]
        ),
        *(
            ({"hsCode": hs_code}, "hsCode", "Use an HS code such as 4401.31")
            for hs_code in ["44", "44014", "4401.4", "4401.41.1", "4401-41", "abcd", ""]
        ),
        ({"name": "x"}, "name", "Must have at least 2 characters"),
        ({"parentCode": "ewc-99"}, "parentCode", "Not a code of the material catalogue"),
    ],
)
async def test_material_create_with_bad_input_is_a_validation_error(
    gql: GraphQL,
    db: Database,
    platform_admin_token: str,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    # given a platform admin
    # when a material with one bad field is added
    body = await gql(
        MATERIAL_CREATE, {"input": {**NEW_MATERIAL, **changes}}, token=platform_admin_token
    )

    # then it is a validation error on that field and nothing is added
    assert body == {
        "data": {
            "materialCreate": {
                "material": None,
                "errors": [{"code": "VALIDATION", "message": message, "field": field}],
            }
        }
    }
    assert await gql(MATERIAL, {"code": NEW_MATERIAL["code"]}) == {"data": {"material": None}}


async def test_material_create_accepts_the_longest_code_and_hs_code_forms(
    gql: GraphQL, db: Database, platform_admin_token: str
) -> None:
    # given a platform admin
    gql.token = platform_admin_token

    # when materials at the edges of the code rules are added
    results = [
        await gql(
            MATERIAL_CREATE,
            {"input": {**NEW_MATERIAL, "code": code, "hsCode": hs_code}},
        )
        for code, hs_code in [("a" * 64, "4401"), ("cedar-2", "4401.41"), ("c3", "4401.41.10")]
    ]

    # then each is accepted
    assert [r["data"]["materialCreate"]["errors"] for r in results] == [[], [], []]
    assert [r["data"]["materialCreate"]["material"]["hsCode"] for r in results] == [
        "4401",
        "4401.41",
        "4401.41.10",
    ]


def test_ewc_attribution_notice_ships_next_to_the_data() -> None:
    # given the data directory of the catalogue
    # when its notice is read
    notice = (DATA / "NOTICE").read_text(encoding="utf-8")

    # then it names the list, its source and the licence the EWC titles are used under
    assert "ewc-codes.csv" in notice
    assert "Open Government Licence v3.0" in notice
    assert (DATA / "ewc-codes.csv").is_file()


async def test_every_ewc_entry_of_the_csv_is_in_the_catalogue(db: Database) -> None:
    # given the EWC list shipped with the code
    with (DATA / "ewc-codes.csv").open(encoding="utf-8", newline="") as rows:
        csv_entries = {
            "ewc-" + row["code"].replace(" ", "-"): (
                row["code"],
                row["description"],
                row["hazardous"] == "true",
            )
            for row in csv.DictReader(rows)
        }
    assert len(csv_entries) == 842

    # when the catalogue's EWC entries (codes with three parts after "ewc") are read
    async with db.read() as session:
        materials = (
            await session.scalars(select(Material).where(Material.code.like("ewc-%")))
        ).all()
    entries = {
        m.code: (m.ewc_code, m.name, m.hazardous) for m in materials if len(m.code.split("-")) == 4
    }

    # then they are exactly the CSV's entries, with its codes, titles and hazard flags
    assert len(entries) == 842
    assert entries == csv_entries
    assert sum(hazardous for _, _, hazardous in entries.values()) == sum(
        hazardous for _, _, hazardous in csv_entries.values()
    )
