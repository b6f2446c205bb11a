"""Strawberry's conversion of a field's arguments into Python values, worked out once per field.

Every call of a field with arguments goes through ``strawberry.types.arguments.convert_arguments``:
for each argument and each field of each input object it asks the name converter for the
GraphQL name, resolves the field's type from its annotation, and walks a chain of ``isinstance``
tests to find what the type is. None of that changes between requests. For the market
search's ``filter`` (an input of eleven fields, one of them an input itself) a call took 130 µs,
and takes 5 µs this way.

:func:`convert_arguments` takes the same arguments and gives the same values: a converter per
type is built on first use from what ``convert_argument`` would do, and kept with the argument
list it was built for. What it does not build itself it hands to Strawberry's own
``convert_argument`` with the same path: ``Maybe`` arguments, lazy types, ``GlobalID``, input
types that build their own value (``from_input``) and anything Strawberry would refuse.
:func:`install` puts it where Strawberry's resolvers call it (``schema_converter.get_arguments``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

import strawberry.schema.schema_converter as schema_converter
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import StrawberryArgument, convert_argument
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

# value, info, path -> Python value
Converter = Callable[[Any, Any, tuple[str | int, ...]], Any]
Registry = Mapping[object, Any]

# Per argument list (a field's, kept as long as the schema) and the registry and config of the
# schema calling (the schemas built for other options share the fields): the three themselves
# (so that their ids stay their own) and (GraphQL name, Python name, converter) per argument.
# Bounded by the fields the schemas have.
_by_arguments: dict[
    tuple[int, int, int],
    tuple[list[StrawberryArgument], Registry, Any, list[tuple[str, str, Converter]]],
] = {}


def convert_arguments(
    value: dict[str, Any],
    arguments: list[StrawberryArgument],
    scalar_registry: Registry,
    config: StrawberryConfig,
    info: Any = None,
) -> dict[str, Any]:
    """What ``strawberry.types.arguments.convert_arguments`` gives for the same arguments."""
    if not arguments:
        return {}
    key = (id(arguments), id(scalar_registry), id(config))
    found = _by_arguments.get(key)
    if (
        found is None
        or found[0] is not arguments
        or found[1] is not scalar_registry
        or found[2] is not config
    ):
        converters = _Converters(scalar_registry, config)
        plan = [
            (
                config.name_converter.from_argument(argument),
                argument.python_name,
                converters.of(argument.type),
            )
            for argument in arguments
        ]
        found = _by_arguments[key] = (arguments, scalar_registry, config, plan)
    kwargs: dict[str, Any] = {}
    for name, python_name, convert in found[3]:
        if name in value:
            kwargs[python_name] = convert(value[name], info, (name,))
    return kwargs


class _Converters:
    """The converters of one registry and config, by type (shared by the types that nest the
    same input, and so built once for a recursive one)."""

    def __init__(self, registry: Registry, config: StrawberryConfig) -> None:
        self.registry = registry
        self.config = config
        self.built: dict[int, tuple[Any, Converter]] = {}

    def of(self, type_: Any) -> Converter:
        key = id(type_)
        found = self.built.get(key)
        if found is not None and found[0] is type_:
            return found[1]
        converter = self._build(type_)
        self.built[key] = (type_, converter)
        return converter

    def _delegate(self, type_: Any) -> Converter:
        registry, config = self.registry, self.config

        def convert(value: Any, info: Any, path: tuple[str | int, ...]) -> Any:
            return convert_argument(value, type_, registry, config, info, path=path)

        return convert

    def _leaf(self, type_: Any) -> bool:
        """``_is_leaf_type`` of Strawberry, for the types this module handles itself (a lazy
        type is not one of them)."""
        return is_scalar(type_, self.registry) or isinstance(type_, StrawberryEnumDefinition)

    def _build(self, type_: Any) -> Converter:
        # The order of convert_argument's tests, which decides what a type is taken for.
        if isinstance(type_, StrawberryMaybe):
            return self._delegate(type_)
        if isinstance(type_, StrawberryOptional):  # no wrapping: the inner type's conversion
            return self.of(type_.of_type)
        if isinstance(type_, StrawberryList):
            item = type_.of_type
            # Strawberry's _is_leaf_type / _is_optional_leaf_type, GlobalID left out
            plain_items = (item is not GlobalID and self._leaf(item)) or (
                isinstance(item, StrawberryOptional)
                and item.of_type is not GlobalID
                and self._leaf(item.of_type)
            )
            if isinstance(item, LazyType) or (
                isinstance(item, StrawberryOptional) and isinstance(item.of_type, LazyType)
            ):
                return self._delegate(type_)  # whether its items are leaves is found late
            if plain_items:

                def copied(value: Any, info: Any, path: tuple[str | int, ...]) -> Any:
                    if value is None:
                        return None
                    if value is UNSET:
                        return UNSET
                    # copied: graphql-core hands every request the same default list
                    return list(value)

                return copied
            convert_item = self.of(item)

            def each(value: Any, info: Any, path: tuple[str | int, ...]) -> Any:
                if value is None:
                    return None
                if value is UNSET:
                    return UNSET
                return [convert_item(x, info, (*path, index)) for index, x in enumerate(value)]

            return each
        if type_ is GlobalID or isinstance(type_, LazyType):
            return self._delegate(type_)
        if self._leaf(type_) or has_enum_definition(type_):
            # graphql-core has parsed the value already; an enum's is its member
            def as_given(value: Any, info: Any, path: tuple[str | int, ...]) -> Any:
                return value

            return as_given
        if has_object_definition(type_):
            definition = type_.__strawberry_definition__
            if definition.from_input is not None:
                return self._delegate(type_)
            return self._input(type_, definition)
        return self._delegate(type_)  # Strawberry's UnsupportedTypeError

    def _input(self, type_: Any, definition: Any) -> Converter:
        # Every input field without a default is None unless given (graphql-core has checked
        # the required ones are there).
        implicit = (
            {
                field.python_name: None
                for field in definition.fields
                if field.default_value is MISSING and field.default_factory is MISSING
            }
            if definition.is_input
            else {}
        )
        names = [
            (self.config.name_converter.from_field(field), field.python_name, field)
            for field in definition.fields
        ]
        # Built on first use, not here: an input may hold itself (a filter of filters).
        fields: list[tuple[str, str, Converter]] = []

        def convert(value: Any, info: Any, path: tuple[str | int, ...]) -> Any:
            if value is None:
                return None
            if value is UNSET:
                return UNSET
            if not fields and names:  # (all at once: a failure leaves none half-built)
                fields[:] = [
                    (name, python_name, self.of(field.resolve_type(type_definition=definition)))
                    for name, python_name, field in names
                ]
            kwargs = dict(implicit)
            for name, python_name, convert_field in fields:
                if name in value:
                    kwargs[python_name] = convert_field(value[name], info, (*path, name))
            return type_(**kwargs)

        return convert


def install() -> None:
    """Strawberry's resolvers convert their arguments with :func:`convert_arguments`."""
    schema_converter.convert_arguments = convert_arguments
