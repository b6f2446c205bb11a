"""Reference data of match-making and the impact ledger: material conversions and impact factors.

Loaded by ``eic migrate`` with the catalogue (:func:`sync_conversions_and_factors`). Factors of a
method version are never changed once released: a revision is a new ``METHOD_VERSION`` with new
rows, and each ledger entry keeps copies of the figures it used.

CO2-equivalent factors (method ``eic-2026.1``) are derived from IPCC defaults, with every
parameter stated in the entry's source so that anyone can recompute them:

* Landfill baseline, IPCC 2006 Guidelines for National Greenhouse Gas Inventories, Vol. 5
  (Waste), Ch. 3, methane generation potential of one tonne of waste:
  ``CH4 = 1000 kg x DOC x DOCf x MCF x F x 16/12`` with DOCf = 0.5 (default), MCF = 0.6
  (uncategorised solid waste disposal site, Table 3.1), F = 0.5, no recovery and no oxidation;
  DOC per waste type from Vol. 5 Ch. 2 Table 2.4 (wet weight): wood 0.43, textiles 0.24, garden
  and park waste 0.20, food waste 0.15, sewage sludge 0.05. Methane is weighted with the
  100-year GWP of non-fossil methane, 27.0 (IPCC AR6 WG1, Table 7.15). It is the whole
  methane the tonne would release over the decades of decay, an upper bound when the
  counterfactual dump is shallow or aerobic.
* Open-burning baseline (rice residues), IPCC 2006 Vol. 4 (AFOLU) Ch. 2: emission factors for
  burning agricultural residues of 2.7 g CH4 and 0.07 g N2O per kg dry matter (Table 2.5),
  combustion factor 0.80 for rice residues (Table 2.6); GWP100 27.0 (CH4, non-fossil) and 273
  (N2O), AR6. The CO2 of burning biomass is biogenic and not counted. Per tonne as received,
  without a moisture correction (husk and straw are mostly dry matter), so slightly high.

Disposal costs have no published source for these towns that we could name: the figures below
are **illustrative values for the demo clusters**, and say so in their source. A cluster that
runs EIC replaces them with its municipality's tipping fee in a new method version.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue.models import ImpactFactor, MaterialConversion

METHOD_VERSION = "eic-2026.1"

CH4_GWP100_NON_FOSSIL = Decimal("27.0")
N2O_GWP100 = Decimal(273)


@dataclass(frozen=True)
class Conversion:
    input_code: str
    output_code: str
    process: str


# The clusters' known conversions (DOMAIN.md): what the brief's firms make of each other's waste.
CONVERSIONS: tuple[Conversion, ...] = (
    # Maniwa: trimmings and shavings become fuel, ethanol, concrete and cat sand
    Conversion("wood-shavings", "wood-pellets", "pelletising"),
    Conversion("sawdust", "wood-pellets", "pelletising"),
    Conversion("wood-trimmings", "wood-pellets", "chipping and pelletising"),
    Conversion("sawdust", "cat-sand", "drying and pressing into cat litter"),
    Conversion("wood-shavings", "cat-sand", "drying and pressing into cat litter"),
    Conversion("wood-trimmings", "bio-ethanol", "saccharification and fermentation"),
    Conversion("sawdust", "bio-ethanol", "saccharification and fermentation"),
    Conversion("wood-trimmings", "wood-concrete", "chipping as concrete aggregate"),
    Conversion("wood-trimmings", "green-electricity", "biomass boiler and power plant"),
    Conversion("bark", "green-electricity", "biomass boiler and power plant"),
    Conversion("sawdust", "biomass-briquettes", "briquetting"),
    # Chachoengsao: rice husk to power and husk ash, manure to biogas, bran to oil
    Conversion("rice-husk", "green-electricity", "biomass power plant"),
    Conversion("rice-husk", "rice-husk-ash", "combustion in a biomass power plant"),
    Conversion("rice-straw", "green-electricity", "biomass power plant"),
    Conversion("rice-straw", "biogas", "anaerobic digestion"),
    Conversion("poultry-manure", "biogas", "anaerobic digestion"),
    Conversion("piggery-manure", "biogas", "anaerobic digestion"),
    Conversion("rice-bran", "rice-bran-oil", "oil extraction"),
    Conversion("rice-husk", "biomass-briquettes", "briquetting"),
    # An Giang: fish fat to biodiesel, heads and bones to feed, sludge to biogas
    Conversion("fish-fat", "biodiesel", "transesterification"),
    Conversion("fish-heads-bones", "fish-feed", "fish meal processing"),
    Conversion("fish-processing-sludge", "biogas", "anaerobic digestion"),
    # Hosur: silk waste spun, pupae to feed, mulberry residue to fuel
    Conversion("silk-waste", "spun-silk", "degumming and spinning"),
    Conversion("silkworm-pupae", "fish-feed", "drying and grinding as protein feed"),
    Conversion("mulberry-residue", "biomass-briquettes", "briquetting"),
)


def _landfill(
    doc: str, waste_type: str, where: str = "Vol.5 Ch.2 Table 2.4"
) -> tuple[Decimal, str, str]:
    ch4 = Decimal(1000) * Decimal(doc) * Decimal("0.5") * Decimal("0.6") * Decimal("0.5")
    ch4 = ch4 * 16 / 12
    co2e = (ch4 * CH4_GWP100_NON_FOSSIL).quantize(Decimal("0.1"))
    source = (
        f"IPCC 2006 GL Vol.5 Ch.3 landfill methane potential: 1000 kg x DOC {doc} ({waste_type}, "
        f"{where}) x DOCf 0.5 x MCF 0.6 (uncategorised site, Table 3.1) x F 0.5 x "
        f"16/12 = {ch4.quantize(Decimal('0.01'))} kg CH4, x GWP100 27.0 (non-fossil CH4, "
        "IPCC AR6 WG1 Table 7.15)"
    )
    return co2e, source, "disposal in an unmanaged landfill or dump"


def _open_burning() -> tuple[Decimal, str, str]:
    burnt = Decimal(1000) * Decimal("0.80")
    ch4 = burnt * Decimal("2.7") / 1000
    n2o = burnt * Decimal("0.07") / 1000
    co2e = (ch4 * CH4_GWP100_NON_FOSSIL + n2o * N2O_GWP100).quantize(Decimal("0.1"))
    source = (
        "IPCC 2006 GL Vol.4 Ch.2 burning of agricultural residues: 1000 kg x combustion factor "
        "0.80 (rice residues, Table 2.6) x 2.7 g CH4 and 0.07 g N2O per kg dry matter "
        f"(Table 2.5) = {ch4} kg CH4 and {n2o} kg N2O, x GWP100 27.0 and 273 (IPCC AR6); "
        "biogenic CO2 not counted; per tonne as received"
    )
    return co2e, source, "open burning in the field"


@dataclass(frozen=True)
class Factor:
    material_code: str
    baseline: str
    co2e_kg_per_tonne: Decimal | None
    co2e_source: str
    disposal_cost_per_tonne: Decimal | None = None
    disposal_cost_currency: str | None = None
    kg_per_litre: Decimal | None = None

    @property
    def disposal_cost_source(self) -> str:
        if self.disposal_cost_per_tonne is None:
            return ""
        return (
            "Illustrative value for the demo clusters, not a published figure: replace with the "
            "local tipping fee"
        )


def _factor(
    code: str,
    basis: tuple[Decimal, str, str],
    cost: tuple[str, str] | None = None,
    kg_per_litre: str | None = None,
) -> Factor:
    co2e, source, baseline = basis
    return Factor(
        material_code=code,
        baseline=baseline,
        co2e_kg_per_tonne=co2e,
        co2e_source=source,
        disposal_cost_per_tonne=Decimal(cost[0]) if cost else None,
        disposal_cost_currency=cost[1] if cost else None,
        kg_per_litre=Decimal(kg_per_litre) if kg_per_litre else None,
    )


WOOD = _landfill("0.43", "wood")
TEXTILES = _landfill("0.24", "textiles")
GARDEN = _landfill("0.20", "garden and park waste")
FOOD = _landfill("0.15", "food waste")
SLUDGE = _landfill("0.05", "sewage sludge", "Vol.5 Ch.2 Sect. 2.3.2, default for sludge")
OPEN_BURNING = _open_burning()
INERT = (
    Decimal(0),
    "Inert mineral residue: no methane from a landfill (IPCC 2006 GL Vol.5 Ch.2, DOC 0 for "
    "inert waste)",
    "disposal in a landfill",
)

# By material; a material without its own factor uses its nearest ancestor's in the catalogue.
# Only biodegradable EWC entries carry a landfill factor: a chapter-wide fallback would credit
# methane to waste metal, plastics or agrochemicals listed under the same chapter.
FACTORS: tuple[Factor, ...] = (
    # Maniwa (JPY)
    _factor("wood-trimmings", WOOD, ("25000", "JPY")),
    _factor("wood-shavings", WOOD, ("25000", "JPY")),
    _factor("sawdust", WOOD, ("25000", "JPY")),
    _factor("bark", WOOD, ("25000", "JPY")),
    _factor("ewc-03-01-05", WOOD),  # sawdust, shavings, cuttings, wood, particle board
    _factor("ewc-03-01-01", WOOD),  # waste bark and cork
    # Chachoengsao (THB)
    _factor("rice-husk", OPEN_BURNING, ("400", "THB")),
    _factor("rice-straw", OPEN_BURNING, ("400", "THB")),
    _factor("rice-husk-ash", INERT, ("600", "THB")),
    # manure and bran: no IPCC default pathway in this method version; mass still counts
    Factor("poultry-manure", "land spreading without treatment", None, ""),
    Factor("piggery-manure", "land spreading without treatment", None, ""),
    Factor("rice-bran", "sold as feed in any case", None, ""),
    # An Giang (VND); fish fat and sludge are often traded by the litre
    _factor("fish-fat", FOOD, ("600000", "VND"), kg_per_litre="0.92"),
    _factor("fish-heads-bones", FOOD, ("600000", "VND")),
    _factor("fish-processing-sludge", SLUDGE, ("800000", "VND"), kg_per_litre="1.05"),
    _factor("ewc-02-02-02", FOOD),  # animal-tissue waste
    _factor("ewc-02-02-03", FOOD),  # materials unsuitable for consumption or processing
    # Hosur (INR)
    _factor("silk-waste", TEXTILES, ("2000", "INR")),
    _factor("silkworm-pupae", FOOD, ("1500", "INR")),
    _factor("mulberry-residue", GARDEN, ("1000", "INR")),
    _factor("ewc-04-02-21", TEXTILES),  # wastes from unprocessed textile fibres
    _factor("ewc-04-02-22", TEXTILES),  # wastes from processed textile fibres
    _factor("ewc-02-01-03", GARDEN),  # plant-tissue waste
)


async def sync_conversions_and_factors(session: AsyncSession) -> int:
    """Insert missing conversions and factors of the current method version; returns rows
    written. Existing factors are left as they are: a release that changes a figure bumps
    ``METHOD_VERSION`` instead."""
    written = 0
    known = {
        (c.input_code, c.output_code): c
        for c in (await session.scalars(select(MaterialConversion))).all()
    }
    for conversion in CONVERSIONS:
        existing = known.get((conversion.input_code, conversion.output_code))
        if existing is None:
            session.add(
                MaterialConversion(
                    input_code=conversion.input_code,
                    output_code=conversion.output_code,
                    process=conversion.process,
                )
            )
            written += 1
        elif existing.process != conversion.process:
            existing.process = conversion.process
            written += 1
    have = set(
        (
            await session.scalars(
                select(ImpactFactor.material_code).where(
                    ImpactFactor.method_version == METHOD_VERSION
                )
            )
        ).all()
    )
    for factor in FACTORS:
        if factor.material_code in have:
            continue
        session.add(
            ImpactFactor(
                material_code=factor.material_code,
                method_version=METHOD_VERSION,
                baseline=factor.baseline,
                co2e_kg_per_tonne=factor.co2e_kg_per_tonne,
                co2e_source=factor.co2e_source,
                disposal_cost_per_tonne=factor.disposal_cost_per_tonne,
                disposal_cost_currency=factor.disposal_cost_currency,
                disposal_cost_source=factor.disposal_cost_source,
                kg_per_litre=factor.kg_per_litre,
            )
        )
        written += 1
    return written
