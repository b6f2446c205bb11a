"""Demo events: what the clusters' universities, research stations and communities hold.

Each cluster gets upcoming events (dated from the day the demo is loaded, in the cluster's own
time zone) and a few registrations, so the feed, the waiting list and "my events" have something
to show. They go through the events service with fixed ids: loading twice creates nothing new.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.auth.viewer import Role, Viewer
from backend.demo import ids
from backend.events import service
from backend.events.models import EventFormat, EventKind
from backend.kit.db import Database
from backend.kit.errors import ServiceError
from backend.kit.validation import Place

SEMINAR, WORKSHOP = EventKind.SEMINAR, EventKind.WORKSHOP
DEMONSTRATION, MEETING = EventKind.FIELD_DEMONSTRATION, EventKind.COMMUNITY_MEETING
IN_PERSON, ONLINE, HYBRID = EventFormat.IN_PERSON, EventFormat.ONLINE, EventFormat.HYBRID


@dataclass(frozen=True)
class DemoEvent:
    organiser: str  # the demo organisation's key
    cluster: str  # the cluster's slug
    kind: EventKind
    format: EventFormat
    title: str
    description: str
    language: str
    days_ahead: int
    starts: time
    hours: int
    capacity: int
    place: str | None
    lat: float | None
    lon: float | None
    topics: tuple[str, ...]
    requires_approval: bool = False
    # demo keys of the people who register, in order
    registrants: tuple[str, ...] = ()


EVENTS: tuple[DemoEvent, ...] = (
    DemoEvent(
        "okayama-biomass-lab",
        "maniwa-wood",
        SEMINAR,
        HYBRID,
        "木質バイオマスボイラー導入セミナー",
        "製材所・集成材工場向け。おがくず・樹皮を燃料にするボイラーの選び方、燃料の含水率管理、"
        "補助金の使い方を岡山大学と導入事例の工場が紹介します。",
        "ja",
        12,
        time(14, 0),
        2,
        40,
        "真庭市勝山文化センター",
        35.0857,
        133.6905,
        ("bark", "sawdust", "boilers", "heat"),
        registrants=("maniwa-lumber", "hokubo-boxes", "katsuyama-pellets"),
    ),
    DemoEvent(
        "okayama-biomass-lab",
        "maniwa-wood",
        WORKSHOP,
        IN_PERSON,
        "Wood concrete from sawmill offcuts: a hands-on workshop",
        "Mix, cast and test wood-concrete blocks from shavings and trimmings. Small group; the "
        "lab approves registrations so that each firm sends one person.",
        "en",
        26,
        time(10, 0),
        5,
        3,
        "Okayama University, Tsushima campus",
        34.6880,
        133.9220,
        ("wood-shavings", "wood-trimmings", "wood-concrete"),
        requires_approval=True,
        registrants=("hokubo-boxes",),
    ),
    DemoEvent(
        "biomass-town",
        "maniwa-wood",
        MEETING,
        IN_PERSON,
        "バイオマスタウン定例会 12月",
        "ペレット・チップの冬の需給、学校給食施設のボイラー更新について。",
        "ja",
        9,
        time(18, 30),
        2,
        60,
        "真庭市役所 会議室",
        35.0687,
        133.7528,
        ("wood-pellets", "community"),
        registrants=("katsuyama-pellets",),
    ),
    DemoEvent(
        "provincial-energy-office",
        "chachoengsao-rice",
        WORKSHOP,
        IN_PERSON,
        "เวิร์กช็อปเตาแก๊สซิไฟเออร์แกลบ",
        "การผลิตไฟฟ้าและความร้อนจากแกลบสำหรับโรงสีขนาดกลาง การจัดการขี้เถ้าแกลบ และการขายไฟฟ้าส่วนเกินเข้าระบบ",
        "th",
        15,
        time(9, 0),
        6,
        10,
        "สำนักงานพลังงานจังหวัดฉะเชิงเทรา",
        13.6880,
        101.0720,
        ("rice-husk", "rice-husk-ash", "gasifier"),
        registrants=("bang-pakong-mill", "husk-power", "bang-khla-coop"),
    ),
    DemoEvent(
        "provincial-energy-office",
        "chachoengsao-rice",
        DEMONSTRATION,
        IN_PERSON,
        "สาธิตระบบไบโอแก๊สจากมูลไก่ ฟาร์มพนมสารคาม",
        "เยี่ยมชมบ่อหมักและเครื่องกำเนิดไฟฟ้าที่ใช้มูลไก่",
        "th",
        33,
        time(9, 30),
        4,
        25,
        "Phanom Sarakham",
        13.7461,
        101.3568,
        ("poultry-manure", "biogas"),
    ),
    DemoEvent(
        "hosur-research-station",
        "hosur-silk",
        SEMINAR,
        HYBRID,
        "Silk waste to spun silk: grading and prices",
        "How reelers can grade and bale silk waste for spinners; current prices for noil and "
        "waste grades; a spinner's requirements.",
        "en",
        10,
        time(11, 0),
        2,
        50,
        "Central Sericultural Research Station, Hosur",
        12.7520,
        77.8170,
        ("silk-waste", "spun-silk"),
        registrants=("hosur-reelers", "krishnagiri-spun-silk", "thalli-shg"),
    ),
    DemoEvent(
        "thalli-shg",
        "hosur-silk",
        MEETING,
        IN_PERSON,
        "தள்ளி சுய உதவிக் குழு மாதக் கூட்டம்",
        "பட்டுப்புழு கூடு விற்பனை, மல்பெரி கழிவுகளிலிருந்து உரம்.",
        "ta",
        7,
        time(16, 0),
        2,
        30,
        "Thalli village",
        12.6530,
        77.8870,
        ("silkworm-pupae", "mulberry-residue"),
    ),
    DemoEvent(
        "an-giang-university",
        "an-giang-fish",
        SEMINAR,
        ONLINE,
        "Xử lý nước thải chế biến cá tra và thu hồi mỡ cá",
        "Hội thảo trực tuyến: công nghệ tách mỡ, xử lý bùn và sản xuất biodiesel từ mỡ cá.",
        "vi",
        14,
        time(8, 30),
        3,
        100,
        None,
        None,
        None,
        ("fish-fat", "fish-processing-sludge", "biodiesel", "wastewater"),
        registrants=("long-xuyen-pangasius", "mekong-biodiesel"),
    ),
    DemoEvent(
        "my-hoa-hung-women",
        "an-giang-fish",
        MEETING,
        IN_PERSON,
        "Họp nhóm phụ nữ: mua chung thức ăn cá",
        "Bàn về đơn hàng thức ăn cá chung cho vụ tới.",
        "vi",
        6,
        time(15, 0),
        2,
        25,
        "My Hoa Hung islet",
        10.3975,
        105.4512,
        ("fish-feed", "joint purchasing"),
    ),
)

ONLINE_LINK = "https://meet.eic.example/demo/{key}"


def _viewer(user_id: uuid.UUID, organisation_id: uuid.UUID, role: Role) -> Viewer:
    return Viewer(
        user_id=user_id,
        role=role,
        organisation_id=organisation_id,
        token_id="demo-seed",  # noqa: S106 - not a secret: the seeder acts without a token
    )


async def seed_events(
    db: Database,
    *,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    clusters: dict[str, tuple[uuid.UUID, str]],
    now: datetime,
) -> int:
    """``organisations``: demo key -> (user id, organisation id, role); ``clusters``: slug ->
    (id, time zone). Returns how many events were created."""
    created = 0
    for template in EVENTS:
        user_id, organisation_id, role = organisations[template.organiser]
        organiser = _viewer(user_id, organisation_id, role)
        event_id = ids.event_id(template.organiser, template.title)
        if await service.get_event(db=db, viewer=organiser, event_id=event_id):
            continue
        cluster_id, zone_name = clusters[template.cluster]
        zone = ZoneInfo(zone_name)
        day = (now.astimezone(zone) + timedelta(days=template.days_ahead)).date()
        starts_at = datetime.combine(day, template.starts, tzinfo=zone)
        online = template.format is not EventFormat.IN_PERSON
        await service.create_event(
            db=db,
            viewer=organiser,
            now=now,
            draft=service.EventDraft(
                id=event_id,
                kind=template.kind,
                format=template.format,
                title=template.title,
                description=template.description,
                language=template.language,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=template.hours),
                timezone=zone_name,
                capacity=template.capacity,
                cluster_id=cluster_id,
                location=(
                    Place(template.lat, template.lon, template.place or "")
                    if template.lat is not None and template.lon is not None
                    else None
                ),
                online_url=ONLINE_LINK.format(key=event_id.hex[:12]) if online else None,
                topics=list(template.topics),
                requires_approval=template.requires_approval,
            ),
        )
        await service.publish_event(db=db, viewer=organiser, event_id=event_id, now=now)
        created += 1
        for key in template.registrants:
            person_id, person_organisation_id, person_role = organisations[key]
            try:
                await service.register(
                    db=db,
                    viewer=_viewer(person_id, person_organisation_id, person_role),
                    event_id=event_id,
                    seats=3 if person_role is Role.COMMUNITY else 1,
                    note="",
                    now=now,
                )
            except ServiceError:  # a full demo event: the demo still loads
                continue
    return created
