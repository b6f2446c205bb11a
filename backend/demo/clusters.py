"""The demo's clusters and accounts: the brief's four prototype clusters with fictional
organisations and people, one account per organisation and a platform admin.

Their ids come from :mod:`backend.demo.ids`. Every demo account's password is
:data:`DEMO_PASSWORD`; they exist only where the demo was loaded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    # ISIC Rev. 4 class (backend/catalogue/data/isic-rev4.csv): cluster insights tell links
    # within one activity (horizontal) from links across activities (vertical) by it
    activity: str
    # False: insights show it to the cluster's institutions as "a firm in activity X"
    named_in_insights: bool = True


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
                "1311",
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
                "1311",
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
                "1629",
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
                "9499",
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
                "7210",
            ),
            DemoOrganisation(
                "bagalur-reeling",
                "Bagalur Cottage Reeling Unit",
                F,
                S.MICRO_ENTERPRISE,
                12.8327,
                77.8691,
                "Bagalur",
                "Cottage-basin reeling heated with briquettes; pupae every day.",
                "Ravi Shankar",
                "1311",
            ),
            DemoOrganisation(
                "hosur-pupae-oil",
                "Hosur Pupae Oil Extractors",
                F,
                S.SMALL_ENTERPRISE,
                12.7302,
                77.8405,
                "SIPCOT Phase II, Hosur",
                "Presses pupae oil for soap makers; the cake goes to feed.",
                "Farida Begum",
                "1040",
            ),
            DemoOrganisation(
                "denkanikottai-mulberry",
                "Denkanikottai Mulberry Growers",
                F,
                S.MICRO_ENTERPRISE,
                12.5302,
                77.7905,
                "Denkanikottai",
                "Mulberry gardens and rearing sheds; prunings after every harvest.",
                "Murugan Gounder",
                "0150",
            ),
            DemoOrganisation(
                "kelamangalam-cocoon-farm",
                "Kelamangalam Cocoon Farm",
                F,
                S.MICRO_ENTERPRISE,
                12.6031,
                77.8522,
                "Kelamangalam",
                "Bivoltine silkworm rearing; bed litter and leftover leaves.",
                "Sarasu Ammal",
                "0149",
            ),
            DemoOrganisation(
                "hosur-vermicompost",
                "Hosur Vermicompost Unit",
                F,
                S.MICRO_ENTERPRISE,
                12.671,
                77.8604,
                "Kelamangalam Road, Hosur",
                "Vermicompost from rearing-bed litter, sold back to mulberry gardens.",
                "Gopal Reddy",
                "3821",
            ),
            DemoOrganisation(
                "kamandoddi-cocoon-farm",
                "Kamandoddi Cocoon Farm",
                F,
                S.MICRO_ENTERPRISE,
                12.683,
                77.992,
                "Kamandoddi",
                "Silkworm rearing; flimsy and double cocoons set aside as waste.",
                "Saroja Mani",
                "0149",
            ),
            DemoOrganisation(
                "hosur-silk-recyclers",
                "Hosur Silk Waste Recyclers",
                F,
                S.SMALL_ENTERPRISE,
                12.7588,
                77.8102,
                "Zuzuvadi, Hosur",
                "Opens and cleans cocoon waste for spinners and silk wadding.",
                "Imran Khan",
                "3830",
            ),
            DemoOrganisation(
                "hosur-twisting",
                "Hosur Silk Twisting Mill",
                F,
                S.SMALL_ENTERPRISE,
                12.7455,
                77.8311,
                "SIPCOT Phase I, Hosur",
                "Twists raw silk into warp and weft; waste yarn every week.",
                "Venkat Rao",
                "1311",
            ),
            DemoOrganisation(
                "denkanikottai-spinners",
                "Denkanikottai Silk Spinners",
                F,
                S.MICRO_ENTERPRISE,
                12.539,
                77.7802,
                "Denkanikottai",
                "Hand-spun silk yarn from waste yarn and noil.",
                "Kaveri Nagaraj",
                "1311",
            ),
            DemoOrganisation(
                "berigai-reelers",
                "Berigai Multi-end Reelers",
                F,
                S.SMALL_ENTERPRISE,
                12.8105,
                77.9702,
                "Berigai",
                "Multi-end reeling for the Hosur market; pupae by the sack.",
                "Shankar Naidu",
                "1311",
                named_in_insights=False,
            ),
            DemoOrganisation(
                "hosur-pupae-feed",
                "Hosur Pupae Feed Mill",
                F,
                S.SMALL_ENTERPRISE,
                12.706,
                77.8801,
                "Mookandapalli, Hosur",
                "Grinds dried pupae into protein meal for poultry and fish feed.",
                "Abdul Rahim",
                "1080",
            ),
            DemoOrganisation(
                "shoolagiri-reelers",
                "Shoolagiri Silk Reelers",
                F,
                S.MICRO_ENTERPRISE,
                12.665,
                78.012,
                "Shoolagiri",
                "Charka reeling by six families; pupae for a fish farm.",
                "Latha Krishnan",
                "1311",
            ),
            DemoOrganisation(
                "rayakottai-fish-farm",
                "Rayakottai Fish Farm",
                F,
                S.MICRO_ENTERPRISE,
                12.5185,
                78.0312,
                "Rayakottai",
                "Carp ponds fed partly on silkworm pupae.",
                "Selvaraj Pandian",
                "0322",
            ),
            DemoOrganisation(
                "hosur-weavers",
                "Hosur Silk Handloom Weavers",
                F,
                S.MICRO_ENTERPRISE,
                12.7224,
                77.819,
                "Old Hosur",
                "Silk sarees on handlooms; thread waste nobody collects yet.",
                "Bhavani Shekar",
                "1312",
            ),
            DemoOrganisation(
                "uddanapalli-cocoon-farm",
                "Uddanapalli Cocoon Farm",
                F,
                S.MICRO_ENTERPRISE,
                12.6125,
                77.962,
                "Uddanapalli",
                "Rears silkworms on its own mulberry; prunings pile up after harvest.",
                "Chinnasamy Raju",
                "0150",
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
                "1610",
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
                "1629",
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
                "1623",
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
                "9499",
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
                "8530",
            ),
            DemoOrganisation(
                "ochiai-sawmill",
                "Ochiai Sawmill",
                F,
                S.SMALL_ENTERPRISE,
                35.0186,
                133.7388,
                "Ochiai, Maniwa",
                "Cypress sawmill; shavings, trimmings and bark every day.",
                "Kobayashi Takeshi",
                "1610",
            ),
            DemoOrganisation(
                "kuse-sawmill",
                "Kuse Timber Works",
                F,
                S.SMALL_ENTERPRISE,
                35.0612,
                133.6745,
                "Kuse, Maniwa",
                "Cedar posts and beams; bark, sawdust and offcuts.",
                "Nakamura Hiroshi",
                "1610",
                named_in_insights=False,
            ),
            DemoOrganisation(
                "yubara-timber",
                "Yubara Timber",
                F,
                S.MICRO_ENTERPRISE,
                35.1922,
                133.705,
                "Yubara, Maniwa",
                "A small sawmill in the hot-spring valley; bark and sawdust.",
                "Watanabe Mika",
                "1610",
            ),
            DemoOrganisation(
                "katsuyama-crates",
                "Katsuyama Crates",
                F,
                S.MICRO_ENTERPRISE,
                35.0868,
                133.6952,
                "Katsuyama, Maniwa",
                "Pallets and crates; its offcuts fuel the power station.",
                "Kato Shun",
                "1623",
            ),
            DemoOrganisation(
                "maniwa-precut",
                "Maniwa Precut Joinery",
                F,
                S.SMALL_ENTERPRISE,
                35.0725,
                133.761,
                "Ochiai industrial park, Maniwa",
                "Precut timber frames for houses; shavings and sawdust.",
                "Yoshida Ken",
                "1622",
            ),
            DemoOrganisation(
                "mikamo-cat-sand",
                "Mikamo Cat Sand",
                F,
                S.MICRO_ENTERPRISE,
                35.1405,
                133.7288,
                "Mikamo, Maniwa",
                "Hinoki cat litter from sawdust, shavings and pellet fines.",
                "Yamada Emi",
                "1629",
            ),
            DemoOrganisation(
                "maniwa-bioethanol",
                "Maniwa Bio-Ethanol Pilot Plant",
                F,
                S.SMALL_ENTERPRISE,
                35.0655,
                133.7602,
                "Maniwa industrial park",
                "Ethanol from sawdust and trimmings, run with the university.",
                "Sasaki Jun",
                "2011",
            ),
            DemoOrganisation(
                "maniwa-biomass-power",
                "Maniwa Biomass Power Station",
                F,
                S.MEDIUM_ENTERPRISE,
                35.0802,
                133.7401,
                "Kuse industrial area, Maniwa",
                "10 MW power station burning bark, offcuts and unused forest wood.",
                "Matsumoto Ryo",
                "3510",
            ),
            DemoOrganisation(
                "maniwa-wood-concrete",
                "Maniwa Wood Concrete",
                F,
                S.MICRO_ENTERPRISE,
                35.0489,
                133.7655,
                "Hokubo, Maniwa",
                "Blocks and panels with wood chips as aggregate.",
                "Inoue Saki",
                "2395",
            ),
            DemoOrganisation(
                "yubara-greenhouse",
                "Yubara Greenhouse Farm",
                F,
                S.MICRO_ENTERPRISE,
                35.205,
                133.715,
                "Yubara, Maniwa",
                "Tomatoes under glass heated with pellets; bark as mulch.",
                "Kimura Nao",
                "0113",
            ),
            DemoOrganisation(
                "kuse-log-yard",
                "Kuse Log Yard",
                F,
                S.MICRO_ENTERPRISE,
                35.0555,
                133.662,
                "Kuse, Maniwa",
                "Debarks logs for the sawmills; the bark piles up.",
                "Hayashi Koji",
                "0220",
            ),
            DemoOrganisation(
                "maniwa-furniture",
                "Maniwa Furniture Workshop",
                F,
                S.MICRO_ENTERPRISE,
                35.0975,
                133.7512,
                "Katsuyama, Maniwa",
                "Hand-made hinoki furniture; shavings by the bag.",
                "Shimizu Aya",
                "3100",
            ),
            DemoOrganisation(
                "maniwa-city-environment",
                "Maniwa City Environment Division",
                INST,
                S.LOCAL_GOVERNMENT,
                35.0758,
                133.7525,
                "Maniwa City Hall",
                "Issues the cluster's umbrella permit for wood-waste disposal.",
                "Kato Emi",
                "8413",
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
                "1061",
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
                "3510",
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
                "0146",
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
                "0112",
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
                "8413",
            ),
            DemoOrganisation(
                "ban-pho-mill",
                "Ban Pho Rice Mill",
                F,
                S.MEDIUM_ENTERPRISE,
                13.6008,
                101.0842,
                "Ban Pho",
                "White rice and a bran stabiliser; husk and broken rice for neighbours.",
                "Suchart Meesri",
                "1061",
            ),
            DemoOrganisation(
                "bang-nam-priao-mill",
                "Bang Nam Priao Rice Mill",
                F,
                S.SMALL_ENTERPRISE,
                13.8601,
                101.0533,
                "Bang Nam Priao",
                "Jasmine rice; husk to the parboiling mills.",
                "Kanya Rattanakul",
                "1061",
            ),
            DemoOrganisation(
                "plaeng-yao-mill",
                "Plaeng Yao Rice Mill",
                F,
                S.SMALL_ENTERPRISE,
                13.5912,
                101.298,
                "Plaeng Yao",
                "White rice; husk to the power plant, bran to Ban Pho.",
                "Prasert Chaiwong",
                "1061",
            ),
            DemoOrganisation(
                "sanam-chai-khet-mill",
                "Sanam Chai Khet Rice Mill",
                F,
                S.SMALL_ENTERPRISE,
                13.634,
                101.442,
                "Sanam Chai Khet",
                "Hill-side mill; nearly all its husk goes to one parboiler.",
                "Boonsong Kaewta",
                "1061",
                named_in_insights=False,
            ),
            DemoOrganisation(
                "ratchasan-mill",
                "Ratchasan Parboiling Mill",
                F,
                S.SMALL_ENTERPRISE,
                13.7802,
                101.279,
                "Ratchasan",
                "Parboiled rice with a husk-fired boiler.",
                "Wanida Phromma",
                "1061",
            ),
            DemoOrganisation(
                "khlong-khuean-mill",
                "Khlong Khuean Rice Flour Mill",
                F,
                S.SMALL_ENTERPRISE,
                13.7705,
                101.1712,
                "Khlong Khuean",
                "Rice flour from the province's broken rice.",
                "Chalerm Saetang",
                "1061",
            ),
            DemoOrganisation(
                "bang-nam-priao-pig-farm",
                "Bang Nam Priao Biogas Pig Farm",
                F,
                S.MEDIUM_ENTERPRISE,
                13.842,
                101.0902,
                "Bang Nam Priao",
                "3,000 pigs and a covered-lagoon digester; takes manure and bran.",
                "Supaporn Intarasuk",
                "0145",
            ),
            DemoOrganisation(
                "bang-khla-straw-bales",
                "Bang Khla Straw Baling Service",
                F,
                S.MICRO_ENTERPRISE,
                13.7355,
                101.2155,
                "Bang Khla",
                "Bales straw after the harvest instead of burning it.",
                "Thongchai Sukjai",
                "0161",
            ),
            DemoOrganisation(
                "khao-hin-son-piggery",
                "Khao Hin Son Piggery",
                F,
                S.SMALL_ENTERPRISE,
                13.749,
                101.498,
                "Khao Hin Son, Phanom Sarakham",
                "Fattening pigs; manure without a digester yet.",
                "Nipon Saelim",
                "0145",
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
                "1020",
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
                "2029",
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
                "1080",
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
                "9499",
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
                "8530",
            ),
            DemoOrganisation(
                "long-xuyen-wastewater",
                "Long Xuyen Industrial Wastewater Services",
                F,
                S.SMALL_ENTERPRISE,
                10.3901,
                105.418,
                "My Quy, Long Xuyen",
                "Treats processing wastewater; takes sludge from the fillet plants.",
                "Do Minh Tuan",
                "3700",
            ),
            DemoOrganisation(
                "an-giang-fish-oil",
                "An Giang Fish Oil Refinery",
                F,
                S.SMALL_ENTERPRISE,
                10.348,
                105.4755,
                "Binh Duc, Long Xuyen",
                "Refines pangasius fat into cooking and feed oil.",
                "Huynh Thi Mai",
                "1040",
            ),
            DemoOrganisation(
                "my-thoi-fish-farm",
                "My Thoi Pangasius Farm",
                F,
                S.SMALL_ENTERPRISE,
                10.406,
                105.389,
                "My Thoi, Long Xuyen",
                "Contract farm of the fillet plant, on its feed.",
                "Nguyen Van Hung",
                "0322",
            ),
            DemoOrganisation(
                "cho-moi-fish-farm",
                "Cho Moi Pangasius Farm",
                F,
                S.MICRO_ENTERPRISE,
                10.548,
                105.401,
                "Cho Moi",
                "Contract farm of the fillet plant, on its feed.",
                "Tran Van Phuc",
                "0322",
            ),
            DemoOrganisation(
                "phu-tan-fish-farm",
                "Phu Tan Pangasius Farm",
                F,
                S.MICRO_ENTERPRISE,
                10.652,
                105.289,
                "Phu Tan",
                "Contract farm of the fillet plant, on its feed.",
                "Le Thi Thu",
                "0322",
                named_in_insights=False,
            ),
            DemoOrganisation(
                "chau-thanh-fish-farm",
                "Chau Thanh Pangasius Farm",
                F,
                S.SMALL_ENTERPRISE,
                10.433,
                105.305,
                "Chau Thanh",
                "Contract farm of the fillet plant, on its feed.",
                "Vo Van Lam",
                "0322",
            ),
            DemoOrganisation(
                "my-quy-filleting",
                "My Quy Filleting Workshop",
                F,
                S.MICRO_ENTERPRISE,
                10.3905,
                105.429,
                "My Quy, Long Xuyen",
                "Fillets for the export plant; returns heads, bones and fat.",
                "Pham Van Duc",
                "1020",
            ),
            DemoOrganisation(
                "binh-duc-filleting",
                "Binh Duc Filleting Workshop",
                F,
                S.MICRO_ENTERPRISE,
                10.356,
                105.459,
                "Binh Duc, Long Xuyen",
                "Fillets for the export plant; returns heads and bones.",
                "Ngo Thi Hanh",
                "1020",
            ),
            DemoOrganisation(
                "my-thanh-filleting",
                "My Thanh Filleting Workshop",
                F,
                S.MICRO_ENTERPRISE,
                10.3295,
                105.471,
                "My Thanh, Long Xuyen",
                "Fillets for the export plant; returns heads and bones.",
                "Dang Van Son",
                "1020",
            ),
            DemoOrganisation(
                "cho-moi-fish-processing",
                "Cho Moi Fish Processing",
                F,
                S.MICRO_ENTERPRISE,
                10.553,
                105.409,
                "Cho Moi",
                "Dried fish and fish sauce; heads and bones without a taker.",
                "Bui Thi Ngoc",
                "1020",
            ),
            DemoOrganisation(
                "my-phuoc-seafood",
                "My Phuoc Seafood",
                F,
                S.SMALL_ENTERPRISE,
                10.358,
                105.442,
                "My Phuoc, Long Xuyen",
                "Frozen catfish; pays to be rid of its wastewater sludge.",
                "Truong Van Loc",
                "1020",
            ),
            DemoOrganisation(
                "an-giang-environment",
                "An Giang Department of Natural Resources and Environment",
                INST,
                S.LOCAL_GOVERNMENT,
                10.3865,
                105.4352,
                "Long Xuyen",
                "Issues the processing zone's umbrella permit on effluent loads.",
                "Huynh Van Phuc",
                "8413",
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
    existing rows are left as they are, except that demo organisations loaded before they had
    an activity get theirs (and whether insights name them). Returns the rows it created."""
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
        await _give_activities(session)
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
                    activity_code=org.activity,
                    named_in_insights=org.named_in_insights,
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


async def _give_activities(session: AsyncSession) -> None:
    """Demo organisations loaded before organisations had an activity get the demo's (a
    database seeded by an earlier version; the next run fills in the rest of the demo)."""
    demo_organisations = {
        ids.organisation_id(org.key): org for cluster in CLUSTERS for org in cluster.organisations
    }
    without = await session.scalars(
        select(Organisation).where(
            Organisation.id.in_(list(demo_organisations)), Organisation.activity_code.is_(None)
        )
    )
    for row in without:
        org = demo_organisations[row.id]
        row.activity_code = org.activity
        row.named_in_insights = org.named_in_insights
