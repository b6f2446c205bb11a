"""The material catalogue: units of measure, materials, the conversions between them and the
impact factors of keeping them from disposal.

The marketplace, joint purchasing and events all name materials and units; they live here, in a
package of their own, so that those domains do not reach the catalogue through the marketplace.
Table names are those of the first migrations.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.kit.db import Base, UTCDateTime, enum_column, utcnow


class Dimension(StrEnum):
    MASS = "MASS"
    VOLUME = "VOLUME"
    COUNT = "COUNT"
    ENERGY = "ENERGY"
    BAG = "BAG"  # bags and sacks differ in size: comparable only with each other


class ActivityLevel(StrEnum):
    """The four levels of ISIC Rev. 4, from the broadest."""

    SECTION = "SECTION"  # a letter: "C" Manufacturing
    DIVISION = "DIVISION"  # two digits: "16" Manufacture of wood and of products of wood ...
    GROUP = "GROUP"  # three digits: "161" Sawmilling and planing of wood
    CLASS = "CLASS"  # four digits: "1610" Sawmilling and planing of wood


class Activity(Base):
    """An economic activity of the UN's International Standard Industrial Classification of All
    Economic Activities, Revision 4 (ISIC Rev. 4): what an organisation does, so that cluster
    insights can tell links within one activity (horizontal) from links across activities
    (vertical, along a supply chain). Reference data loaded by ``eic migrate``; organisations
    name a class (four digits)."""

    __tablename__ = "activities"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    level: Mapped[ActivityLevel] = mapped_column(enum_column(ActivityLevel, "activity_level"))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("activities.code", ondelete="RESTRICT"), index=True
    )
    # the section letter of every level, so "all of manufacturing" is one equality
    section: Mapped[str] = mapped_column(String(1), index=True)
    title: Mapped[str] = mapped_column(String(300))
    # lower-cased code and title: what the activity picker's search matches against
    search_text: Mapped[str] = mapped_column(Text, default="")


class Unit(Base):
    """A UN/ECE Recommendation 20 unit and its factor to its dimension's base unit."""

    __tablename__ = "units"
    __table_args__ = (CheckConstraint("factor > 0", name="factor_positive"),)

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    symbol: Mapped[str] = mapped_column(String(12))
    dimension: Mapped[Dimension] = mapped_column(enum_column(Dimension, "dimension"))
    # base units: KGM for mass, LTR for volume, H87 for count, KWH for energy, BG for bags
    factor: Mapped[Decimal] = mapped_column(Numeric(24, 10))


class Material(Base):
    """A node of the catalogue. ``path`` lists the codes from the root, so that a material and
    all its descendants are one indexed prefix match (``path LIKE 'ewc-03/%'``)."""

    __tablename__ = "materials"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("materials.code", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(400), index=True)
    name: Mapped[str] = mapped_column(String(300))
    # {"ja": "おがくず", "th": "..."}: what people call it in the clusters' languages
    local_names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    ewc_code: Mapped[str | None] = mapped_column(String(8), index=True)
    hs_code: Mapped[str | None] = mapped_column(String(10))
    hazardous: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    # lower-cased code, names and EWC code: what catalogue search matches against
    search_text: Mapped[str] = mapped_column(Text, default="")
    # True for the reference data `eic migrate` loads; false for materials admins added
    from_catalogue: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaterialConversion(Base):
    """A known way to turn one material into another ("wood shavings -> wood pellets").

    Reference data (loaded by ``eic migrate``): it lets match-making put a firm with shavings in
    front of the pellet maker, and two inputs of one conversion in front of each other.
    """

    __tablename__ = "material_conversions"
    __table_args__ = (UniqueConstraint("input_code", "output_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    input_code: Mapped[str] = mapped_column(
        ForeignKey("materials.code", ondelete="CASCADE"), index=True
    )
    output_code: Mapped[str] = mapped_column(
        ForeignKey("materials.code", ondelete="CASCADE"), index=True
    )
    process: Mapped[str] = mapped_column(String(200))


class ImpactFactor(Base):
    """What one tonne of a material kept from disposal avoids, under one method version.

    Factors are never edited in place: a new method version adds rows, and each ledger entry
    keeps the figures it was computed with, so a change of factors never rewrites history.
    """

    __tablename__ = "impact_factors"
    __table_args__ = (
        UniqueConstraint("material_code", "method_version"),
        CheckConstraint("kg_per_litre IS NULL OR kg_per_litre > 0", name="density_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    material_code: Mapped[str] = mapped_column(ForeignKey("materials.code", ondelete="CASCADE"))
    method_version: Mapped[str] = mapped_column(String(32))
    # the disposal the trade replaces, such as "unmanaged landfill" or "open burning"
    baseline: Mapped[str] = mapped_column(String(200))
    co2e_kg_per_tonne: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    co2e_source: Mapped[str] = mapped_column(Text, default="")
    disposal_cost_per_tonne: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    disposal_cost_currency: Mapped[str | None] = mapped_column(String(3))
    disposal_cost_source: Mapped[str] = mapped_column(Text, default="")
    # to count litres as kilograms diverted (fish fat, sludge)
    kg_per_litre: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
