"""Relay connections over the services' keyset pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from backend.kit.pagination import Page

NodeT = TypeVar("NodeT")

First = Annotated[
    int | None,
    strawberry.argument(description="How many items to return: 20 when omitted, at most 100."),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Return the items after this cursor (an `endCursor` of an earlier page)."
    ),
]


def total_count_selected(info: strawberry.Info) -> bool:
    """Whether the query asks for ``totalCount`` of this connection (through fragments too).

    Counting every match costs as much as finding the page again; lists whose count is not
    cheap skip it when the app does not show it. Read off the field's own nodes (Strawberry's
    ``info.selected_fields`` converts the whole selection below, every request: 3 % of a page).
    """
    raw = info._raw_info
    return any(_asks_total(node.selection_set, raw.fragments, set()) for node in raw.field_nodes)


def _asks_total(
    selection_set: SelectionSetNode | None, fragments: dict[str, Any], seen: set[str]
) -> bool:
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == "totalCount":
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _asks_total(selection.selection_set, fragments, seen):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if name not in seen and fragment is not None:
                seen.add(name)  # validation refuses cycles; a fragment is read once anyway
                if _asks_total(fragment.selection_set, fragments, seen):
                    return True
    return False


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item; pass it as `after` for the next page."
    )


@strawberry.type(description="An item of a list with its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque position of this item in the list.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (a Relay connection).")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    total_count: int = strawberry.field(
        description="How many items the whole list has. For listings it costs a second search: "
        "leave it out of queries that do not show it."
    )

    @classmethod
    def of(cls, page: Page[Any], node: Callable[[Any], NodeT]) -> Connection[NodeT]:
        edges = [
            Edge(cursor=cursor, node=node(item))
            for item, cursor in zip(page.items, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            total_count=page.total_count if page.total_count is not None else len(edges),
        )
