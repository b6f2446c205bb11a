"""Demo umbrella permits and a waste licence (issue 19).

- Maniwa: the city's Environment Division issued the Biomass Town Association an umbrella permit
  for wood-waste disposal covering six wood firms, with a monthly cap on wood waste (EWC 03 01)
  to landfill, shared out among them (not all of it: the holder keeps a reserve), one FREE
  transfer between two sawmills, and the returns of the last two complete months (one filed
  late, one amended, the lumber mill past 80 % of its allocation last month).
- An Giang: the provincial Department of Natural Resources and Environment issued the An Giang
  University Environment Centre an umbrella permit on the effluent loads of five fillet plants
  (monthly BOD and COD, transfers approved by the holder), with last month's returns: one plant
  over its BOD allocation.
- The wastewater firm's verified licence for hazardous sludge (EWC 19 08 13*), and the fillet
  plant's sludge on offer that only a licensed receiver may take.

Everything goes through the services, acting as the demo accounts, so their rules hold for the
demo too. The permits are dated back from the day the demo is first loaded: valid from the first
day of the month three months before it, members covered and allocations set from then, returns
filed after each period, never later than ``now``. The services take ``now`` as a parameter, so
past filings are expressed through them (the filing rules, the marketplace's figure of each
return and the warnings are the services' own). Every object has a fixed id, and a later load
reads the dates back from the permit it finds, so loading again creates nothing, in any month.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from backend.auth.viewer import Role, Viewer
from backend.demo import ids
from backend.kit.db import Database
from backend.kit.pagination import PageRequest
from backend.kit.validation import Place
from backend.licences import service as licences
from backend.licences.models import LicensedOperation
from backend.marketplace import service as marketplace
from backend.marketplace.models import ListingCategory, ListingKind, Recurrence
from backend.permits import service as permits
from backend.permits.models import Frequency, Parameter, TransferRule
from backend.permits.service import returns as permit_returns

# Returns are due this many days after a period ends (the permits' default).
RETURN_DUE_DAYS = 15


@dataclass(frozen=True)
class DemoReturn:
    """What a member typed for one period, in the condition's unit. ``generated`` is what it
    treated, sent to members and to disposal plus what the marketplace's trades took, so the
    return adds up."""

    member: str
    treated_on_site: str
    sent_to_members: str
    sent_to_disposal: str
    note: str = ""
    days_after: int = 3  # filed this many days after the period's end (local, 10:00)
    amended_to: str | None = None  # sent_to_disposal of a second version, filed later
    amendment_note: str = ""


@dataclass(frozen=True)
class DemoCondition:
    key: str
    parameter: Parameter
    title: str
    cap: str
    unit: str
    material: str | None
    allocations: tuple[tuple[str, str], ...]  # (member, amount per period)
    # the returns of each period of the validity filed so far, from its first period
    returns: tuple[tuple[DemoReturn, ...], ...]


@dataclass(frozen=True)
class DemoTransfer:
    key: str
    condition: str
    sender: str
    receiver: str
    amount: str
    note: str
    days_into_second_period: int


@dataclass(frozen=True)
class DemoPermit:
    key: str
    cluster: str  # the cluster's slug
    authority: str
    holder: str
    reference: str
    title: str
    description: str
    transfer_rule: TransferRule
    members: tuple[str, ...]
    conditions: tuple[DemoCondition, ...]
    transfers: tuple[DemoTransfer, ...] = ()


MANIWA_MEMBERS = (
    "maniwa-lumber",
    "ochiai-sawmill",
    "kuse-sawmill",
    "maniwa-precut",
    "hokubo-boxes",
    "katsuyama-crates",
)
AN_GIANG_MEMBERS = (
    "long-xuyen-pangasius",
    "my-phuoc-seafood",
    "my-quy-filleting",
    "binh-duc-filleting",
    "my-thanh-filleting",
)

PERMITS: tuple[DemoPermit, ...] = (
    DemoPermit(
        key="maniwa-wood-waste",
        cluster="maniwa-wood",
        authority="maniwa-city-environment",
        holder="biomass-town",
        reference="MANIWA-ENV-UP-001",
        title="Umbrella permit for wood-waste disposal, Maniwa Biomass Town",
        description="One permit for the wood firms of the biomass town: wood waste that is not "
        "burnt for energy, made into pellets or passed on may go to landfill up to the monthly "
        "cap, shared out by the association. Members trade allocation freely among themselves.",
        transfer_rule=TransferRule.FREE,
        members=MANIWA_MEMBERS,
        conditions=(
            DemoCondition(
                key="wood-waste-landfill",
                parameter=Parameter.WASTE_TO_LANDFILL,
                title="Wood waste to landfill",
                cap="40",
                unit="TNE",
                # the sub-chapter: sawdust, shavings, offcuts and bark of the wood firms
                material="ewc-03-01",
                allocations=(
                    ("maniwa-lumber", "12"),
                    ("ochiai-sawmill", "8"),
                    ("kuse-sawmill", "6"),
                    ("maniwa-precut", "4"),
                    ("hokubo-boxes", "2"),
                    ("katsuyama-crates", "2"),
                ),
                returns=(
                    (),  # the first month: before the returns were started in the demo
                    (
                        DemoReturn("maniwa-lumber", "96", "14", "9.2"),
                        DemoReturn("ochiai-sawmill", "41", "6", "7.1"),
                        DemoReturn("kuse-sawmill", "22", "3", "3"),
                        DemoReturn("maniwa-precut", "12", "2.5", "2.6"),
                        DemoReturn(
                            "hokubo-boxes",
                            "1.5",
                            "1",
                            "1.1",
                            "Filed late: the weighbridge tickets came after the due day.",
                            days_after=RETURN_DUE_DAYS + 3,
                        ),
                        DemoReturn("katsuyama-crates", "3", "1.2", "0.9"),
                    ),
                    (
                        DemoReturn(
                            "maniwa-lumber",
                            "102",
                            "15",
                            "10.4",
                            "Bark from the storm-felled cedar: the boiler could not take it all.",
                        ),
                        DemoReturn(
                            "ochiai-sawmill",
                            "44",
                            "6.5",
                            "7.2",
                            days_after=2,
                            # 76 % of its allocation, then 82 %: the amendment sets off the
                            # warning
                            amended_to="7.8",
                            amendment_note="Corrected: one skip of planer shavings was left out.",
                        ),
                        DemoReturn("kuse-sawmill", "24", "3.5", "2.9", days_after=4),
                        DemoReturn("maniwa-precut", "13", "2", "3.1"),
                        DemoReturn("hokubo-boxes", "1.6", "0.8", "1.2", days_after=5),
                        DemoReturn("katsuyama-crates", "3.2", "1", "1", days_after=2),
                    ),
                ),
            ),
        ),
        transfers=(
            DemoTransfer(
                key="kuse-to-ochiai",
                condition="wood-waste-landfill",
                sender="kuse-sawmill",
                receiver="ochiai-sawmill",
                amount="1.5",
                note="Our new chipper takes most offcuts; Ochiai has the big school order.",
                days_into_second_period=13,
            ),
        ),
    ),
    DemoPermit(
        key="an-giang-effluent",
        cluster="an-giang-fish",
        authority="an-giang-environment",
        # The environment centre runs the plants' water-quality monitoring and treatment
        # seminars: the cluster's technical secretariat, so it holds the permit for them (the
        # women's union group speaks for fish farmers' households, not for the plants).
        holder="an-giang-university",
        reference="STNMT-AG-UP-002",
        title="Umbrella permit on fish-processing effluent loads, Long Xuyen",
        description="Monthly BOD and COD loads the fillet plants may discharge after treatment, "
        "shared out by the Environment Centre; a transfer between plants needs its approval.",
        transfer_rule=TransferRule.HOLDER_APPROVAL,
        members=AN_GIANG_MEMBERS,
        conditions=(
            DemoCondition(
                key="bod",
                parameter=Parameter.BOD,
                title="BOD load discharged",
                cap="3000",
                unit="KGM",
                material=None,
                allocations=(
                    ("long-xuyen-pangasius", "1400"),
                    ("my-phuoc-seafood", "600"),
                    ("my-quy-filleting", "250"),
                    ("binh-duc-filleting", "250"),
                    ("my-thanh-filleting", "250"),
                ),
                returns=(
                    (),
                    (),
                    (
                        DemoReturn("long-xuyen-pangasius", "13480", "0", "1020"),
                        DemoReturn(
                            "my-phuoc-seafood",
                            "4510",
                            "0",
                            "690",
                            "The aerator of the treatment tank failed for nine days.",
                        ),
                        DemoReturn("my-quy-filleting", "2020", "0", "180", days_after=2),
                        DemoReturn("binh-duc-filleting", "1840", "0", "160", days_after=4),
                        DemoReturn("my-thanh-filleting", "1930", "0", "170", days_after=2),
                    ),
                ),
            ),
            DemoCondition(
                key="cod",
                parameter=Parameter.COD,
                title="COD load discharged",
                cap="6000",
                unit="KGM",
                material=None,
                allocations=(
                    ("long-xuyen-pangasius", "2800"),
                    ("my-phuoc-seafood", "1200"),
                    ("my-quy-filleting", "500"),
                    ("binh-duc-filleting", "500"),
                    ("my-thanh-filleting", "500"),
                ),
                returns=(
                    (),
                    (),
                    (
                        DemoReturn("long-xuyen-pangasius", "25850", "0", "2150"),
                        DemoReturn("my-phuoc-seafood", "8870", "0", "1130"),
                        DemoReturn("my-quy-filleting", "4110", "0", "390", days_after=2),
                        DemoReturn("binh-duc-filleting", "3650", "0", "350", days_after=4),
                        DemoReturn("my-thanh-filleting", "3840", "0", "360", days_after=2),
                    ),
                ),
            ),
        ),
    ),
)


@dataclass(frozen=True)
class DemoLicence:
    holder: str
    authority: str
    issuer_name: str
    number: str
    material_codes: tuple[str, ...]
    operations: tuple[LicensedOperation, ...]
    note: str


LICENCE = DemoLicence(
    holder="long-xuyen-wastewater",
    authority="an-giang-environment",
    issuer_name="Sở Tài nguyên và Môi trường An Giang",
    number="CTNH-AG-014",
    # "sludges containing hazardous substances from other treatment of industrial waste water"
    material_codes=("ewc-19-08-13",),
    operations=(
        LicensedOperation.COLLECTION,
        LicensedOperation.TRANSPORT,
        LicensedOperation.TREATMENT,
    ),
    note="Hazardous-waste treatment licence for the processing zone's chemical sludge.",
)

# The fillet plant's hazardous sludge on offer: only a licensed receiver may take it.
SLUDGE_OFFERER = "long-xuyen-pangasius"
SLUDGE_TITLE = "Bùn thải nguy hại từ xử lý hoá lý nước thải"
SLUDGE_MATERIAL = "ewc-19-08-13"


def _months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _at(day: date, hour: int, timezone: str, minutes: int = 0) -> datetime:
    """``day`` at ``hour`` local time, in UTC."""
    local = datetime.combine(day, time(hour), tzinfo=ZoneInfo(timezone))
    return (local + timedelta(minutes=minutes)).astimezone(UTC)


def _this_month(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date().replace(day=1)


def _viewer(organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]], key: str) -> Viewer:
    user_id, organisation_id, role = organisations[key]
    return Viewer(
        user_id=user_id,
        role=role,
        organisation_id=organisation_id,
        token_id="demo-seed",  # noqa: S106 - not a secret: the seeder acts without a token
        # the demo's organisations are loaded verified (backend.demo.clusters)
        organisation_verified=True,
    )


async def seed_permits(
    db: Database,
    *,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    places: dict[str, tuple[float, float]],
    timezones: dict[str, str],
    now: datetime,
) -> int:
    """``organisations``: demo key -> (user id, organisation id, role); ``places``: demo key ->
    (lat, lon); ``timezones``: cluster slug -> time zone. Returns the rows created: permits,
    members, conditions, allocations, transfers, return versions, the licence and the
    listing."""
    created = 0
    for template in PERMITS:
        created += await _seed_permit(db, template, organisations, timezones[template.cluster], now)
    created += await _seed_licence(db, organisations, timezones["an-giang-fish"], now)
    created += await _seed_sludge_offer(db, organisations, places, now)
    return created


async def _seed_permit(
    db: Database,
    template: DemoPermit,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    timezone: str,
    now: datetime,
) -> int:
    authority = _viewer(organisations, template.authority)
    holder = _viewer(organisations, template.holder)
    permit_id = ids.permit_id(template.key)
    created = 0
    view = await permits.get_permit(db=db, viewer=authority, permit_id=permit_id)
    if view is None:
        starts = _months(_this_month(now, timezone), -3)
        view = await permits.issue_permit(
            db=db,
            viewer=authority,
            now=_at(starts - timedelta(days=14), 10, timezone),
            draft=permits.PermitDraft(
                id=permit_id,
                holder_id=organisations[template.holder][1],
                reference=template.reference,
                title=template.title,
                description=template.description,
                valid_from=starts,
                valid_to=_months(starts, 12) - timedelta(days=1),
                transfer_rule=template.transfer_rule,
                return_due_days=RETURN_DUE_DAYS,
            ),
        )
        created += 1
    # a later load goes on from the dates of the permit it finds
    starts = view.permit.valid_from
    prepared = _at(starts - timedelta(days=7), 9, timezone)
    holder_view = await permits.get_permit(db=db, viewer=holder, permit_id=permit_id)
    assert holder_view is not None
    covered = await permits.list_members(
        db=db,
        standing=holder_view.standing,
        current=None,
        page=PageRequest.of(100, None),
        with_total=False,
    )
    present = {m.member.organisation_id for m in covered.items}
    for index, key in enumerate(template.members):
        if organisations[key][1] in present:
            continue
        await permits.add_member(
            db=db,
            viewer=holder,
            permit_id=permit_id,
            organisation_id=organisations[key][1],
            covered_from=starts,
            now=prepared + timedelta(minutes=index),
        )
        created += 1
    for condition in template.conditions:
        created += await _seed_condition(
            db, template, condition, organisations, timezone, starts, now
        )
    return created


async def _seed_condition(
    db: Database,
    permit: DemoPermit,
    template: DemoCondition,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    timezone: str,
    starts: date,
    now: datetime,
) -> int:
    holder = _viewer(organisations, permit.holder)
    condition_id = ids.permit_condition_id(permit.key, template.key)
    created = 0
    found = await permits.get_condition(db=db, viewer=holder, condition_id=condition_id)
    if found is None:
        await permits.add_condition(
            db=db,
            viewer=holder,
            now=_at(starts - timedelta(days=7), 10, timezone),
            draft=permits.ConditionDraft(
                id=condition_id,
                permit_id=ids.permit_id(permit.key),
                parameter=template.parameter,
                title=template.title,
                cap=Decimal(template.cap),
                unit_code=template.unit,
                frequency=Frequency.MONTHLY,
                material_code=template.material,
            ),
        )
        created += 1
        allocated: set[uuid.UUID] = set()
    else:
        allocated = {a.organisation_id for a in found[0].allocations}
    # allocations the first morning of the validity; one already set is left as it is (a
    # transfer may have changed it since)
    for index, (key, amount) in enumerate(template.allocations):
        if organisations[key][1] in allocated:
            continue
        await permits.set_allocation(
            db=db,
            viewer=holder,
            condition_id=condition_id,
            organisation_id=organisations[key][1],
            amount=Decimal(amount),
            now=_at(starts, 9, timezone, minutes=index),
        )
        created += 1
    for transfer in permit.transfers:
        if transfer.condition == template.key:
            created += await _seed_transfer(db, permit, transfer, organisations, timezone, starts)
    for period, filed in enumerate(template.returns):
        period_start = _months(starts, period)
        period_end = _months(starts, period + 1)  # the day after the period's last
        for demo_return in filed:
            created += await _seed_return(
                db,
                permit,
                template,
                demo_return,
                organisations,
                timezone,
                period,
                period_start,
                period_end,
                now,
            )
    return created


async def _seed_transfer(
    db: Database,
    permit: DemoPermit,
    transfer: DemoTransfer,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    timezone: str,
    starts: date,
) -> int:
    transfer_id = ids.permit_transfer_id(permit.key, transfer.key)
    condition_id = ids.permit_condition_id(permit.key, transfer.condition)
    holder_view = await permits.get_permit(
        db=db, viewer=_viewer(organisations, permit.holder), permit_id=ids.permit_id(permit.key)
    )
    assert holder_view is not None
    done = await permits.list_transfers(
        db=db,
        standing=holder_view.standing,
        condition_id=condition_id,
        status=None,
        page=PageRequest.of(100, None),
        with_total=False,
    )
    if any(t.transfer.id == transfer_id for t in done.items):
        return 0
    day = _months(starts, 1) + timedelta(days=transfer.days_into_second_period)
    await permits.request_transfer(
        db=db,
        viewer=_viewer(organisations, transfer.sender),
        now=_at(day, 15, timezone),
        request=permits.TransferRequest(
            id=transfer_id,
            condition_id=condition_id,
            to_organisation_id=organisations[transfer.receiver][1],
            amount=Decimal(transfer.amount),
            note=transfer.note,
        ),
    )
    return 1


async def _seed_return(
    db: Database,
    permit: DemoPermit,
    condition: DemoCondition,
    demo_return: DemoReturn,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    timezone: str,
    period: int,
    period_start: date,
    period_end: date,
    now: datetime,
) -> int:
    """File the member's return (and its amendment) as the member, a few days after the period
    ended but never after ``now``; versions already filed are left as they are."""
    member = _viewer(organisations, demo_return.member)
    condition_id = ids.permit_condition_id(permit.key, condition.key)
    filed_at = min(_at(period_end, 10, timezone) + timedelta(days=demo_return.days_after), now)
    # the app's form: the marketplace's figure of the period, and what is filed already
    draft = await permit_returns.return_draft(
        db=db, viewer=member, condition_id=condition_id, period_start=period_start, now=filed_at
    )
    filed = draft.latest.version if draft.latest is not None else 0
    versions = [(demo_return.sent_to_disposal, demo_return.note, filed_at)]
    if demo_return.amended_to is not None:
        amended_at = min(_at(period_end, 16, timezone) + timedelta(days=5), now)
        versions.append((demo_return.amended_to, demo_return.amendment_note, amended_at))
    created = 0
    for version, (disposal, note, at) in enumerate(versions, start=1):
        if version <= filed:
            continue
        treated = Decimal(demo_return.treated_on_site)
        to_members = Decimal(demo_return.sent_to_members)
        await permit_returns.file_return(
            db=db,
            viewer=member,
            now=at,
            filing=permit_returns.ReturnFiling(
                condition_id=condition_id,
                period_start=period_start,
                generated=treated + to_members + draft.sent_through_marketplace + Decimal(disposal),
                treated_on_site=treated,
                sent_to_members=to_members,
                sent_to_disposal=Decimal(disposal),
                unit_code=condition.unit,
                note=note,
                expected_version=version - 1,
                client_id=ids.permit_return_id(
                    permit.key, condition.key, demo_return.member, period, version
                ),
            ),
        )
        created += 1
    return created


async def _seed_licence(
    db: Database,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    timezone: str,
    now: datetime,
) -> int:
    """The treatment firm's licence, recorded last month and verified by the issuing
    authority's account, valid for a year from the first day of last month."""
    holder = _viewer(organisations, LICENCE.holder)
    authority = _viewer(organisations, LICENCE.authority)
    licence_id = ids.licence_id(LICENCE.holder, LICENCE.number)
    found = await licences.get_licence(db=db, viewer=holder, licence_id=licence_id, now=now)
    created = 0
    if found is None:
        starts = _months(_this_month(now, timezone), -1)
        found = await licences.create_licence(
            db=db,
            viewer=holder,
            now=_at(starts + timedelta(days=1), 9, timezone),
            draft=licences.LicenceDraft(
                id=licence_id,
                issuer_name=LICENCE.issuer_name,
                number=LICENCE.number,
                material_codes=list(LICENCE.material_codes),
                operations=list(LICENCE.operations),
                valid_from=starts,
                valid_to=_months(starts, 12) - timedelta(days=1),
                authority_id=organisations[LICENCE.authority][1],
                note=LICENCE.note,
            ),
        )
        created = 1
    licence = found.licence
    if licence.verified_at is None:
        await licences.verify_licence(
            db=db,
            viewer=authority,
            licence_id=licence_id,
            expected_version=licence.version,
            now=min(_at(licence.valid_from + timedelta(days=5), 14, timezone), now),
        )
    return created


async def _seed_sludge_offer(
    db: Database,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    places: dict[str, tuple[float, float]],
    now: datetime,
) -> int:
    """The fillet plant's hazardous sludge, published today: an active OFFER listing."""
    plant = _viewer(organisations, SLUDGE_OFFERER)
    listing_id = ids.listing_id(SLUDGE_OFFERER, SLUDGE_TITLE, 0)
    if await marketplace.get_listing(db=db, viewer=plant, listing_id=listing_id):
        return 0
    lat, lon = places[SLUDGE_OFFERER]
    await marketplace.create_listing(
        now=now,
        db=db,
        viewer=plant,
        publish=True,
        draft=marketplace.ListingDraft(
            id=listing_id,
            kind=ListingKind.OFFER,
            category=ListingCategory.BY_PRODUCT,
            title=SLUDGE_TITLE,
            description="Bùn từ bể keo tụ và khử trùng, có hoá chất. Chỉ giao cho đơn vị có "
            "giấy phép xử lý chất thải nguy hại; chúng tôi trả phí xử lý.",
            language="vi",
            material_code=SLUDGE_MATERIAL,
            quantity=Decimal(6),
            unit_code="TNE",
            price_per_unit=Decimal(-2_500_000),
            recurrence=Recurrence.MONTHLY,
            location=Place(lat, lon, ""),
        ),
    )
    return 1
