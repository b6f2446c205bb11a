"""The demo's umbrella permits and waste licence (issue 19), read through the API as the demo
accounts: Maniwa's wood-waste permit with its members, allocations under the cap, a FREE
transfer in the ledger and returns (one amended, one late); An Giang's effluent permit with one
fillet plant over its BOD allocation; the wastewater firm's verified licence for hazardous
sludge, the fillet plant's sludge on offer, refused to a firm without a licence and open to the
licensed one. Loading again, even months later, creates nothing.

The demo is loaded at a fixed moment (its dates follow the clock it is loaded with), so every
date and figure below is the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend import demo
from backend.auth.passwords import Passwords
from backend.auth.security import Security
from backend.demo import ids
from backend.demo.permits import SLUDGE_OFFERER, SLUDGE_TITLE
from backend.identity import service as identity_service
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.licences.models import LicenceCoverage, WasteLicence
from backend.marketplace.models import Listing
from backend.permits.models import (
    Allocation,
    AllocationEntry,
    AllocationTransfer,
    Permit,
    PermitCondition,
    PermitMember,
    PermitReturn,
)
from backend.settings import Settings
from tests.conftest import GraphQL
from tests.kit import problem

# When the demo is loaded: the 10th, so last month's returns are all in (filed from the 3rd).
LOADED_AT = datetime(2030, 3, 10, 3, 0, tzinfo=UTC)  # 12:00 in Maniwa, 10:00 in An Giang

MANIWA = str(ids.permit_id("maniwa-wood-waste"))
WOOD_WASTE = str(ids.permit_condition_id("maniwa-wood-waste", "wood-waste-landfill"))
AN_GIANG = str(ids.permit_id("an-giang-effluent"))
BOD = str(ids.permit_condition_id("an-giang-effluent", "bod"))
LICENCE = str(ids.licence_id("long-xuyen-wastewater", "CTNH-AG-014"))
SLUDGE_LISTING = str(ids.listing_id(SLUDGE_OFFERER, SLUDGE_TITLE, 0))


def org(key: str) -> str:
    return str(ids.organisation_id(key))


@pytest.fixture
async def loaded(db: Database, settings: Settings, clock: ManualClock) -> ManualClock:
    """The demo loaded at :data:`LOADED_AT`, and the app's clock there."""
    clock.set(LOADED_AT)
    await demo.seed_demo(db, Passwords(settings), clock)
    return clock


@pytest.fixture
def sign_in(db: Database, settings: Settings) -> Any:
    """``await sign_in(key)``: the demo account of organisation ``key``, acting for it."""
    security = Security.from_settings(settings)

    async def _sign_in(key: str) -> str:
        pair = await identity_service.create_token(
            db=db,
            security=security,
            email=demo.demo_email(key),
            password=demo.DEMO_PASSWORD,
            organisation_id=ids.organisation_id(key),
            client_address=None,
        )
        return pair.access_token

    return _sign_in


PERMIT = """
query Permit($id: ID!, $ledgerOf: ID) {
  permit(id: $id) {
    reference title validFrom validTo transferRule returnDueDays
    holder { name kind } authority { name }
    viewerStanding { holder holderAdmin authority member }
    members(first: 20) {
      totalCount
      edges { node { organisation { name } coveredFrom coveredTo current } }
    }
    conditions {
      title parameter material { code hazardous } cap unit { code } frequency
      allocated unallocated
      allocations { organisation { name } amount }
      transfers(first: 10) {
        edges { node { id fromOrganisation { name } toOrganisation { name } amount status note
                       createdAt decidedAt } }
      }
      ledger(organisationId: $ledgerOf, first: 10) {
        edges { node { reason change balanceAfter transferId actingOrganisation { name }
                       createdAt } }
      }
    }
  }
}
"""

RETURN_VERSIONS = """
query Versions($conditionId: ID!, $periodStart: Date!, $organisationId: ID!) {
  permitReturnVersions(
    conditionId: $conditionId, periodStart: $periodStart, organisationId: $organisationId
  ) {
    totalCount
    edges { node { version generated treatedOnSite sentToMembers sentThroughMarketplace
                   sentToDisposal unitCode note filedAt late } }
  }
}
"""

COMPLIANCE = """
query Compliance($conditionId: ID!, $periodStart: Date!) {
  permitConditionCompliance(conditionId: $conditionId, periodStart: $periodStart) {
    title cap unitCode period { start end due } total status returnsFiled
    members { organisationName allocation sentToDisposal share status latestVersion late missing }
  }
}
"""

REPORT = """
query Report($permitId: ID!, $periodStart: Date!) {
  permitReport(permitId: $permitId, periodStart: $periodStart) {
    holderName authorityName startsOn endsOn
    members { organisationName }
    lateReturns { conditionTitle periodStart organisationName }
    missingReturns { organisationName }
  }
}
"""

MANIWA_MEMBERS = [
    ("Maniwa Lumber Mill", "12"),
    ("Ochiai Sawmill", "8"),
    ("Kuse Timber Works", "6"),
    ("Maniwa Precut Joinery", "4"),
    ("Hokubo Packing Boxes", "2"),
    ("Katsuyama Crates", "2"),
]


def _allocations(expected: dict[str, str]) -> list[dict[str, Any]]:
    """In the order the API gives them (by organisation id)."""
    return sorted(
        ({"organisation": {"name": name}, "amount": amount} for name, amount in expected.items()),
        key=lambda a: str(ids.organisation_id(_KEYS[a["organisation"]["name"]])),
    )


_KEYS = {org.name: org.key for cluster in demo.CLUSTERS for org in cluster.organisations}


async def test_the_maniwa_permit_as_its_holder_and_its_authority(
    gql: GraphQL, loaded: ManualClock, sign_in: Any
) -> None:
    # Given the demo, when the Biomass Town Association and the city's Environment Division
    # open the permit (the ledger of the sawmill that passed allocation on)
    holder = await sign_in("biomass-town")
    authority = await sign_in("maniwa-city-environment")
    variables = {"id": MANIWA, "ledgerOf": org("kuse-sawmill")}
    as_holder = (await gql(PERMIT, variables, token=holder))["data"]["permit"]
    as_authority = (await gql(PERMIT, variables, token=authority))["data"]["permit"]
    # then both read the same permit, valid from December to November, covering six wood
    # firms since its first day
    transfer = str(ids.permit_transfer_id("maniwa-wood-waste", "kuse-to-ochiai"))
    expected = {
        "reference": "MANIWA-ENV-UP-001",
        "title": "Umbrella permit for wood-waste disposal, Maniwa Biomass Town",
        "validFrom": "2029-12-01",
        "validTo": "2030-11-30",
        "transferRule": "FREE",
        "returnDueDays": 15,
        "holder": {"name": "Maniwa Biomass Town Association", "kind": "COMMUNITY"},
        "authority": {"name": "Maniwa City Environment Division"},
        "members": {
            "totalCount": 6,
            "edges": [
                {
                    "node": {
                        "organisation": {"name": name},
                        "coveredFrom": "2029-12-01",
                        "coveredTo": None,
                        "current": True,
                    }
                }
                for name, _ in MANIWA_MEMBERS
            ],
        },
        # one monthly cap on wood waste (EWC 03 01) to landfill: 34 of its 40 t shared out,
        # then Kuse passed 1.5 t of its 6 to Ochiai
        "conditions": [
            {
                "title": "Wood waste to landfill",
                "parameter": "WASTE_TO_LANDFILL",
                "material": {"code": "ewc-03-01", "hazardous": False},
                "cap": "40",
                "unit": {"code": "TNE"},
                "frequency": "MONTHLY",
                "allocated": "34",
                "unallocated": "6",
                "allocations": _allocations(
                    {
                        **dict(MANIWA_MEMBERS),
                        "Kuse Timber Works": "4.5",
                        "Ochiai Sawmill": "9.5",
                    }
                ),
                "transfers": {
                    "edges": [
                        {
                            "node": {
                                "id": transfer,
                                "fromOrganisation": {"name": "Kuse Timber Works"},
                                "toOrganisation": {"name": "Ochiai Sawmill"},
                                "amount": "1.5",
                                "status": "DONE",
                                "note": "Our new chipper takes most offcuts; Ochiai has the "
                                "big school order.",
                                "createdAt": "2030-01-14T06:00:00+00:00",
                                "decidedAt": "2030-01-14T06:00:00+00:00",
                            }
                        }
                    ]
                },
                # the sawmill's ledger, newest first: the transfer out, its allocation
                "ledger": {
                    "edges": [
                        {
                            "node": {
                                "reason": "TRANSFER_OUT",
                                "change": "-1.5",
                                "balanceAfter": "4.5",
                                "transferId": transfer,
                                "actingOrganisation": {"name": "Kuse Timber Works"},
                                "createdAt": "2030-01-14T06:00:00+00:00",
                            }
                        },
                        {
                            "node": {
                                "reason": "ALLOCATED",
                                "change": "6",
                                "balanceAfter": "6",
                                "transferId": None,
                                "actingOrganisation": {"name": "Maniwa Biomass Town Association"},
                                "createdAt": "2029-12-01T00:02:00+00:00",
                            }
                        },
                    ]
                },
            }
        ],
    }
    assert as_holder == {
        **expected,
        "viewerStanding": {
            "holder": True,
            "holderAdmin": True,
            "authority": False,
            "member": False,
        },
    }
    assert as_authority == {
        **expected,
        "viewerStanding": {
            "holder": False,
            "holderAdmin": False,
            "authority": True,
            "member": False,
        },
    }


async def test_maniwa_returns_amended_and_late_in_compliance_and_the_report(
    gql: GraphQL, loaded: ManualClock, sign_in: Any
) -> None:
    holder = await sign_in("biomass-town")
    authority = await sign_in("maniwa-city-environment")
    # When the holder reads the versions of Ochiai's February return
    versions = await gql(
        RETURN_VERSIONS,
        {
            "conditionId": WOOD_WASTE,
            "periodStart": "2030-02-01",
            "organisationId": org("ochiai-sawmill"),
        },
        token=holder,
    )
    # then there are two, the amendment first: the figures typed, and the sawmill's completed
    # trades of wood waste in February filled in by the server
    assert versions["data"]["permitReturnVersions"] == {
        "totalCount": 2,
        "edges": [
            {
                "node": {
                    "version": 2,
                    "generated": "77.2",
                    "treatedOnSite": "44",
                    "sentToMembers": "6.5",
                    "sentThroughMarketplace": "18.9",
                    "sentToDisposal": "7.8",
                    "unitCode": "TNE",
                    "note": "Corrected: one skip of planer shavings was left out.",
                    "filedAt": "2030-03-06T07:00:00+00:00",
                    "late": False,
                }
            },
            {
                "node": {
                    "version": 1,
                    "generated": "76.6",
                    "treatedOnSite": "44",
                    "sentToMembers": "6.5",
                    "sentThroughMarketplace": "18.9",
                    "sentToDisposal": "7.2",
                    "unitCode": "TNE",
                    "note": "",
                    "filedAt": "2030-03-03T01:00:00+00:00",
                    "late": False,
                }
            },
        ],
    }
    # When the authority reads February's compliance and January's report
    compliance = await gql(
        COMPLIANCE, {"conditionId": WOOD_WASTE, "periodStart": "2030-02-01"}, token=authority
    )
    report = await gql(REPORT, {"permitId": MANIWA, "periodStart": "2030-01-01"}, token=authority)
    # then February's 26.4 t are within the 40 t cap; the lumber mill and (with its amendment)
    # Ochiai are past 80 % of their allocations as they stood at the month's end
    assert compliance["data"]["permitConditionCompliance"] == {
        "title": "Wood waste to landfill",
        "cap": "40",
        "unitCode": "TNE",
        "period": {"start": "2030-02-01", "end": "2030-02-28", "due": "2030-03-15"},
        "total": "26.4",
        "status": "OK",
        "returnsFiled": 6,
        "members": [
            _use("Hokubo Packing Boxes", "2", "1.2", "0.6", "OK"),
            _use("Katsuyama Crates", "2", "1", "0.5", "OK"),
            _use("Kuse Timber Works", "4.5", "2.9", "0.6444", "OK"),
            _use("Maniwa Lumber Mill", "12", "10.4", "0.8667", "WARNING"),
            _use("Maniwa Precut Joinery", "4", "3.1", "0.775", "OK"),
            _use("Ochiai Sawmill", "9.5", "7.8", "0.8211", "WARNING", version=2),
        ],
    }
    # and January's report names the six members and the box maker's late return
    assert report["data"]["permitReport"] == {
        "holderName": "Maniwa Biomass Town Association",
        "authorityName": "Maniwa City Environment Division",
        "startsOn": "2030-01-01",
        "endsOn": "2030-01-31",
        "members": [{"organisationName": name} for name, _ in sorted(MANIWA_MEMBERS)],
        "lateReturns": [
            {
                "conditionTitle": "Wood waste to landfill",
                "periodStart": "2030-01-01",
                "organisationName": "Hokubo Packing Boxes",
            }
        ],
        "missingReturns": [],
    }


def _use(
    name: str, allocation: str, figure: str, share: str, status: str, version: int = 1
) -> dict[str, Any]:
    """One member's row of a compliance card."""
    return {
        "organisationName": name,
        "allocation": allocation,
        "sentToDisposal": figure,
        "share": share,
        "status": status,
        "latestVersion": version,
        "late": False,
        "missing": False,
    }


NOTIFICATIONS = """
query { notifications(unreadOnly: false, first: 30) { edges { node { kind title createdAt } } } }
"""


async def test_an_giang_one_fillet_plant_is_over_its_bod_allocation(
    gql: GraphQL, loaded: ManualClock, sign_in: Any
) -> None:
    # When the provincial department reads February's BOD compliance, and the plant over its
    # allocation its own
    authority = await sign_in("an-giang-environment")
    plant = await sign_in("my-phuoc-seafood")
    as_authority = await gql(
        COMPLIANCE, {"conditionId": BOD, "periodStart": "2030-02-01"}, token=authority
    )
    as_plant = await gql(COMPLIANCE, {"conditionId": BOD, "periodStart": "2030-02-01"}, token=plant)
    inbox = await gql(NOTIFICATIONS, token=plant)
    # then the 2220 kg discharged are within the 3000 kg cap, but My Phuoc's 690 kg are 115 % of
    # its 600: OVER, and the one member over
    members = [
        _use("Binh Duc Filleting Workshop", "250", "160", "0.64", "OK"),
        _use("Long Xuyen Pangasius Processing", "1400", "1020", "0.7286", "OK"),
        _use("My Phuoc Seafood", "600", "690", "1.15", "OVER"),
        _use("My Quy Filleting Workshop", "250", "180", "0.72", "OK"),
        _use("My Thanh Filleting Workshop", "250", "170", "0.68", "OK"),
    ]
    card = {
        "title": "BOD load discharged",
        "cap": "3000",
        "unitCode": "KGM",
        "period": {"start": "2030-02-01", "end": "2030-02-28", "due": "2030-03-15"},
        "total": "2220",
        "status": "OK",
        "returnsFiled": 5,
    }
    assert as_authority["data"]["permitConditionCompliance"] == {**card, "members": members}
    # and the plant sees the total and its own row only
    assert as_plant["data"]["permitConditionCompliance"] == {**card, "members": [members[2]]}
    # and the demo sent it the warnings its filing set off (80 % and 100 % of its BOD, 80 % of
    # its COD: 1130 of 1200 kg), dated when it filed
    warnings = [
        edge["node"]
        for edge in inbox["data"]["notifications"]["edges"]
        if edge["node"]["kind"] == "PERMIT_USE_WARNING"
    ]
    assert warnings == [
        {
            "kind": "PERMIT_USE_WARNING",
            "title": f"My Phuoc Seafood reached {title}",
            "createdAt": "2030-03-04T03:00:00+00:00",
        }
        for title in (
            "80 % of its allocation for COD load discharged",
            "100 % of its allocation for BOD load discharged",
            "80 % of its allocation for BOD load discharged",
        )
    ]


LICENCE_READ = """
query Licence($id: ID!) {
  wasteLicence(id: $id) {
    holder { name } issuerName authority { name } number
    coveredMaterials { code hazardous } operations validFrom validTo status verified verifiedAt
  }
}
"""

OFFER_CREATE = """
mutation Offer($input: OfferCreateInput!) {
  offerCreate(input: $input) {
    offer { status quantity listing { title } }
    errors { code message field }
  }
}
"""

LISTING = """
query Listing($id: ID!) {
  listing(id: $id) { title kind status material { code hazardous } quantity unit { code } }
}
"""


async def test_only_the_licensed_treatment_firm_may_take_the_hazardous_sludge(
    gql: GraphQL, loaded: ManualClock, sign_in: Any
) -> None:
    # Given the demo: the wastewater firm's licence, the fillet plant's sludge on offer
    treatment = await sign_in("long-xuyen-wastewater")
    feed_mill = await sign_in("an-giang-feed")
    licence = await gql(LICENCE_READ, {"id": LICENCE}, token=treatment)
    listing = await gql(LISTING, {"id": SLUDGE_LISTING}, token=feed_mill)
    # when the feed mill, without a licence, and the treatment firm offer to take 3 t
    offer = {"listingId": SLUDGE_LISTING, "quantity": "3", "pricePerUnit": "-2500000"}
    refused = await gql(OFFER_CREATE, {"input": offer}, token=feed_mill)
    accepted = await gql(OFFER_CREATE, {"input": offer}, token=treatment)
    # then the licence covers 19 08 13*, verified by the provincial department, valid from
    # February for a year
    assert licence["data"]["wasteLicence"] == {
        "holder": {"name": "Long Xuyen Industrial Wastewater Services"},
        "issuerName": "Sở Tài nguyên và Môi trường An Giang",
        "authority": {"name": "An Giang Department of Natural Resources and Environment"},
        "number": "CTNH-AG-014",
        "coveredMaterials": [{"code": "ewc-19-08-13", "hazardous": True}],
        "operations": ["COLLECTION", "TRANSPORT", "TREATMENT"],
        "validFrom": "2030-02-01",
        "validTo": "2031-01-31",
        "status": "VALID",
        "verified": True,
        "verifiedAt": "2030-02-06T07:00:00+00:00",
    }
    assert listing["data"]["listing"] == {
        "title": SLUDGE_TITLE,
        "kind": "OFFER",
        "status": "ACTIVE",
        "material": {"code": "ewc-19-08-13", "hazardous": True},
        "quantity": "6",
        "unit": {"code": "TNE"},
    }
    # and the feed mill is refused, the treatment firm's offer is made
    assert refused["data"]["offerCreate"] == {
        "offer": None,
        "errors": [
            problem(
                "LICENCE_REQUIRED",
                "Sludges containing hazardous substances from other treatment of industrial "
                "waste water (EWC 19 08 13*) is hazardous waste: your organisation, which would "
                "receive it, needs a verified waste licence covering it, valid on 2030-03-10",
                "listingId",
            )
        ],
    }
    assert accepted["data"]["offerCreate"] == {
        "offer": {"status": "PENDING", "quantity": "3", "listing": {"title": SLUDGE_TITLE}},
        "errors": [],
    }


async def _rows(db: Database) -> dict[str, int]:
    models = (
        Permit,
        PermitMember,
        PermitCondition,
        Allocation,
        AllocationEntry,
        AllocationTransfer,
        PermitReturn,
        WasteLicence,
        LicenceCoverage,
        Listing,
    )
    async with db.read() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in models
        }


async def test_loading_again_months_later_creates_nothing(
    db: Database, settings: Settings, loaded: ManualClock
) -> None:
    # Given the demo loaded once
    first = await _rows(db)
    # when it is loaded again the same day, and again two months later
    again = await demo.seed_demo(db, Passwords(settings), loaded)
    loaded.advance(timedelta(days=61))
    later = await demo.seed_demo(db, Passwords(settings), loaded)
    # then nothing is created: the permits' dates are read back from the permits found
    assert (again.created, later.created) == (0, 0)
    assert await _rows(db) == first
    # 2 permits, 11 members, 3 conditions, 16 allocations (and a FREE transfer's two ledger
    # entries), 23 return versions, the licence and its code; the listings are the demo's
    assert {k: v for k, v in first.items() if k != "listings"} == {
        "permits": 2,
        "permit_members": 11,
        "permit_conditions": 3,
        "permit_allocations": 16,
        "permit_allocation_entries": 18,
        "permit_transfers": 1,
        "permit_returns": 23,
        "waste_licences": 1,
        "waste_licence_coverage": 1,
    }
