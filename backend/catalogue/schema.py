"""The catalogue's economic activities (ISIC Rev. 4) in the GraphQL schema: the `Activity` type,
the activity picker's `activities` query, and the per-request loader other domains' types use
to show an activity by its code.

The materials and units fields stayed in ``marketplace/schema`` where they were. The activities
live here because identity's `Organisation` type shows one: the marketplace's schema builds on
identity's (listings show their organisation), so identity could not take the type from there
without a circle.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.dataloader import DataLoader

from backend.catalogue import service
from backend.catalogue.models import Activity, ActivityLevel
from backend.graphql.budgets import ReadBudget
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of
from backend.kit.db import Database
from backend.kit.pagination import PageRequest

strawberry.enum(
    ActivityLevel,
    description="The levels of ISIC Rev. 4, from the broadest: SECTION (a letter), DIVISION "
    "(two digits), GROUP (three), CLASS (four).",
)


@strawberry.type(
    name="Activity",
    description="An economic activity of the UN's International Standard Industrial "
    "Classification (ISIC Rev. 4), such as `1610` Sawmilling and planing of wood. Organisations "
    "say what they do with a class; cluster insights tell links within one activity from links "
    "along a supply chain by it.",
)
class ActivityType:
    code: str = strawberry.field(
        description="The ISIC code: a section letter, or 2 (division), 3 (group) or 4 (class) "
        "digits."
    )
    level: ActivityLevel = strawberry.field(description="Section, division, group or class.")
    title: str = strawberry.field(description="The English title UNSD publishes.")
    parent_code: str | None = strawberry.field(
        description="The code of the activity it belongs to; null for a section."
    )
    section: str = strawberry.field(
        description="The letter of its section (`C` Manufacturing), for every level."
    )

    @classmethod
    def of(cls, activity: Activity) -> ActivityType:
        return cls(
            code=activity.code,
            level=activity.level,
            title=activity.title,
            parent_code=activity.parent_code,
            section=activity.section,
        )


async def activity_by_code(info: strawberry.Info, code: str | None) -> ActivityType | None:
    """The activity of this code, through the request's loader: the fields of a page of
    organisations ask one by one, and it reads them all in one statement."""
    if code is None:
        return None
    context = context_of(info)
    loader = context.loader("catalogue:activities", lambda: _activity_loader(context.db))
    activity = await loader.load(code)
    return ActivityType.of(activity) if activity else None


def _activity_loader(db: Database) -> DataLoader[str, Activity | None]:
    async def load(codes: list[str]) -> list[Activity | None]:
        found = await service.get_activities(db=db, codes=codes)
        return [found.get(code) for code in codes]

    return DataLoader(load_fn=load)


@strawberry.type
class CatalogueQuery:
    @strawberry.field(
        description="The activity picker: ISIC Rev. 4 activities by code, classes unless "
        "`level` says otherwise. `search` matches every word against the code and the title "
        "(any case); a word that is the start of a code (`16`, `161`, `16.1`) finds the "
        "classes of that division or group. Anyone may read it, also without signing in. "
        "Rate-limited (THROTTLED with `extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def activities(
        self,
        info: strawberry.Info,
        search: Annotated[
            str | None,
            strawberry.argument(description="Words or the start of a code, as the user types."),
        ] = None,
        level: Annotated[
            ActivityLevel | None,
            strawberry.argument(
                description="Only this level: CLASS when omitted (organisations name a class); "
                "null for every level."
            ),
        ] = ActivityLevel.CLASS,
        parent_code: Annotated[
            str | None,
            strawberry.argument(
                description="Only activities below this one, at any depth: a section letter "
                "(`C`), a division (`16`) or a group (`161`). VALIDATION if there is none."
            ),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[ActivityType]:
        page = await service.list_activities(
            db=context_of(info).db,
            search_for=search,
            level=level,
            parent_code=parent_code,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[ActivityType].of(page, ActivityType.of)


__all__ = ["ActivityType", "CatalogueQuery", "activity_by_code"]
