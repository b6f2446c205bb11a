"""Demo listings: what the four prototype clusters have, want and sell (DOMAIN.md).

Each template becomes a few listings (weekly lots, a draft, a closed one), so every cluster shows
a few dozen. They go through the marketplace service with fixed ids, so loading twice creates
nothing new.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from backend.auth.viewer import Role, Viewer
from backend.demo import ids
from backend.kit.db import Database, utcnow
from backend.kit.validation import Place
from backend.marketplace import service
from backend.marketplace.models import (
    Delivery,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Recurrence,
)

OFFER, WANT = ListingKind.OFFER, ListingKind.WANT
BY, ECO = ListingCategory.BY_PRODUCT, ListingCategory.ECO_PRODUCT


@dataclass(frozen=True)
class DemoListing:
    organisation: str  # the demo organisation's key
    kind: ListingKind
    category: ListingCategory
    material: str
    title: str
    description: str
    language: str
    quantity: str
    unit: str
    price: str | None
    recurrence: Recurrence = Recurrence.ONE_OFF
    months: tuple[int, ...] = ()
    specs: tuple[tuple[str, str], ...] = ()
    delivery: Delivery = Delivery.EITHER


TEMPLATES: tuple[DemoListing, ...] = (
    # Hosur: silk
    DemoListing(
        "hosur-reelers",
        OFFER,
        BY,
        "silk-waste",
        "Silk waste from multi-end reeling",
        "Clean noil and waste silk, baled. Suits spun silk.",
        "en",
        "400",
        "KGM",
        "180",
        Recurrence.WEEKLY,
        specs=(("moisture", "9 %"),),
    ),
    DemoListing(
        "hosur-reelers",
        OFFER,
        BY,
        "silkworm-pupae",
        "பட்டுப்புழு கூட்டுப்புழு - உலர்ந்தது",
        "Dried pupae for feed or oil extraction.",
        "ta",
        "250",
        "KGM",
        "60",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "krishnagiri-spun-silk",
        WANT,
        BY,
        "silk-waste",
        "Silk waste wanted for spinning",
        "We buy noil and cocoon waste every week, pickup from Hosur.",
        "en",
        "1",
        "TNE",
        "170",
        Recurrence.WEEKLY,
        delivery=Delivery.PICKUP,
    ),
    DemoListing(
        "krishnagiri-spun-silk",
        OFFER,
        ECO,
        "spun-silk",
        "Spun silk yarn 60/2",
        "Yarn spun from recovered silk waste.",
        "en",
        "50",
        "KGM",
        "4200",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "mulberry-biomass",
        OFFER,
        ECO,
        "biomass-briquettes",
        "Mulberry briquettes for ovens",
        "Briquettes pressed from mulberry prunings, for reeling ovens.",
        "en",
        "3",
        "TNE",
        "5500",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "mulberry-biomass",
        WANT,
        BY,
        "mulberry-residue",
        "மல்பெரி கழிவு தேவை",
        "Prunings after harvest, any quantity.",
        "ta",
        "5",
        "TNE",
        "800",
        Recurrence.SEASONAL,
        months=(6, 7, 8, 12, 1),
    ),
    DemoListing(
        "thalli-shg",
        OFFER,
        ECO,
        "natural-cosmetics",
        "Pupae-oil soap by Thalli SHG",
        "Hand-made soap from pupae oil, 100 g bars.",
        "en",
        "300",
        "H87",
        "45",
        Recurrence.MONTHLY,
    ),
    # Maniwa: wood
    DemoListing(
        "maniwa-lumber",
        OFFER,
        BY,
        "wood-shavings",
        "スギのかんなくず（乾燥）",
        "製材所から毎週出る乾燥したかんなくず。ペレット、敷料に。",
        "ja",
        "8",
        "TNE",
        "3000",
        Recurrence.WEEKLY,
        specs=(("moisture", "12 %"),),
    ),
    DemoListing(
        "maniwa-lumber",
        OFFER,
        BY,
        "sawdust",
        "おがくず 大量にあります",
        "ヒノキとスギのおがくず。引き取り歓迎。",
        "ja",
        "15",
        "TNE",
        "2000",
        Recurrence.WEEKLY,
        delivery=Delivery.PICKUP,
    ),
    DemoListing(
        "maniwa-lumber",
        OFFER,
        BY,
        "bark",
        "ヒノキ樹皮",
        "バイオマスボイラー燃料に。",
        "ja",
        "20",
        "MTQ",
        "0",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "hokubo-boxes",
        OFFER,
        BY,
        "wood-trimmings",
        "梱包箱の端材",
        "引き取っていただければ処分費をお支払いします。",
        "ja",
        "3",
        "TNE",
        "-500",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "katsuyama-pellets",
        WANT,
        BY,
        "wood-shavings",
        "Dry shavings and sawdust wanted for pellets",
        "Moisture under 15 %, delivered to Katsuyama.",
        "en",
        "30",
        "TNE",
        "2500",
        Recurrence.MONTHLY,
        delivery=Delivery.DELIVERY,
    ),
    DemoListing(
        "katsuyama-pellets",
        OFFER,
        ECO,
        "wood-pellets",
        "木質ペレット 10kg袋",
        "真庭産スギ・ヒノキ100%のペレット。",
        "ja",
        "500",
        "BG",
        "900",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "katsuyama-pellets",
        OFFER,
        ECO,
        "cat-sand",
        "ヒノキの猫砂",
        "消臭性の高いヒノキの猫砂、7L袋。",
        "ja",
        "200",
        "BG",
        "1200",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "biomass-town",
        OFFER,
        ECO,
        "wood-concrete",
        "Wood-concrete blocks, trial lot",
        "Blocks made with local wood chips, from the biomass town workshop.",
        "en",
        "120",
        "H87",
        "1500",
    ),
    # Chachoengsao: rice
    DemoListing(
        "bang-pakong-mill",
        OFFER,
        BY,
        "rice-husk",
        "แกลบจากโรงสี ปริมาณมาก",
        "แกลบสดทุกวัน เหมาะสำหรับเชื้อเพลิงชีวมวล",
        "th",
        "40",
        "TNE",
        "600",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "bang-pakong-mill",
        OFFER,
        BY,
        "rice-bran",
        "รำข้าวสด",
        "รำข้าวจากข้าวนึ่ง สำหรับอาหารสัตว์หรือสกัดน้ำมัน",
        "th",
        "5",
        "TNE",
        "7500",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "husk-power",
        WANT,
        BY,
        "rice-husk",
        "Rice husk wanted for the power plant",
        "Any quantity, delivered, price per tonne.",
        "en",
        "200",
        "TNE",
        "650",
        Recurrence.MONTHLY,
        delivery=Delivery.DELIVERY,
    ),
    DemoListing(
        "husk-power",
        OFFER,
        BY,
        "rice-husk-ash",
        "ขี้เถ้าแกลบ สำหรับปูนและปุ๋ย",
        "Husk ash from the boiler, bagged.",
        "th",
        "60",
        "TNE",
        "300",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "phanom-poultry",
        OFFER,
        BY,
        "poultry-manure",
        "มูลไก่แห้ง",
        "Dried layer manure for biogas or compost.",
        "th",
        "10",
        "TNE",
        "0",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "phanom-poultry",
        WANT,
        BY,
        "rice-bran",
        "Rice bran wanted for feed",
        "Fresh bran, weekly.",
        "en",
        "2",
        "TNE",
        "7000",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "bang-khla-coop",
        OFFER,
        BY,
        "rice-straw",
        "ฟางข้าวหลังเก็บเกี่ยว",
        "Straw bales from 300 households after the harvest.",
        "th",
        "80",
        "TNE",
        "400",
        Recurrence.SEASONAL,
        months=(11, 12, 1),
    ),
    DemoListing(
        "bang-khla-coop",
        OFFER,
        ECO,
        "rice-bran-oil",
        "น้ำมันรำข้าว สหกรณ์บางคล้า",
        "Cold-pressed rice bran oil, 1 litre bottles.",
        "th",
        "400",
        "LTR",
        "120",
        Recurrence.MONTHLY,
    ),
    # An Giang: fish
    DemoListing(
        "long-xuyen-pangasius",
        OFFER,
        BY,
        "fish-fat",
        "Mỡ cá tra từ nhà máy phi lê",
        "Mỡ cá tươi hằng ngày, phù hợp sản xuất dầu diesel sinh học.",
        "vi",
        "12",
        "TNE",
        "9000000",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "long-xuyen-pangasius",
        OFFER,
        BY,
        "fish-heads-bones",
        "Đầu và xương cá tra",
        "Dùng làm bột cá hoặc thức ăn chăn nuôi.",
        "vi",
        "25",
        "TNE",
        "3500000",
        Recurrence.WEEKLY,
    ),
    DemoListing(
        "long-xuyen-pangasius",
        OFFER,
        BY,
        "fish-processing-sludge",
        "Bùn thải xử lý nước thải",
        "Bùn đã tách nước, cần đơn vị xử lý.",
        "vi",
        "30",
        "MTQ",
        "-200000",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "mekong-biodiesel",
        WANT,
        BY,
        "fish-fat",
        "Cần mua mỡ cá tra",
        "Thu mua mỡ cá số lượng lớn, giao tại Bình Đức.",
        "vi",
        "50",
        "TNE",
        "8800000",
        Recurrence.MONTHLY,
        delivery=Delivery.DELIVERY,
    ),
    DemoListing(
        "mekong-biodiesel",
        OFFER,
        ECO,
        "biodiesel",
        "Dầu diesel sinh học B100",
        "Biodiesel from pangasius fat, drums of 200 l.",
        "vi",
        "10000",
        "LTR",
        "21000",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "an-giang-feed",
        OFFER,
        ECO,
        "fish-feed",
        "Thức ăn cá từ phụ phẩm",
        "Fish feed made from heads and bones, 25 kg bags.",
        "vi",
        "800",
        "BG",
        "310000",
        Recurrence.MONTHLY,
    ),
    DemoListing(
        "my-hoa-hung-women",
        WANT,
        ECO,
        "fish-feed",
        "Nhóm phụ nữ cần mua thức ăn cá",
        "Joint purchase for twelve ponds.",
        "vi",
        "2",
        "TNE",
        "12000000",
        Recurrence.MONTHLY,
    ),
)

# Each template gives this many listings; the last of them a draft and one before it closed, so
# every screen has something in each state.
COPIES = 4


@dataclass(frozen=True)
class StandingListing:
    """A listing published some weeks before the load and still open: the by-products nobody
    has made an offer on (cluster insights' unmatched offers, each with a candidate taker
    among the WANT listings here and in ``TEMPLATES`` or by a known conversion), and what the
    history's firms want."""

    days_ago: int
    listing: DemoListing


STANDING: tuple[StandingListing, ...] = (
    # Hosur: an isolated weaver's thread waste (the spinner wants silk waste), an isolated
    # farm's prunings (the briquette maker wants them), a reeler's extra pupae
    StandingListing(
        35,
        DemoListing(
            "hosur-weavers",
            OFFER,
            BY,
            "silk-waste",
            "Silk thread waste from the looms",
            "Warp ends and thrums from saree weaving, sorted by colour.",
            "en",
            "150",
            "KGM",
            "120",
            Recurrence.MONTHLY,
        ),
    ),
    StandingListing(
        25,
        DemoListing(
            "uddanapalli-cocoon-farm",
            OFFER,
            BY,
            "mulberry-residue",
            "மல்பெரி கிளைகள் - அறுவடைக்குப் பின்",
            "Mulberry prunings after the harvest, dried in the field.",
            "ta",
            "4",
            "TNE",
            "600",
        ),
    ),
    StandingListing(
        20,
        DemoListing(
            "berigai-reelers",
            OFFER,
            BY,
            "silkworm-pupae",
            "Dried pupae, an extra lot",
            "Sun-dried pupae from multi-end reeling, in 50 kg sacks.",
            "en",
            "200",
            "KGM",
            "50",
        ),
    ),
    StandingListing(
        40,
        DemoListing(
            "hosur-pupae-feed",
            WANT,
            BY,
            "silkworm-pupae",
            "Silkworm pupae wanted for poultry feed",
            "Dried pupae, any reeler, collected weekly.",
            "en",
            "500",
            "KGM",
            "55",
            Recurrence.WEEKLY,
            delivery=Delivery.PICKUP,
        ),
    ),
    # Maniwa: an isolated log yard's bark and a furniture workshop's shavings, a sawmill's
    # surplus sawdust (the pellet and cat sand makers' input); the power station buys bark
    StandingListing(
        30,
        DemoListing(
            "kuse-log-yard",
            OFFER,
            BY,
            "bark",
            "皮むき後のスギ樹皮",
            "丸太の皮むきで出る樹皮。ボイラー燃料やマルチに。",
            "ja",
            "15",
            "TNE",
            "0",
        ),
    ),
    StandingListing(
        22,
        DemoListing(
            "maniwa-furniture",
            OFFER,
            BY,
            "wood-shavings",
            "家具工房のヒノキかんなくず",
            "袋詰めのかんなくず。敷料やペレットに。",
            "ja",
            "2",
            "TNE",
            "0",
            Recurrence.MONTHLY,
        ),
    ),
    StandingListing(
        18,
        DemoListing(
            "yubara-timber",
            OFFER,
            BY,
            "sawdust",
            "おがくず 余剰分",
            "スギのおがくず。引き取り歓迎。",
            "ja",
            "6",
            "TNE",
            "1500",
        ),
    ),
    StandingListing(
        45,
        DemoListing(
            "maniwa-biomass-power",
            WANT,
            BY,
            "bark",
            "樹皮を買い取ります",
            "発電所まで搬入できる樹皮。水分50 %以下。",
            "ja",
            "100",
            "TNE",
            "500",
            Recurrence.MONTHLY,
            delivery=Delivery.DELIVERY,
        ),
    ),
    # Chachoengsao: an isolated baler's straw and an isolated piggery's manure (the biogas
    # farm wants both), a mill's extra bran (the poultry farm wants bran)
    StandingListing(
        28,
        DemoListing(
            "bang-khla-straw-bales",
            OFFER,
            BY,
            "rice-straw",
            "ฟางข้าวอัดก้อน",
            "ฟางอัดก้อนแทนการเผา ส่งได้ทั้งจังหวัด",
            "th",
            "40",
            "TNE",
            "350",
        ),
    ),
    StandingListing(
        21,
        DemoListing(
            "khao-hin-son-piggery",
            OFFER,
            BY,
            "piggery-manure",
            "มูลสุกรสด",
            "Fresh pig manure, about 15 tonnes a week; no digester here yet.",
            "th",
            "15",
            "TNE",
            "0",
            Recurrence.WEEKLY,
        ),
    ),
    StandingListing(
        17,
        DemoListing(
            "sanam-chai-khet-mill",
            OFFER,
            BY,
            "rice-bran",
            "รำข้าว ส่วนเกิน",
            "รำข้าวสดจากโรงสี",
            "th",
            "4",
            "TNE",
            "7000",
        ),
    ),
    StandingListing(
        50,
        DemoListing(
            "bang-nam-priao-pig-farm",
            WANT,
            BY,
            "rice-straw",
            "รับซื้อฟางข้าวสำหรับบ่อหมักก๊าซชีวภาพ",
            "Straw for co-digestion with pig manure, delivered.",
            "th",
            "60",
            "TNE",
            "300",
            Recurrence.MONTHLY,
            delivery=Delivery.DELIVERY,
        ),
    ),
    StandingListing(
        50,
        DemoListing(
            "bang-nam-priao-pig-farm",
            WANT,
            BY,
            "ewc-02-01-06",
            "รับมูลสัตว์เข้าบ่อหมัก",
            "Manure of any farm animal for the digester; we collect.",
            "th",
            "100",
            "TNE",
            "0",
            Recurrence.WEEKLY,
            delivery=Delivery.PICKUP,
        ),
    ),
    # An Giang: an isolated workshop's heads and bones (the feed mill makes feed of them), an
    # isolated plant's sludge (the wastewater firm takes sludge), a workshop's extra fat
    StandingListing(
        26,
        DemoListing(
            "cho-moi-fish-processing",
            OFFER,
            BY,
            "fish-heads-bones",
            "Đầu xương cá tra - xưởng Chợ Mới",
            "Đầu và xương cá tươi, ướp đá.",
            "vi",
            "5",
            "TNE",
            "3000000",
        ),
    ),
    StandingListing(
        30,
        DemoListing(
            "my-phuoc-seafood",
            OFFER,
            BY,
            "fish-processing-sludge",
            "Bùn thải cần xử lý",
            "Bùn đã tách nước; chúng tôi trả phí xử lý.",
            "vi",
            "20",
            "MTQ",
            "-150000",
            Recurrence.MONTHLY,
        ),
    ),
    StandingListing(
        16,
        DemoListing(
            "binh-duc-filleting",
            OFFER,
            BY,
            "fish-fat",
            "Mỡ cá tra dư",
            "Mỡ cá tươi, thu gom trong tuần.",
            "vi",
            "2",
            "TNE",
            "8500000",
        ),
    ),
    StandingListing(
        45,
        DemoListing(
            "long-xuyen-wastewater",
            WANT,
            BY,
            "fish-processing-sludge",
            "Nhận xử lý bùn thải chế biến cá",
            "Thu gom bùn thải đã tách nước; phí xử lý theo m3.",
            "vi",
            "200",
            "MTQ",
            "-180000",
            Recurrence.MONTHLY,
            delivery=Delivery.PICKUP,
        ),
    ),
)


async def seed_listings(
    db: Database,
    *,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, float, float]],
    now: datetime,
) -> int:
    """``organisations``: demo key -> (user id, organisation id, lat, lon); ``STANDING``
    listings are dated back from ``now``. Returns new listings."""
    created = 0
    for template in TEMPLATES:
        viewer, lat, lon = _acting(organisations, template.organisation)
        for copy in range(COPIES):
            listing_id = ids.listing_id(template.organisation, template.title, copy)
            if await service.get_listing(db=db, viewer=viewer, listing_id=listing_id):
                continue
            quantity = Decimal(template.quantity) * (1 + Decimal(copy) / 4)
            # the seeder runs outside the app and its clock: each listing at the wall clock's now
            listing: Listing = await service.create_listing(
                now=utcnow(),
                db=db,
                viewer=viewer,
                publish=copy < COPIES - 1,
                draft=service.ListingDraft(
                    id=listing_id,
                    kind=template.kind,
                    category=template.category,
                    title=template.title if copy == 0 else f"{template.title} ({copy + 1})",
                    description=template.description,
                    language=template.language,
                    material_code=template.material,
                    quantity=quantity,
                    unit_code=template.unit,
                    price_per_unit=Decimal(template.price) if template.price else None,
                    recurrence=template.recurrence,
                    season_months=list(template.months),
                    delivery=template.delivery,
                    location=Place(lat + 0.004 * copy, lon - 0.003 * copy, ""),
                    location_approximate=copy % 2 == 1,
                    specs=[service.Spec(k, v) for k, v in template.specs],
                ),
            )
            if copy == COPIES - 2 and listing.status is ListingStatus.ACTIVE:
                await service.close_listing(
                    now=utcnow(), db=db, viewer=viewer, listing_id=listing.id
                )
            created += 1
    for standing in STANDING:
        created += await _publish_standing(db, organisations, standing, now)
    return created


def _acting(
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, float, float]], key: str
) -> tuple[Viewer, float, float]:
    user_id, organisation_id, lat, lon = organisations[key]
    viewer = Viewer(
        user_id=user_id,
        role=Role.COMMUNITY if key in _COMMUNITIES else Role.FIRM,
        organisation_id=organisation_id,
        token_id="demo-seed",  # noqa: S106 - not a secret: the seeder acts without a token
    )
    return viewer, lat, lon


async def _publish_standing(
    db: Database,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, float, float]],
    standing: StandingListing,
    now: datetime,
) -> int:
    """Publishes the listing as of ``days_ago`` before ``now`` (the match notifications it sends
    are dated then too); returns 1 if it was not there."""
    template = standing.listing
    viewer, lat, lon = _acting(organisations, template.organisation)
    listing_id = ids.listing_id(template.organisation, template.title, 0)
    if await service.get_listing(db=db, viewer=viewer, listing_id=listing_id):
        return 0
    await service.create_listing(
        now=now - timedelta(days=standing.days_ago),
        db=db,
        viewer=viewer,
        publish=True,
        draft=service.ListingDraft(
            id=listing_id,
            kind=template.kind,
            category=template.category,
            title=template.title,
            description=template.description,
            language=template.language,
            material_code=template.material,
            quantity=Decimal(template.quantity),
            unit_code=template.unit,
            price_per_unit=Decimal(template.price) if template.price else None,
            recurrence=template.recurrence,
            season_months=list(template.months),
            delivery=template.delivery,
            location=Place(lat, lon, ""),
            location_approximate=False,
            specs=[service.Spec(k, v) for k, v in template.specs],
        ),
    )
    return 1


_COMMUNITIES = frozenset({"thalli-shg", "biomass-town", "bang-khla-coop", "my-hoa-hung-women"})
