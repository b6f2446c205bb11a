"""The demo's clusters and accounts: the brief's four prototype clusters with fictional
organisations and people, one account per organisation and a platform admin.

Their ids come from :mod:`backend.demo.ids`. Every demo account's password is
:data:`DEMO_PASSWORD`; they exist only where the demo was loaded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from backend.auth.passwords import Passwords
from backend.demo import ids
from backend.identity.models import (
    Cluster,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    OrganisationSubtype,
    Sector,
    User,
)
from backend.kit.db import Base, Database, utcnow

DEMO_PASSWORD = "eic-demo-2026"  # noqa: S105 - published in the README on purpose
DEMO_EMAIL_DOMAIN = "demo.eic.example"


@dataclass(frozen=True)
class DemoOrganisation:
    key: str  # also the demo account's email local part
    name: str
    kind: OrganisationKind
    subtype: OrganisationSubtype
    lat: float
    lon: float
    place_name: str
    description: str
    person: str


@dataclass(frozen=True)
class DemoCluster:
    slug: str
    name: str
    region: str
    country: str
    sector: Sector
    lat: float
    lon: float
    currency: str
    languages: tuple[str, ...]
    timezone: str
    description: str
    organisations: tuple[DemoOrganisation, ...]


F, C, INST = OrganisationKind.FIRM, OrganisationKind.COMMUNITY, OrganisationKind.INSTITUTION
S = OrganisationSubtype

CLUSTERS: tuple[DemoCluster, ...] = (
    DemoCluster(
        slug="hosur-silk",
        name="Hosur Sericulture Cluster",
        region="Tamil Nadu",
        country="IN",
        sector=Sector.SERICULTURE,
        lat=12.74,
        lon=77.83,
        currency="INR",
        languages=("ta", "kn", "te", "en"),
        timezone="Asia/Kolkata",
        description="Supply-led silk cluster of producers in secondary towns: resource recovery "
        "from silk waste and pupae, biomass for reeling heat. Key benefit: diversification and "
        "jobs; major constraint: social capital.",
        organisations=(
            DemoOrganisation(
                "hosur-reelers",
                "Hosur Silk Reelers",
                F,
                S.SMALL_ENTERPRISE,
                12.7409,
                77.8253,
                "SIPCOT Phase I, Hosur",
                "Multi-end silk reeling; silk waste and pupae every week.",
                "Priya Raman",
            ),
            DemoOrganisation(
                "krishnagiri-spun-silk",
                "Krishnagiri Spun Silk Works",
                F,
                S.MICRO_ENTERPRISE,
                12.7692,
                77.8021,
                "Bagalur Road, Hosur",
                "Spins noil and silk waste into spun silk yarn.",
                "Arun Kumar",
            ),
            DemoOrganisation(
                "mulberry-biomass",
                "Mulberry Green Biomass",
                F,
                S.MICRO_ENTERPRISE,
                12.7154,
                77.8688,
                "Mathigiri, Hosur",
                "Briquettes from mulberry prunings for reeling ovens.",
                "Lakshmi Devi",
            ),
            DemoOrganisation(
                "thalli-shg",
                "Thalli Women's Sericulture SHG",
                C,
                S.SHG,
                12.6530,
                77.8870,
                "Thalli village",
                "Twenty rearers pooling cocoons, purchases and savings.",
                "Meena Selvam",
            ),
            DemoOrganisation(
                "hosur-research-station",
                "Hosur Sericulture Research Station",
                INST,
                S.RESEARCH_INSTITUTE,
                12.7520,
                77.8170,
                "Hosur",
                "Extension seminars on pupae oil, biogas and clean reeling.",
                "Dr. S. Venkatesh",
            ),
        ),
    ),
    DemoCluster(
        slug="maniwa-wood",
        name="Maniwa Wood Biomass Cluster",
        region="Okayama",
        country="JP",
        sector=Sector.WOOD,
        lat=35.07,
        lon=133.75,
        currency="JPY",
        languages=("ja",),
        timezone="Asia/Tokyo",
        description="Demand-led wood cluster of about 75 small businesses (log processing, "
        "packing boxes) in a biomass town: energy, ethanol, pellets and cat sand from wood "
        "waste, carbon-offset horticulture. Key benefit: zero emission and eco-products; "
        "major constraint: integrated policy.",
        organisations=(
            DemoOrganisation(
                "maniwa-lumber",
                "Maniwa Lumber Mill",
                F,
                S.MEDIUM_ENTERPRISE,
                35.0759,
                133.7525,
                "Katsuyama, Maniwa",
                "Sawmill for cedar and cypress; trimmings, bark and sawdust daily.",
                "Sato Kenji",
            ),
            DemoOrganisation(
                "katsuyama-pellets",
                "Katsuyama Pellet Works",
                F,
                S.SMALL_ENTERPRISE,
                35.0921,
                133.6914,
                "Katsuyama, Maniwa",
                "Wood pellets and cat sand from shavings and sawdust.",
                "Tanaka Yui",
            ),
            DemoOrganisation(
                "hokubo-boxes",
                "Hokubo Packing Boxes",
                F,
                S.MICRO_ENTERPRISE,
                35.0518,
                133.7734,
                "Hokubo, Maniwa",
                "Wooden packing boxes; offcuts and shavings to give away.",
                "Suzuki Daichi",
            ),
            DemoOrganisation(
                "biomass-town",
                "Maniwa Biomass Town Association",
                C,
                S.NPO,
                35.0687,
                133.7528,
                "Maniwa City Hall area",
                "Runs biomass tours and the cluster's community meetings.",
                "Yamamoto Aiko",
            ),
            DemoOrganisation(
                "okayama-biomass-lab",
                "Okayama University Biomass Lab",
                INST,
                S.UNIVERSITY,
                34.6880,
                133.9220,
                "Tsushima campus, Okayama",
                "Research on wood-based concrete and bio-ethanol with local firms.",
                "Prof. Ito Hiroshi",
            ),
        ),
    ),
    DemoCluster(
        slug="chachoengsao-rice",
        name="Chachoengsao Rice Cluster",
        region="Chachoengsao",
        country="TH",
        sector=Sector.RICE,
        lat=13.69,
        lon=101.07,
        currency="THB",
        languages=("th",),
        timezone="Asia/Bangkok",
        description="Demand-led regional rice cluster with some exports: biomass power from "
        "rice husk and residues, biogas from poultry and piggery waste. Key benefit: waste "
        "management and income; major constraint: enabling technology.",
        organisations=(
            DemoOrganisation(
                "bang-pakong-mill",
                "Bang Pakong Rice Mill",
                F,
                S.MEDIUM_ENTERPRISE,
                13.6512,
                101.0412,
                "Bang Pakong",
                "Parboiled rice; husk, bran and broken rice as by-products.",
                "Somchai Wongsa",
            ),
            DemoOrganisation(
                "husk-power",
                "Chachoengsao Husk Power",
                F,
                S.SMALL_ENTERPRISE,
                13.7105,
                101.1023,
                "Mueang Chachoengsao",
                "9.9 MW husk-fired power plant; sells husk ash.",
                "Nattaya Srisuk",
            ),
            DemoOrganisation(
                "phanom-poultry",
                "Phanom Sarakham Poultry Farm",
                F,
                S.SMALL_ENTERPRISE,
                13.7461,
                101.3568,
                "Phanom Sarakham",
                "Layer farm; manure for biogas, buys rice bran.",
                "Anan Chaiyo",
            ),
            DemoOrganisation(
                "bang-khla-coop",
                "Bang Khla Rice Farmers Cooperative",
                C,
                S.COOPERATIVE,
                13.7270,
                101.2070,
                "Bang Khla",
                "Three hundred farming households; straw and joint purchases.",
                "Pranee Thongdee",
            ),
            DemoOrganisation(
                "provincial-energy-office",
                "Chachoengsao Provincial Energy Office",
                INST,
                S.LOCAL_GOVERNMENT,
                13.6880,
                101.0720,
                "Mueang Chachoengsao",
                "Workshops on biogas and husk gasifiers.",
                "Wichai Boonmee",
            ),
        ),
    ),
    DemoCluster(
        slug="an-giang-fish",
        name="An Giang Fish Cluster",
        region="An Giang",
        country="VN",
        sector=Sector.FISH,
        lat=10.37,
        lon=105.43,
        currency="VND",
        languages=("vi",),
        timezone="Asia/Ho_Chi_Minh",
        description="Demand-led, mainly export pangasius cluster with extensive subcontracting: "
        "biofuel from fish fat, industrial fish feed, wastewater treatment. Key benefit: water "
        "quality and jobs; major constraint: eco-market forces.",
        organisations=(
            DemoOrganisation(
                "long-xuyen-pangasius",
                "Long Xuyen Pangasius Processing",
                F,
                S.MEDIUM_ENTERPRISE,
                10.3861,
                105.4358,
                "My Quy, Long Xuyen",
                "Fillets for export; fish fat, heads, bones and sludge daily.",
                "Nguyen Van Minh",
            ),
            DemoOrganisation(
                "mekong-biodiesel",
                "Mekong Biodiesel",
                F,
                S.SMALL_ENTERPRISE,
                10.3532,
                105.4621,
                "Binh Duc, Long Xuyen",
                "Biodiesel from pangasius fat.",
                "Tran Thi Lan",
            ),
            DemoOrganisation(
                "an-giang-feed",
                "An Giang Feed Mill",
                F,
                S.SMALL_ENTERPRISE,
                10.4113,
                105.3987,
                "My Thoi, Long Xuyen",
                "Fish meal and feed from heads and bones.",
                "Le Quoc Bao",
            ),
            DemoOrganisation(
                "my-hoa-hung-women",
                "My Hoa Hung Women's Union Group",
                C,
                S.SHG,
                10.3975,
                105.4512,
                "My Hoa Hung islet",
                "Fish farmers' wives running savings and feed purchases.",
                "Pham Thi Hoa",
            ),
            DemoOrganisation(
                "an-giang-university",
                "An Giang University Environment Centre",
                INST,
                S.UNIVERSITY,
                10.3712,
                105.4326,
                "Long Xuyen",
                "Wastewater treatment and water-quality seminars.",
                "Dr. Vo Thanh Tam",
            ),
        ),
    ),
)

# One person in two organisations, so the apps' organisation switcher has something to show.
SECOND_MEMBERSHIP = ("biomass-town", "katsuyama-pellets")


def demo_email(key: str) -> str:
    return f"{key}@{DEMO_EMAIL_DOMAIN}"


async def is_empty(db: Database) -> bool:
    async with db.read() as session:
        return (await session.scalar(select(func.count()).select_from(Cluster))) == 0


async def seed_clusters(db: Database, passwords: Passwords) -> int:
    """Insert whatever of the clusters, organisations, accounts and memberships is missing;
    existing rows are left as they are. Returns the rows it created."""
    # One hash for every demo account: they share the published password anyway.
    password_hash = await passwords.hash(DEMO_PASSWORD)
    verified_at = utcnow()
    created = 0
    async with db.write() as session:

        async def ensure(model: type[Base], id_: uuid.UUID, **values: object) -> None:
            nonlocal created
            if await session.get(model, id_) is None:
                session.add(model(id=id_, **values))
                created += 1

        await ensure(
            User,
            ids.user_id(ids.ADMIN_KEY),
            email=demo_email(ids.ADMIN_KEY),
            display_name="EIC Platform Admin",
            password_hash=password_hash,
            is_platform_admin=True,
        )
        for cluster in CLUSTERS:
            cluster_id = ids.cluster_id(cluster.slug)
            await ensure(
                Cluster,
                cluster_id,
                slug=cluster.slug,
                name=cluster.name,
                region=cluster.region,
                country=cluster.country,
                sector=cluster.sector,
                centre_lat=cluster.lat,
                centre_lon=cluster.lon,
                currency=cluster.currency,
                languages=list(cluster.languages),
                timezone=cluster.timezone,
                description=cluster.description,
            )
            await session.flush()
            for org in cluster.organisations:
                org_id = ids.organisation_id(org.key)
                user_id = ids.user_id(org.key)
                await ensure(
                    Organisation,
                    org_id,
                    name=org.name,
                    kind=org.kind,
                    subtype=org.subtype,
                    cluster_id=cluster_id,
                    lat=org.lat,
                    lon=org.lon,
                    place_name=org.place_name,
                    description=org.description,
                    # The prototype clusters' organisations were checked by the platform team.
                    verified_at=verified_at,
                    verified_by_id=ids.user_id(ids.ADMIN_KEY),
                )
                await ensure(
                    User,
                    user_id,
                    email=demo_email(org.key),
                    display_name=org.person,
                    password_hash=password_hash,
                )
                await session.flush()
                await ensure(
                    Membership,
                    ids.membership_id(org.key),
                    user_id=user_id,
                    organisation_id=org_id,
                    role=MembershipRole.ADMIN,
                )
        person, other = SECOND_MEMBERSHIP
        await session.flush()
        await ensure(
            Membership,
            ids.membership_id(person, other),
            user_id=ids.user_id(person),
            organisation_id=ids.organisation_id(other),
            role=MembershipRole.MEMBER,
        )
    return created
