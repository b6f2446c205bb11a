"""Reference data of the catalogue: units of measure, materials and economic activities.

`eic migrate` loads it after the schema migrations (:func:`sync_reference_data`), inserting what is
missing and updating names, so a new release can add materials and translations without a
migration. The EWC list comes from ``data/ewc-codes.csv`` (see ``data/NOTICE`` for its licence);
the clusters' own materials and the eco-products are below, hung under their EWC entries. The
activities are the UN's ISIC Rev. 4 from ``data/isic-rev4.csv`` (same notice).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue.factors import sync_conversions_and_factors
from backend.catalogue.models import Activity, ActivityLevel, Dimension, Material, Unit
from backend.kit.db import Database

DATA = Path(__file__).resolve().parent / "data"
ECO_PRODUCTS = "eco-products"


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    symbol: str
    dimension: Dimension
    factor: str


UNITS: tuple[UnitSpec, ...] = (
    UnitSpec("KGM", "kilogram", "kg", Dimension.MASS, "1"),
    UnitSpec("GRM", "gram", "g", Dimension.MASS, "0.001"),
    UnitSpec("TNE", "tonne", "t", Dimension.MASS, "1000"),
    UnitSpec("QTL", "quintal (100 kg)", "q", Dimension.MASS, "100"),
    UnitSpec("LTR", "litre", "l", Dimension.VOLUME, "1"),
    UnitSpec("MLT", "millilitre", "ml", Dimension.VOLUME, "0.001"),
    UnitSpec("MTQ", "cubic metre", "m³", Dimension.VOLUME, "1000"),
    UnitSpec("H87", "piece", "pc", Dimension.COUNT, "1"),
    UnitSpec("DZN", "dozen", "doz", Dimension.COUNT, "12"),
    UnitSpec("KWH", "kilowatt hour", "kWh", Dimension.ENERGY, "1"),
    UnitSpec("MWH", "megawatt hour", "MWh", Dimension.ENERGY, "1000"),
    UnitSpec("GJ", "gigajoule", "GJ", Dimension.ENERGY, "277.7777777778"),
    UnitSpec("BG", "bag", "bag", Dimension.BAG, "1"),
)


@dataclass(frozen=True)
class MaterialSpec:
    code: str
    parent: str
    name: str
    local_names: dict[str, str] = field(default_factory=dict)
    hs_code: str | None = None
    description: str = ""


# The clusters' materials (DOMAIN.md), each under the EWC entry it is classified as. Local names
# are in the clusters' languages: ja (Maniwa), th (Chachoengsao), vi (An Giang), ta and hi (Hosur).
CLUSTER_MATERIALS: tuple[MaterialSpec, ...] = (
    # wood (Maniwa)
    MaterialSpec(
        "wood-trimmings",
        "ewc-03-01-05",
        "Wood trimmings and offcuts",
        {"ja": "端材", "th": "เศษไม้", "vi": "gỗ vụn"},
        "4401.49",
    ),
    MaterialSpec(
        "wood-shavings",
        "ewc-03-01-05",
        "Wood shavings",
        {"ja": "かんなくず", "th": "ขี้กบไม้", "vi": "phoi bào gỗ"},
        "4401.49",
    ),
    MaterialSpec(
        "sawdust",
        "ewc-03-01-05",
        "Sawdust",
        {"ja": "おがくず", "th": "ขี้เลื่อย", "vi": "mùn cưa"},
        "4401.41",
    ),
    MaterialSpec(
        "bark", "ewc-03-01-01", "Bark", {"ja": "樹皮", "th": "เปลือกไม้", "vi": "vỏ cây"}, "4401.49"
    ),
    # rice (Chachoengsao)
    MaterialSpec(
        "rice-husk",
        "ewc-02-03-04",
        "Rice husk",
        {"th": "แกลบ", "vi": "trấu", "ja": "もみ殻", "ta": "உமி", "hi": "धान की भूसी"},
        "1213.00",
    ),
    MaterialSpec(
        "rice-straw",
        "ewc-02-01-03",
        "Rice straw",
        {"th": "ฟางข้าว", "vi": "rơm rạ", "ja": "稲わら", "ta": "வைக்கோல்"},
        "1213.00",
    ),
    MaterialSpec(
        "rice-bran",
        "ewc-02-03-04",
        "Rice bran",
        {"th": "รำข้าว", "vi": "cám gạo", "ja": "米ぬか", "ta": "அரிசி தவிடு"},
        "2302.40",
    ),
    MaterialSpec(
        "rice-husk-ash",
        "ewc-10-01-01",
        "Rice husk ash",
        {"th": "ขี้เถ้าแกลบ", "vi": "tro trấu", "ja": "もみ殻灰"},
        "2621.90",
    ),
    MaterialSpec(
        "poultry-manure",
        "ewc-02-01-06",
        "Poultry manure",
        {"th": "มูลไก่", "vi": "phân gà", "ja": "鶏ふん"},
        "3101.00",
    ),
    MaterialSpec(
        "piggery-manure",
        "ewc-02-01-06",
        "Piggery manure",
        {"th": "มูลสุกร", "vi": "phân heo", "ja": "豚ふん"},
        "3101.00",
    ),
    # fish (An Giang)
    MaterialSpec(
        "fish-fat",
        "ewc-02-02-03",
        "Fish fat",
        {"vi": "mỡ cá", "th": "ไขมันปลา", "ja": "魚脂"},
        "1504.20",
    ),
    MaterialSpec(
        "fish-heads-bones",
        "ewc-02-02-02",
        "Fish heads and bones",
        {"vi": "đầu và xương cá", "th": "หัวและก้างปลา", "ja": "魚のあら"},
        "0511.91",
    ),
    MaterialSpec(
        "fish-processing-sludge",
        "ewc-02-02-04",
        "Fish-processing wastewater sludge",
        {"vi": "bùn thải chế biến cá", "th": "ตะกอนน้ำเสียจากโรงงานปลา"},
    ),
    # silk (Hosur)
    MaterialSpec(
        "silk-waste",
        "ewc-04-02-21",
        "Silk waste",
        {"ta": "பட்டுக் கழிவு", "hi": "रेशम अपशिष्ट", "kn": "ರೇಷ್ಮೆ ತ್ಯಾಜ್ಯ", "ja": "くず糸"},
        "5003.00",
    ),
    MaterialSpec(
        "silkworm-pupae",
        "ewc-02-02-02",
        "Silkworm pupae",
        {"ta": "பட்டுப்புழு கூட்டுப்புழு", "hi": "रेशम कीट प्यूपा", "ja": "さなぎ"},
        "0511.99",
    ),
    MaterialSpec(
        "mulberry-residue",
        "ewc-02-01-03",
        "Mulberry residue and prunings",
        {"ta": "மல்பெரி கழிவு", "hi": "शहतूत अवशेष", "kn": "ಹಿಪ್ಪುನೇರಳೆ ತ್ಯಾಜ್ಯ"},
    ),
)

ECO_PRODUCT_MATERIALS: tuple[MaterialSpec, ...] = (
    MaterialSpec(
        "wood-pellets",
        ECO_PRODUCTS,
        "Wood pellets",
        {"ja": "木質ペレット", "th": "เชื้อเพลิงอัดเม็ดไม้", "vi": "viên nén gỗ"},
        "4401.31",
    ),
    MaterialSpec(
        "cat-sand",
        ECO_PRODUCTS,
        "Wood cat litter",
        {"ja": "木質猫砂", "th": "ทรายแมวจากไม้", "vi": "cát vệ sinh mèo từ gỗ"},
        "4401.39",
    ),
    MaterialSpec(
        "bio-ethanol",
        ECO_PRODUCTS,
        "Bio-ethanol",
        {"ja": "バイオエタノール", "th": "เอทานอลชีวภาพ", "vi": "cồn sinh học"},
        "2207.20",
    ),
    MaterialSpec(
        "wood-concrete", ECO_PRODUCTS, "Wood-based concrete", {"ja": "木片コンクリート"}, "6810.99"
    ),
    MaterialSpec(
        "rice-bran-oil",
        ECO_PRODUCTS,
        "Rice bran oil",
        {"th": "น้ำมันรำข้าว", "vi": "dầu cám gạo", "ja": "米油", "ta": "அரிசி தவிடு எண்ணெய்"},
        "1515.90",
    ),
    MaterialSpec(
        "biogas",
        ECO_PRODUCTS,
        "Biogas",
        {"th": "ก๊าซชีวภาพ", "vi": "khí sinh học", "ja": "バイオガス", "ta": "உயிர்வாயு"},
        "2711.29",
    ),
    MaterialSpec(
        "green-electricity",
        ECO_PRODUCTS,
        "Green electricity from biomass",
        {"th": "ไฟฟ้าจากชีวมวล", "vi": "điện sinh khối", "ja": "バイオマス電力"},
        "2716.00",
    ),
    MaterialSpec(
        "biodiesel",
        ECO_PRODUCTS,
        "Biodiesel",
        {"vi": "dầu diesel sinh học", "th": "ไบโอดีเซล", "ja": "バイオディーゼル"},
        "3826.00",
    ),
    MaterialSpec(
        "fish-feed",
        ECO_PRODUCTS,
        "Fish feed",
        {"vi": "thức ăn cá", "th": "อาหารปลา", "ja": "魚の飼料"},
        "2309.90",
    ),
    MaterialSpec(
        "spun-silk",
        ECO_PRODUCTS,
        "Spun silk yarn",
        {"ta": "நூற்ற பட்டு நூல்", "hi": "स्पन सिल्क धागा", "ja": "絹紡糸"},
        "5005.00",
    ),
    MaterialSpec(
        "biomass-briquettes",
        ECO_PRODUCTS,
        "Biomass briquettes",
        {"ta": "உயிர்த்திரள் கட்டிகள்", "th": "ถ่านอัดแท่งชีวมวล", "vi": "than sinh khối"},
        "4401.39",
    ),
    MaterialSpec(
        "natural-cosmetics",
        ECO_PRODUCTS,
        "Natural cosmetics",
        {"ja": "自然化粧品", "th": "เครื่องสำอางธรรมชาติ"},
        "3304.99",
    ),
)


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    parent_code: str | None
    name: str
    local_names: dict[str, str]
    ewc_code: str | None
    hs_code: str | None
    hazardous: bool
    description: str


def _ewc_code(code: str) -> str:
    return "ewc-" + code.replace(" ", "-")


@cache
def catalogue() -> tuple[CatalogueEntry, ...]:
    """The whole catalogue, parents before children."""
    entries: dict[str, CatalogueEntry] = {}
    with (DATA / "ewc-codes.csv").open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            chapter = _ewc_code(row["chapter_code"])
            sub = _ewc_code(row["sub_chapter_code"])
            entries.setdefault(
                chapter,
                CatalogueEntry(
                    chapter, None, row["chapter"], {}, row["chapter_code"], None, False, ""
                ),
            )
            entries.setdefault(
                sub,
                CatalogueEntry(
                    sub, chapter, row["sub_chapter"], {}, row["sub_chapter_code"], None, False, ""
                ),
            )
            hazardous = row["hazardous"].strip().lower() == "true"
            entries[_ewc_code(row["code"])] = CatalogueEntry(
                _ewc_code(row["code"]),
                sub,
                row["description"],
                {},
                row["code"],
                None,
                hazardous,
                row["entry_type"],
            )
    entries[ECO_PRODUCTS] = CatalogueEntry(
        ECO_PRODUCTS,
        None,
        "Eco-products",
        {"ja": "エコ製品", "th": "ผลิตภัณฑ์สีเขียว", "vi": "sản phẩm sinh thái"},
        None,
        None,
        False,
        "Products made from recovered material or with lower impact.",
    )
    for spec in CLUSTER_MATERIALS + ECO_PRODUCT_MATERIALS:
        parent = entries[spec.parent]
        entries[spec.code] = CatalogueEntry(
            spec.code,
            spec.parent,
            spec.name,
            dict(spec.local_names),
            parent.ewc_code if spec.parent != ECO_PRODUCTS else None,
            spec.hs_code,
            parent.hazardous,
            spec.description,
        )
    return tuple(entries.values())


def search_text(entry: CatalogueEntry | Material) -> str:
    parts = [entry.code, entry.name, *entry.local_names.values(), entry.ewc_code or ""]
    return " ".join(parts).lower()


@dataclass(frozen=True)
class ActivitySpec:
    code: str
    level: ActivityLevel
    parent_code: str | None
    section: str
    title: str


@cache
def activities() -> tuple[ActivitySpec, ...]:
    """ISIC Rev. 4, parents before children: 21 sections, 88 divisions, 238 groups and 419
    classes."""
    with (DATA / "isic-rev4.csv").open(encoding="utf-8", newline="") as rows:
        return tuple(
            ActivitySpec(
                row["code"],
                ActivityLevel(row["level"]),
                row["parent"] or None,
                row["section"],
                row["title"],
            )
            for row in csv.DictReader(rows)
        )


async def _sync_activities(session: AsyncSession) -> int:
    existing = {a.code: a for a in (await session.scalars(select(Activity))).all()}
    written = 0
    for spec in activities():
        activity = existing.get(spec.code)
        if activity is None:
            activity = Activity(code=spec.code, level=spec.level, parent_code=spec.parent_code)
            session.add(activity)
        elif (activity.title, activity.section) == (spec.title, spec.section):
            continue
        activity.section = spec.section
        activity.title = spec.title
        activity.search_text = f"{spec.code} {spec.title}".lower()
        written += 1
    # one flush: the unit of work inserts in the order added, parents before children
    await session.flush()
    return written


async def sync_reference_data(db: Database) -> int:
    """Insert missing units, materials and activities and refresh their names; returns rows
    written."""
    written = 0
    async with db.write() as session:
        units = {u.code: u for u in (await session.scalars(select(Unit))).all()}
        for spec in UNITS:
            unit = units.get(spec.code)
            if unit is None:
                session.add(
                    Unit(
                        code=spec.code,
                        name=spec.name,
                        symbol=spec.symbol,
                        dimension=spec.dimension,
                        factor=Decimal(spec.factor),
                    )
                )
                written += 1
            elif (unit.name, unit.symbol) != (spec.name, spec.symbol):
                unit.name, unit.symbol = spec.name, spec.symbol
                written += 1
        await session.flush()
        existing = {m.code: m for m in (await session.scalars(select(Material))).all()}
        paths: dict[str, str] = {}
        for entry in catalogue():
            path = (paths[entry.parent_code] + "/" if entry.parent_code else "") + entry.code
            paths[entry.code] = path
            material = existing.get(entry.code)
            if material is None:
                material = Material(
                    code=entry.code, parent_code=entry.parent_code, path=path, from_catalogue=True
                )
                session.add(material)
                written += 1
            elif (material.name, material.local_names, material.hs_code) == (
                entry.name,
                entry.local_names,
                entry.hs_code,
            ):
                continue
            else:
                written += 1
            material.name = entry.name
            material.local_names = dict(entry.local_names)
            material.ewc_code = entry.ewc_code
            material.hs_code = entry.hs_code
            material.hazardous = entry.hazardous
            material.description = entry.description
            material.search_text = search_text(entry)
        await session.flush()
        written += await sync_conversions_and_factors(session)
        written += await _sync_activities(session)
    return written
