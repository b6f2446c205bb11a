"""Executable GraphQL documents printed exactly as graphql-js 16 prints them.

Apollo's ids are the SHA-256 of a document as ``print`` of graphql-js prints it, and Apollo's
manifest generator requires graphql-js 14-16. graphql-core 3.3 follows graphql-js 17, whose
printer differs (``{ a: 1 }`` for ``{a: 1}``, and wraps long lines its own way), so the apps'
operations are printed here by the rules of graphql-js 16's ``printer.ts``. Only what an
operation may hold is covered (no type system definitions).
"""

from __future__ import annotations

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    Node,
    NonNullTypeNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
)
from graphql.language.block_string import print_block_string

MAX_LINE_LENGTH = 80


def _join(parts: list[str], separator: str = "") -> str:
    return separator.join(part for part in parts if part)


def _wrap(start: str, middle: str | None, end: str = "") -> str:
    return f"{start}{middle}{end}" if middle else ""


def _indent(text: str) -> str:
    return _wrap("  ", text.replace("\n", "\n  "))


def _block(parts: list[str]) -> str:
    return _wrap("{\n", _indent(_join(parts, "\n")), "\n}")


_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(value: str) -> str:
    """graphql-js 16's ``printString``: quotes, backslashes and controls (C0, DEL and C1)
    escaped, every other character as it is."""
    escaped = []
    for character in value:
        code = ord(character)
        if character in _SHORT_ESCAPES:
            escaped.append(_SHORT_ESCAPES[character])
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            escaped.append(f"\\u{code:04X}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def _all(nodes: tuple[Node, ...] | None) -> list[str]:
    return [print_js16(node) for node in nodes or ()]


def print_js16(node: Node) -> str:
    match node:
        case DocumentNode():
            return _join(_all(node.definitions), "\n\n")
        case OperationDefinitionNode():
            variables = _wrap("(", _join(_all(node.variable_definitions), ", "), ")")
            name = node.name.value if node.name else ""
            prefix = _join(
                [node.operation.value, _join([name, variables]), _join(_all(node.directives), " ")],
                " ",
            )
            selection_set = print_js16(node.selection_set)
            return selection_set if prefix == "query" else f"{prefix} {selection_set}"
        case VariableDefinitionNode():
            default = print_js16(node.default_value) if node.default_value else None
            return (
                f"{print_js16(node.variable)}: {print_js16(node.type)}"
                + _wrap(" = ", default)
                + _wrap(" ", _join(_all(node.directives), " "))
            )
        case SelectionSetNode():
            return _block(_all(node.selections))
        case FieldNode():
            prefix = _wrap("", node.alias.value if node.alias else None, ": ") + node.name.value
            arguments = _all(node.arguments)
            line = prefix + _wrap("(", _join(arguments, ", "), ")")
            if len(line) > MAX_LINE_LENGTH:
                line = prefix + _wrap("(\n", _indent(_join(arguments, "\n")), "\n)")
            selection_set = print_js16(node.selection_set) if node.selection_set else ""
            return _join([line, _join(_all(node.directives), " "), selection_set], " ")
        case ArgumentNode() | ObjectFieldNode():
            return f"{node.name.value}: {print_js16(node.value)}"
        case FragmentSpreadNode():
            return "..." + node.name.value + _wrap(" ", _join(_all(node.directives), " "))
        case InlineFragmentNode():
            condition = node.type_condition.name.value if node.type_condition else None
            return _join(
                [
                    "...",
                    _wrap("on ", condition),
                    _join(_all(node.directives), " "),
                    print_js16(node.selection_set),
                ],
                " ",
            )
        case FragmentDefinitionNode():
            variables = _wrap("(", _join(_all(node.variable_definitions), ", "), ")")
            return (
                f"fragment {node.name.value}{variables} "
                f"on {node.type_condition.name.value} "
                f"{_wrap('', _join(_all(node.directives), ' '), ' ')}"
                + print_js16(node.selection_set)
            )
        case IntValueNode() | FloatValueNode() | EnumValueNode():
            return node.value
        case StringValueNode():
            return print_block_string(node.value) if node.block else _string(node.value)
        case BooleanValueNode():
            return "true" if node.value else "false"
        case NullValueNode():
            return "null"
        case ListValueNode():
            return "[" + _join(_all(node.values), ", ") + "]"
        case ObjectValueNode():
            return "{" + _join(_all(node.fields), ", ") + "}"
        case DirectiveNode():
            return "@" + node.name.value + _wrap("(", _join(_all(node.arguments), ", "), ")")
        case VariableNode():
            return "$" + node.name.value
        case NamedTypeNode():
            return node.name.value
        case ListTypeNode():
            return "[" + print_js16(node.type) + "]"
        case NonNullTypeNode():
            return print_js16(node.type) + "!"
    raise TypeError(f"{type(node).__name__} is not part of an executable document")
