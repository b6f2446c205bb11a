"""Trusted operations: the documents the mobile apps send, known to the server by their hash.

``clients/operations/*.graphql`` holds the apps' operations (one file per screen or feature).
:func:`build_manifest` validates them against the schema and makes each operation a standalone
document (the operation and the fragments it uses, printed canonically), keyed by the SHA-256 of
that text: ``clients/operations/manifest.json`` (``eic operations build``). Apps send
``{"id": "<sha256>"}`` or Apollo's ``extensions.persistedQuery.sha256Hash`` instead of the text,
and with ``EIC_TRUSTED_OPERATIONS_ONLY`` the server runs nothing else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    NoUnusedFragmentsRule,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    specified_rules,
    validate,
    visit,
)

ROOT = Path(__file__).resolve().parent.parent.parent
OPERATIONS_FOLDER = ROOT / "clients" / "operations"
MANIFEST = OPERATIONS_FOLDER / "manifest.json"


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


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    file: str
    document: str

    @property
    def sha256(self) -> str:
        return sha256(self.document)


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
            found[name] = Operation(name=name, file=file, document=text)
    if problems:
        raise OperationsError("\n".join(problems))
    return [found[name] for name in sorted(found)]


def manifest_text(operations: list[Operation]) -> str:
    """The manifest as committed: ``{sha256: document}``, sorted, one operation per entry."""
    return json.dumps({o.sha256: o.document for o in operations}, indent=2, sort_keys=True) + "\n"


def build_manifest(schema: GraphQLSchema, path: Path = MANIFEST) -> list[Operation]:
    operations = operations_of(schema)
    path.write_text(manifest_text(operations), encoding="utf-8")
    return operations


@cache
def load_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """The committed manifest (``{}`` when the file is missing), read once per process."""
    if not path.exists():
        return {}
    manifest: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return manifest
