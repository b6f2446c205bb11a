"""Trusted operations: the documents the mobile apps send, known to the server by their hash.

``clients/operations/*.graphql`` holds the apps' operations (one file per screen or feature).
:func:`build_manifest` validates them against the schema and makes each operation a standalone
document (the operation and the fragments it uses, printed canonically), keyed by the SHA-256 of
that text: ``clients/operations/manifest.json`` (``eic operations build``). Apps send
``{"id": "<sha256>"}`` or Apollo's ``extensions.persistedQuery.sha256Hash`` instead of the text,
and with ``EIC_TRUSTED_OPERATIONS_ONLY`` the server runs nothing else.

The same operations are published as Apollo sends them
(``clients/operations/persisted-query-manifest.json``, Apollo's persisted query manifest format):
Apollo Client adds ``__typename`` to every selection set but the operation's root, sorts the
top-level definitions (operations, then fragments, each by name) and prints the document with
graphql-js; its id is the SHA-256 of that text. Both ids name the operation on the server, and a
trusted-only server accepts a trusted document with ``__typename`` selections added or left out
(:class:`TrustedDocuments`).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from graphql import (
    DefinitionNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    Lexer,
    NameNode,
    NoUnusedFragmentsRule,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    Visitor,
    parse,
    print_ast,
    specified_rules,
    validate,
    visit,
)

from backend.graphql.printing import print_js16

ROOT = Path(__file__).resolve().parent.parent.parent
OPERATIONS_FOLDER = ROOT / "clients" / "operations"
MANIFEST = OPERATIONS_FOLDER / "manifest.json"
APOLLO_MANIFEST = OPERATIONS_FOLDER / "persisted-query-manifest.json"
TYPENAME = "__typename"


# A fragment may be used by another file's operations only: that is checked on the whole folder.
PER_FILE_RULES = [rule for rule in specified_rules if rule is not NoUnusedFragmentsRule]


class OperationsError(Exception):
    """The apps' operations do not build: they do not validate, or names clash."""


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def _used_fragments(
    node: OperationDefinitionNode | FragmentDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> list[FragmentDefinitionNode]:
    """Every fragment the node spreads, directly or through other fragments, by name."""
    seen: dict[str, FragmentDefinitionNode] = {}
    pending = [node]
    while pending:
        spreads = _Spreads()
        visit(pending.pop(), spreads)
        for name in spreads.names - seen.keys():
            if name not in fragments:  # validation reports it
                continue
            seen[name] = fragments[name]
            pending.append(fragments[name])
    return [seen[name] for name in sorted(seen)]


def _typename_field() -> FieldNode:
    return FieldNode(name=NameNode(value=TYPENAME), arguments=(), directives=())


def _with_typename(selection_set: SelectionSetNode, *, root: bool) -> SelectionSetNode:
    """Apollo Client's ``addTypenameToDocument``: ``__typename`` last in every selection set but
    an operation's root, unless the set selects it (or any ``__``-field) already."""
    selections = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
            exported = isinstance(selection, FieldNode) and any(
                d.name.value == "export" for d in selection.directives or ()
            )
            inner = selection.selection_set
            selection = type(selection)(
                **{
                    **{key: getattr(selection, key) for key in selection.keys},
                    "selection_set": inner if exported else _with_typename(inner, root=False),
                }
            )
        selections.append(selection)
    if not root and not any(
        isinstance(s, FieldNode) and s.name.value.startswith("__") for s in selections
    ):
        selections.append(_typename_field())
    return SelectionSetNode(selections=tuple(selections))


def _sorted_definitions(definitions: tuple[DefinitionNode, ...]) -> tuple[DefinitionNode, ...]:
    """Apollo's ``sortTopLevelDefinitions``: by kind (operations before fragments), then name."""

    def key(definition: DefinitionNode) -> tuple[int, str]:
        name = getattr(definition, "name", None)
        return (
            0 if isinstance(definition, OperationDefinitionNode) else 1,
            name.value if name else "",
        )

    return tuple(sorted(definitions, key=key))


def apollo_body(document: str) -> str:
    """The document as Apollo Client sends it and its manifest generator publishes it."""
    definitions = []
    for definition in parse(document, no_location=True).definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            root = isinstance(definition, OperationDefinitionNode)
            definition = type(definition)(
                **{
                    **{key: getattr(definition, key) for key in definition.keys},
                    "selection_set": _with_typename(definition.selection_set, root=root),
                }
            )
        definitions.append(definition)
    return print_js16(DocumentNode(definitions=_sorted_definitions(tuple(definitions))))


def _without_typename(selection_set: SelectionSetNode) -> SelectionSetNode:
    selections = []
    for selection in selection_set.selections:
        if (
            isinstance(selection, FieldNode)
            and selection.name.value == TYPENAME
            and selection.alias is None
            and not selection.arguments
            and not selection.directives
        ):
            continue
        if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
            selection = type(selection)(
                **{
                    **{key: getattr(selection, key) for key in selection.keys},
                    "selection_set": _without_typename(selection.selection_set),
                }
            )
        selections.append(selection)
    return SelectionSetNode(selections=tuple(selections))


def normalised(document: DocumentNode) -> str:
    """The document compared for trust: plain ``__typename`` selections left out (clients add
    them for their caches; they read no data), top-level definitions in Apollo's order."""
    definitions: list[DefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            definition = type(definition)(
                **{
                    **{key: getattr(definition, key) for key in definition.keys},
                    "selection_set": _without_typename(definition.selection_set),
                }
            )
        definitions.append(definition)
    return print_js16(DocumentNode(definitions=_sorted_definitions(tuple(definitions))))


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    file: str
    document: str
    type: str = "query"  # query, mutation or subscription, as Apollo's manifest says

    @property
    def sha256(self) -> str:
        return sha256(self.document)

    @property
    def apollo_body(self) -> str:
        return apollo_body(self.document)

    @property
    def apollo_id(self) -> str:
        return sha256(self.apollo_body)


def operations_of(schema: GraphQLSchema, folder: Path = OPERATIONS_FOLDER) -> list[Operation]:
    """Each named operation of the folder's files as a standalone, validated document.

    Fragments are shared by the whole folder, as the apps' code generators see it: the offline
    sync's query spreads the detail fragments of the screens' files. The folder is validated as
    one document, so a fragment no operation uses, or two with one name, is an error too.
    """
    found: dict[str, Operation] = {}
    problems: list[str] = []
    documents = {
        path.name: parse(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.graphql"))
    }
    fragments: dict[str, FragmentDefinitionNode] = {}
    for file, document in documents.items():
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                if name in fragments:
                    problems.append(f"{file}: fragment {name} is defined twice")
                fragments[name] = definition
    for file, document in documents.items():
        own = {d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        borrowed = {
            fragment.name.value: fragment
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
            for fragment in _used_fragments(definition, fragments)
            if fragment.name.value not in own
        }
        standalone = DocumentNode(definitions=(*document.definitions, *borrowed.values()))
        errors = validate(schema, standalone, rules=PER_FILE_RULES)
        problems.extend(f"{file}: {error.message}" for error in errors)
    whole = DocumentNode(
        definitions=tuple(d for document in documents.values() for d in document.definitions)
    )
    errors = validate(schema, whole, rules=[NoUnusedFragmentsRule])
    problems.extend(f"{error.message} (no operation of the folder uses it)" for error in errors)
    for file, document in documents.items():
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if definition.name is None:
                problems.append(f"{file}: every operation needs a name")
                continue
            name = definition.name.value
            if name in found:
                problems.append(f"{file}: {name} is also in {found[name].file}")
                continue
            parts = [definition, *_used_fragments(definition, fragments)]
            text = "\n\n".join(print_ast(part) for part in parts) + "\n"
            found[name] = Operation(
                name=name, file=file, document=text, type=definition.operation.value
            )
    if problems:
        raise OperationsError("\n".join(problems))
    return [found[name] for name in sorted(found)]


def manifest_text(operations: list[Operation]) -> str:
    """The manifest as committed: ``{sha256: document}``, sorted, one operation per entry."""
    return json.dumps({o.sha256: o.document for o in operations}, indent=2, sort_keys=True) + "\n"


def apollo_manifest_text(operations: list[Operation]) -> str:
    """Apollo's persisted query manifest, as ``generate-persisted-query-manifest`` writes it:
    the operations by name, each with Apollo's id, its type and the body Apollo sends."""
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": o.apollo_id, "name": o.name, "type": o.type, "body": o.apollo_body}
            for o in sorted(operations, key=lambda o: o.name)
        ],
    }
    return json.dumps(manifest, indent=2) + "\n"


def build_manifest(
    schema: GraphQLSchema, path: Path = MANIFEST, apollo_path: Path = APOLLO_MANIFEST
) -> list[Operation]:
    operations = operations_of(schema)
    path.write_text(manifest_text(operations), encoding="utf-8")
    apollo_path.write_text(apollo_manifest_text(operations), encoding="utf-8")
    return operations


@cache
def load_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """The committed manifest (``{}`` when the file is missing), read once per process."""
    if not path.exists():
        return {}
    manifest: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def _tokens(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


class TrustedDocuments:
    """The documents this server knows by id (ours and Apollo's), and which texts it trusts."""

    # Verdicts on texts that are not a manifest's exactly, by their SHA-256 (an app sends the same
    # few again and again; the texts themselves are not kept).
    VERDICTS_KEPT = 1024

    def __init__(self, by_id: dict[str, str]) -> None:
        self.by_id = by_id
        self._verdicts: OrderedDict[str, bool] = OrderedDict()

    # Worked out at the first text that is not a manifest's exactly (a few hundred ms for ~300
    # documents): a server that is not trusted-only, or whose apps send ids, never pays it.
    @cached_property
    def _normalised(self) -> frozenset[str]:
        return frozenset(
            sha256(normalised(parse(document, no_location=True)))
            for document in self.by_id.values()
        )

    @cached_property
    def max_tokens(self) -> int:
        """A text with more tokens than the longest trusted document with __typename in every
        selection set (Apollo's bodies), give or take one per operation's root, is not trusted:
        it is refused without being parsed to the end."""
        return max((_tokens(d) for d in self.by_id.values()), default=0) + 64

    def is_trusted(self, query: Any) -> bool:
        if not isinstance(query, str):
            return False
        digest = sha256(query)
        if digest in self.by_id:
            return True
        verdict = self._verdicts.get(digest)
        if verdict is None:
            verdict = self._verdicts[digest] = self._compare(query)
            if len(self._verdicts) > self.VERDICTS_KEPT:
                self._verdicts.popitem(last=False)
        else:
            self._verdicts.move_to_end(digest)
        return verdict

    def _compare(self, query: str) -> bool:
        try:
            document = parse(query, no_location=True, max_tokens=self.max_tokens)
        except GraphQLError:
            return False
        # A type system definition (scalar X, extend type ...) is in no app's operation; the
        # printer has no form for one, so it is turned away here rather than as a crash.
        if not all(
            isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
            for definition in document.definitions
        ):
            return False
        return sha256(normalised(document)) in self._normalised


def read_apollo_manifest(path: Path = APOLLO_MANIFEST) -> dict[str, str]:
    """Apollo's ids and bodies (``{}`` when the file is missing)."""
    if not path.exists():
        return {}
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return {operation["id"]: operation["body"] for operation in manifest["operations"]}


@cache
def trusted_documents(
    path: Path = MANIFEST, apollo_path: Path = APOLLO_MANIFEST
) -> TrustedDocuments:
    """The committed manifests, read once per process."""
    return TrustedDocuments(load_manifest(path) | read_apollo_manifest(apollo_path))
