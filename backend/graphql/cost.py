"""The cost of an operation, estimated before it runs, in time linear in the document's size.

A small document can ask for a large amount of work: 30 aliases of ``listings(first: 100)`` with
full cards answered 1.27 MB and took 5-10 s. The estimate is the number of objects the answer
may hold, each list at its largest page: what the resolvers load and the response carries.

- A leaf (a scalar, an enum, or a list of them) costs 0, and so do introspection fields.
- A field that returns an object costs 1 plus the cost of its selections.
- A field that returns a list of objects costs (1 plus the cost of its selections) per item: as
  many items as the page size of the field that holds the list (a connection's ``first`` for its
  ``edges``, its default when ``first`` is omitted or null, at most its maximum), or
  :data:`UNPAGED_ITEMS` for lists the API does not page (a listing's specs, a trade's history).

So ``listings(first: 100) { edges { node { id } } }`` costs 1 + 100 x (1 + 1) = 201: the
connection, and an edge and a listing per item. Fields marked :data:`ONE_OF` (a sync change's
``listing``, ``offer`` ...: one of them holds the thing, the others are null) cost as the most
costly of them that a selection set asks for. Otherwise the estimate is an upper bound: a field
selected twice under one name (say in two fragments) counts twice although it runs once,
fragments on other types of a union count as if they all applied, and ``@skip``/``@include``
are not read.

Like :mod:`backend.graphql.limits`, each fragment is measured once and reused at every spread. A
selection set's cost depends on how many items its lists hold, which its fragments do not know;
it is kept as ``fixed + per_item x items`` and the spread adds the two numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)

from backend.kit.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# Lists without paging are short: the services cap most of them at 10-20 items (MAX_SPECS,
# MAX_TIERS, MAX_TOPICS) and they are read with their parent, not one query per item.
UNPAGED_ITEMS = 10

# Metadata of a field whose `first` has another default and maximum than the Relay connections'
# (strawberry.field(metadata=page_size(...))).
PAGE_SIZE = "eic.page_size"


def page_size(*, default: int, most: int) -> dict[str, tuple[int, int]]:
    """Field metadata: ``first`` is ``default`` when omitted and at most ``most``."""
    return {PAGE_SIZE: (default, most)}


# Field metadata: of the fields of one object marked so, at most one is not null.
ONE_OF = {"eic.one_of": True}


@dataclass(frozen=True, slots=True)
class Cost:
    """A selection set's cost when each list in it holds ``items`` items."""

    fixed: int
    per_item: int

    def at(self, items: int) -> int:
        return self.fixed + self.per_item * items

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.fixed + other.fixed, self.per_item + other.per_item)


FREE = Cost(0, 0)


@dataclass
class CostMeasure:
    """The cost of a document's operation with the request's variables.

    ``visits`` counts the selections looked at: at most one per selection of the document."""

    schema: GraphQLSchema
    document: DocumentNode
    variables: Mapping[str, Any] | None = None
    visits: int = 0
    _fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    _measured: dict[str, Cost] = field(default_factory=dict)
    _measuring: set[str] = field(default_factory=set)
    _defaults: dict[str, ValueNode | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._fragments = {
            definition.name.value: definition
            for definition in self.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def of(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        # A fragment's `first: $n` reads the variables of the operation that runs it.
        self._defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
        self._measured.clear()
        return self._selections(operation.selection_set, root).at(UNPAGED_ITEMS)

    def _selections(self, selection_set: SelectionSetNode | None, parent: Any) -> Cost:
        cost = FREE
        # The ONE_OF fields asked for, by name: the aliases of one of them are all non-null.
        alternatives: dict[str, Cost] = {}
        for selection in selection_set.selections if selection_set else ():
            self.visits += 1
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if _one_of(parent, name):
                    alternatives[name] = alternatives.get(name, FREE) + self._field(
                        selection, parent
                    )
                else:
                    cost += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                cost += self._selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                cost += self._fragment(selection.name.value)
        if alternatives:
            cost += Cost(
                max(c.fixed for c in alternatives.values()),
                max(c.per_item for c in alternatives.values()),
            )
        return cost

    def _fragment(self, name: str) -> Cost:
        measured = self._measured.get(name)
        if measured is not None:
            return measured
        fragment = self._fragments.get(name)
        # An unknown fragment, or one that spreads itself (both refused by validation), is free.
        if fragment is None or name in self._measuring:
            return FREE
        self._measuring.add(name)
        measured = self._selections(
            fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value)
        )
        self._measuring.discard(name)
        self._measured[name] = measured
        return measured

    def _field(self, node: FieldNode, parent: Any) -> Cost:
        if node.name.value.startswith("__") or not node.selection_set:
            return FREE  # leaves, and introspection
        definition = (
            parent.fields.get(node.name.value)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if definition is None or not is_composite_type(get_named_type(definition.type)):
            return FREE  # refused by validation
        size = self._page_size(node, definition)
        inner = self._selections(node.selection_set, get_named_type(definition.type))
        # The lists inside this field hold a page when it takes `first`.
        each = inner.at(UNPAGED_ITEMS if size is None else size)
        if not is_list_type(get_nullable_type(definition.type)):
            return Cost(1 + each, 0)
        if size is not None:  # a list paged by its own `first`
            return Cost(size * (1 + each), 0)
        return Cost(0, 1 + each)  # as many items as the field holding it pages

    def _page_size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size a field asks for, None for a field that takes no ``first``."""
        if "first" not in definition.args:
            return None
        default, most = _metadata(definition).get(PAGE_SIZE, (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE))
        asked: Any = None
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value: ValueNode | None = argument.value
            if isinstance(value, VariableNode):
                name = value.name.value
                if self.variables is not None and name in self.variables:
                    asked = self.variables[name]
                else:
                    value = self._defaults.get(name)
            if isinstance(value, IntValueNode):
                asked = int(value.value)
        # A first that is not a number is refused when it runs; above the maximum or below 1, by
        # the service: count what the service could answer at most.
        # A JSON number such as 100.0 or 1e2 is a valid Int variable (graphql-core coerces it):
        # count it as the page it asks for.
        if isinstance(asked, float) and asked.is_integer():
            asked = int(asked)
        if not isinstance(asked, int) or isinstance(asked, bool):
            return int(default)
        return max(0, min(asked, int(most)))


def _metadata(definition: GraphQLField) -> Mapping[str, Any]:
    strawberry_field = (definition.extensions or {}).get("strawberry-definition")
    return getattr(strawberry_field, "metadata", None) or {}


def _one_of(parent: Any, name: str) -> bool:
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return False
    definition = parent.fields.get(name)
    return definition is not None and bool(_metadata(definition).get("eic.one_of"))
