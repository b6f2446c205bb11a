"""The material catalogue, units of measure and economic activities (ISIC Rev. 4): browsing,
look-ups other domains make inside their own unit of work, and the one rule for "a material and
everything below it".

Every public function that opens a session is keyword-only and owns its unit of work; the
``session`` helpers run inside the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue.factors import METHOD_VERSION
from backend.catalogue.models import Activity, ActivityLevel, ImpactFactor, Material, Unit
from backend.catalogue.reference import search_text
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_language, check_text

MATERIAL_CODE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
NOT_IN_CATALOGUE = "Not a code of the material catalogue"


@dataclass(frozen=True, slots=True)
class NewMaterial:
    code: str
    parent_code: str
    name: str
    local_names: dict[str, str] = field(default_factory=dict)
    hs_code: str | None = None
    hazardous: bool | None = None
    description: str = ""


def is_material_code(code: str) -> bool:
    """The shape of every catalogue code; anything else is refused before it reaches SQL."""
    return bool(MATERIAL_CODE.fullmatch(code))


def unknown_material(field_name: str) -> ServiceError:
    """The one answer to a material code that is not in the catalogue, whoever asks: a mistake in
    the input (VALIDATION on its field), not a missing object the client asked for by id."""
    return ServiceError.of(ErrorCode.VALIDATION, NOT_IN_CATALOGUE, field_name)


async def find_material(session: AsyncSession, *, code: str, field_name: str) -> Material:
    """The material with this code, or :func:`unknown_material` for ``field_name``."""
    material = await session.get(Material, code) if is_material_code(code) else None
    if material is None:
        raise unknown_material(field_name)
    return material


def subtree(material: Material, *, include_material: bool = True) -> ColumnElement[bool]:
    """Materials at and below ``material`` (only below with ``include_material=False``).

    ``path`` lists the codes from the root, so the subtree is one indexed prefix match; codes
    hold no LIKE wildcards (:data:`MATERIAL_CODE`), so the path needs no escaping.
    """
    below = Material.path.like(material.path + "/%")
    return or_(Material.path == material.path, below) if include_material else below


async def check_material(
    session: AsyncSession, problems: Problems, code: str, field_name: str
) -> Material | None:
    """The material with this code, or a problem (other domains call it in their own unit of
    work)."""
    material = await session.get(Material, code) if is_material_code(code) else None
    if material is None:
        problems.add(field_name, NOT_IN_CATALOGUE)
    return material


async def check_unit(
    session: AsyncSession, problems: Problems, code: str, field_name: str
) -> Unit | None:
    """The unit for a Rec 20 code in any case, or a problem."""
    unit = None
    if re.fullmatch(r"[A-Za-z0-9]{1,3}", code):
        unit = await session.get(Unit, code.upper())
    if unit is None:
        problems.add(field_name, "Not a known UN/ECE unit code")
    return unit


MATERIALS_BY_NAME = Sort("materials:name", (SortKey(Material.name), SortKey(Material.code)))


async def list_materials(
    *, db: Database, search_for: str | None, parent_code: str | None, page: PageRequest
) -> Page[Material]:
    """Children of ``parent_code`` (the roots when omitted); with a search, the whole subtree."""
    problems = Problems()
    if search_for is not None:
        check_text(problems, "search", search_for, min_length=0, max_length=100)
    problems.raise_if_any()
    statement = select(Material)
    async with db.read() as session:
        parent = None
        if parent_code is not None:
            parent = await find_material(session, code=parent_code, field_name="parentCode")
        if search_for and search_for.strip():
            escaped = search_for.strip().lower()
            for char in ("\\", "%", "_"):
                escaped = escaped.replace(char, "\\" + char)
            statement = statement.where(Material.search_text.like(f"%{escaped}%", escape="\\"))
            if parent is not None:
                statement = statement.where(subtree(parent, include_material=False))
        elif parent is not None:
            statement = statement.where(Material.parent_code == parent.code)
        else:
            statement = statement.where(Material.parent_code.is_(None))
        return await paginate(session, statement, sort=MATERIALS_BY_NAME, request=page)


async def get_material(*, db: Database, code: str) -> Material | None:
    if not is_material_code(code):
        return None
    async with db.read() as session:
        return await session.get(Material, code)


async def materials_by_code(*, db: Database, codes: Collection[str]) -> dict[str, Material]:
    """The materials of ``codes`` that exist, by code (one statement)."""
    if not codes:
        return {}
    async with db.read() as session:
        found = await session.scalars(select(Material).where(Material.code.in_(list(codes))))
        return {material.code: material for material in found.all()}


async def names_in_languages(
    session: AsyncSession, codes: Collection[str]
) -> dict[str, dict[str, str]]:
    """Each material's names by language tag (the English name under "en", then its local
    names), by code, in one statement: what a notification names it by in any language."""
    if not codes:
        return {}
    rows = await session.execute(
        select(Material.code, Material.name, Material.local_names).where(
            Material.code.in_(list(codes))
        )
    )
    return {code: {"en": name, **(local or {})} for code, name, local in rows.all()}


async def list_units(*, db: Database) -> list[Unit]:
    async with db.read() as session:
        return list(
            (await session.scalars(select(Unit).order_by(Unit.dimension, Unit.factor))).all()
        )


async def create_material(*, db: Database, material: NewMaterial) -> Material:
    """Platform admins add a material under an existing one (organisations cannot)."""
    problems = Problems()
    if not is_material_code(material.code) or len(material.code) > 64:
        problems.add("code", "Use lower-case letters, digits and single hyphens (at most 64)")
    check_text(problems, "name", material.name, min_length=2, max_length=300)
    check_text(
        problems,
        "description",
        material.description,
        min_length=0,
        max_length=2000,
        multiline=True,
    )
    for language, name in material.local_names.items():
        check_language(problems, "localNames", language)
        check_text(problems, f"localNames.{language}", name, min_length=1, max_length=300)
    if material.hs_code is not None and not re.fullmatch(r"\d{4}(\.\d{2}){0,2}", material.hs_code):
        problems.add("hsCode", "Use an HS code such as 4401.31")
    problems.raise_if_any()
    try:
        async with db.write() as session:
            parent = await find_material(
                session, code=material.parent_code, field_name="parentCode"
            )
            # What is below a hazardous entry is hazardous too: the marketplace's licence check
            # reads the flag, so a material made "not hazardous" under one would open a way
            # round it.
            if parent.hazardous and material.hazardous is False:
                raise ServiceError.of(
                    ErrorCode.VALIDATION,
                    f"{parent.code} is hazardous, and so is everything below it",
                    "hazardous",
                )
            created = Material(
                code=material.code,
                parent_code=parent.code,
                path=f"{parent.path}/{material.code}",
                name=material.name.strip(),
                local_names={k: v.strip() for k, v in material.local_names.items()},
                ewc_code=parent.ewc_code,
                hs_code=material.hs_code,
                hazardous=parent.hazardous if material.hazardous is None else material.hazardous,
                description=material.description.strip(),
                from_catalogue=False,
            )
            created.search_text = search_text(created)
            session.add(created)
    except IntegrityError as exc:
        raise ServiceError.of(
            ErrorCode.CONFLICT, "A material with this code exists", "code"
        ) from exc
    return created


async def impact_factor(session: AsyncSession, material: Material) -> ImpactFactor | None:
    """The current method's (``METHOD_VERSION``) impact factor of the material, or of its
    nearest ancestor: one statement, inside the caller's transaction."""
    lineage = material.path.split("/")  # root first
    factors = {
        f.material_code: f
        for f in (
            await session.scalars(
                select(ImpactFactor).where(
                    ImpactFactor.material_code.in_(lineage),
                    ImpactFactor.method_version == METHOD_VERSION,
                )
            )
        ).all()
    }
    return next((factors[code] for code in reversed(lineage) if code in factors), None)


# ---------------------------------------------------------------------------------------------
# Economic activities (ISIC Rev. 4)

# A section letter, or two to four digits (division, group, class). Anything else is refused
# before it reaches SQL; being digits and letters only, a code needs no LIKE escaping.
ACTIVITY_CODE = re.compile(r"[A-U]|[0-9]{2,4}")
NOT_AN_ACTIVITY = "Not an ISIC Rev. 4 activity code"
ACTIVITIES_BY_CODE = Sort("activities:code", (SortKey(Activity.code),))
# A word of a search that is a code or its start: "16", "161", "1610", or NACE-style "16.1".
_CODE_PREFIX = re.compile(r"[0-9]{1,2}(\.?[0-9]){0,2}")


def is_activity_code(code: str) -> bool:
    return bool(ACTIVITY_CODE.fullmatch(code))


def _below(activity: Activity) -> ColumnElement[bool]:
    """Activities under ``activity`` (not itself), at any depth. A section holds what carries
    its letter; below it, ISIC codes extend their parent's code by one digit, so the subtree of a
    division or group is one prefix match on the primary key."""
    if activity.level is ActivityLevel.SECTION:
        return (Activity.section == activity.code) & (Activity.code != activity.code)
    return Activity.code.like(activity.code + "_%")


def _matches(search_for: str) -> list[ColumnElement[bool]]:
    """One condition per word, all of which must hold: a word that is the start of a code
    ("16", "161", "16.1") matches the codes it starts (a division's or group's classes), any
    other word a part of the lower-cased code and title."""
    conditions: list[ColumnElement[bool]] = []
    for word in search_for.lower().split():
        if _CODE_PREFIX.fullmatch(word):
            conditions.append(Activity.code.like(word.replace(".", "") + "%"))
            continue
        escaped = word
        for char in ("\\", "%", "_"):
            escaped = escaped.replace(char, "\\" + char)
        conditions.append(Activity.search_text.like(f"%{escaped}%", escape="\\"))
    return conditions


async def list_activities(
    *,
    db: Database,
    search_for: str | None = None,
    level: ActivityLevel | None = ActivityLevel.CLASS,
    parent_code: str | None = None,
    page: PageRequest,
    with_total: bool = True,
) -> Page[Activity]:
    """Activities by code: of ``level`` (every level when None; classes by default, the level
    organisations name), below ``parent_code`` (a section, division or group) when given, and
    matching every word of ``search_for`` (see :func:`_matches`)."""
    problems = Problems()
    if search_for is not None:
        check_text(problems, "search", search_for, min_length=0, max_length=100)
    if parent_code is not None and not is_activity_code(parent_code):
        problems.add("parentCode", NOT_AN_ACTIVITY)
    problems.raise_if_any()
    statement = select(Activity)
    if level is not None:
        statement = statement.where(Activity.level == level)
    if search_for and search_for.split():
        statement = statement.where(*_matches(search_for))
    async with db.read() as session:
        if parent_code is not None:
            parent = await session.get(Activity, parent_code)
            if parent is None:
                raise ServiceError.of(ErrorCode.VALIDATION, NOT_AN_ACTIVITY, "parentCode")
            statement = statement.where(_below(parent))
        return await paginate(
            session, statement, sort=ACTIVITIES_BY_CODE, request=page, with_total=with_total
        )


async def get_activity(*, db: Database, code: str) -> Activity | None:
    if not is_activity_code(code):
        return None
    async with db.read() as session:
        return await session.get(Activity, code)


async def get_activities(*, db: Database, codes: Collection[str]) -> dict[str, Activity]:
    """The activities of these codes that exist, by code: one statement, for the API's
    per-request loaders (a page of organisations reads its activities at once)."""
    wanted = {code for code in codes if is_activity_code(code)}
    if not wanted:
        return {}
    async with db.read() as session:
        found = await session.scalars(select(Activity).where(Activity.code.in_(wanted)))
        return {activity.code: activity for activity in found.all()}


async def check_activity_class(
    session: AsyncSession, problems: Problems, code: str, field_name: str
) -> Activity | None:
    """The ISIC class (four digits) with this code, or a problem: organisations name what they
    do by a class, so that two of them are in one activity or not (a division would be both).
    Other domains call it in their own unit of work."""
    activity = await session.get(Activity, code) if is_activity_code(code) else None
    if activity is None:
        problems.add(field_name, NOT_AN_ACTIVITY)
        return None
    if activity.level is not ActivityLevel.CLASS:
        problems.add(
            field_name,
            f"{code} is a {activity.level.value.lower()} of ISIC Rev. 4: choose one of its "
            "classes (four digits)",
        )
        return None
    return activity
