"""Depth and alias limits that cost time linear in the document's size.

Strawberry's depth and alias limiters walk a fragment again at every spread of it: a ~1 KB
document whose fragments each spread the next one twice (20 levels) kept a process busy for
9-28 s, 30 levels for minutes, and every other request waited. Here each fragment's depth and
alias count are worked out once and reused at every spread, so a document costs one visit per
selection however its fragments fan out. The figures are the same as Strawberry's: root fields
are depth 0 (as in graphql-depth-limit), introspection fields add no depth, and aliases are
counted as the operation would run them, inside every spread of a fragment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    aliases: int


@dataclass
class DocumentMeasure:
    """Depth and expanded alias count of a document's operations, each fragment measured once.

    ``visits`` counts the selections looked at: at most one per selection of the document."""

    document: DocumentNode
    visits: int = 0
    _fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    _measured: dict[str, Measure] = field(default_factory=dict)
    _measuring: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._fragments = {
            definition.name.value: definition
            for definition in self.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def operations(self) -> list[tuple[OperationDefinitionNode, Measure]]:
        return [
            (definition, self._selections(definition.selection_set))
            for definition in self.document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ]

    def first_beyond(self, operation: OperationDefinitionNode, limit: int) -> Node | None:
        """The first selection (in document order, through spreads) deeper than ``limit``: where
        the error points. Only branches whose measured depth reaches past the limit are entered,
        so finding it costs a walk of one branch per level."""
        return self._first_beyond(operation.selection_set, 0, limit, frozenset())

    def _first_beyond(
        self, selection_set: SelectionSetNode | None, level: int, limit: int, spread: frozenset[str]
    ) -> Node | None:
        for selection in selection_set.selections if selection_set else ():
            if level > limit:
                return selection
            found: Node | None = None
            if isinstance(selection, FieldNode):
                if selection.selection_set and not selection.name.value.startswith("__"):
                    inner = self._selections(selection.selection_set)
                    if level + 1 + inner.depth > limit:
                        found = self._first_beyond(
                            selection.selection_set, level + 1, limit, spread
                        )
            elif isinstance(selection, InlineFragmentNode):
                if level + self._selections(selection.selection_set).depth > limit:
                    found = self._first_beyond(selection.selection_set, level, limit, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragments.get(name)
                enter = fragment is not None and name not in spread
                if enter and level + self._fragment(name).depth > limit:
                    assert fragment is not None
                    found = self._first_beyond(
                        fragment.selection_set, level, limit, spread | {name}
                    )
            if found is not None:
                return found
        return None

    def _fragment(self, name: str) -> Measure:
        measured = self._measured.get(name)
        if measured is not None:
            return measured
        fragment = self._fragments.get(name)
        # An unknown fragment, or one that spreads itself (both refused by the standard rules),
        # adds nothing here.
        if fragment is None or name in self._measuring:
            return Measure(0, 0)
        self._measuring.add(name)
        measured = self._selections(fragment.selection_set)
        self._measuring.discard(name)
        self._measured[name] = measured
        return measured

    def _selections(self, selection_set: SelectionSetNode | None) -> Measure:
        depth = 0
        aliases = 0
        for selection in selection_set.selections if selection_set else ():
            self.visits += 1
            if isinstance(selection, FieldNode):
                if selection.alias:
                    aliases += 1
                if selection.selection_set:
                    inner = self._selections(selection.selection_set)
                    aliases += inner.aliases
                    if not selection.name.value.startswith("__"):
                        depth = max(depth, 1 + inner.depth)
            elif isinstance(selection, InlineFragmentNode):
                inner = self._selections(selection.selection_set)
                depth, aliases = max(depth, inner.depth), aliases + inner.aliases
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._fragment(selection.name.value)
                depth, aliases = max(depth, inner.depth), aliases + inner.aliases
        return Measure(depth, aliases)


def document_limits_rule(max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """One validation rule for both limits, with Strawberry's messages."""

    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            try:
                measure_of = DocumentMeasure(context.document)
                operations = measure_of.operations()
            except RecursionError:  # thousands of levels fit in the token limit
                self.report_error(GraphQLError("The document is nested too deeply"))
                return
            for operation, measure in operations:
                if measure.depth > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    beyond = measure_of.first_beyond(operation, max_depth)
                    self.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            [beyond] if beyond is not None else None,
                        )
                    )
            aliases = sum(measure.aliases for _, measure in operations)
            if aliases > max_aliases:
                self.report_error(GraphQLError(f"{aliases} aliases found. Allowed: {max_aliases}"))

    return DocumentLimits
