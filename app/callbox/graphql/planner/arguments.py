"""A field's arguments as its resolver gets them (Strawberry's input classes), with the work
that depends only on the schema done once per field and input type.

Strawberry's ``convert_arguments`` works out, on every call, the GraphQL name and the
resolved type of every field of every input type it meets: for a filter of twenty fields,
most of the planner's time. Here those are kept per schema. A scalar or enum value is taken
as it is (as Strawberry does, but for its ``GlobalID``); anything else but a plain input
object (lists, an input type that builds its own value with ``from_input``...) is converted
by Strawberry's own ``convert_argument``: the rules of conversion stay Strawberry's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import strawberry
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional, has_object_definition
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.unset import UNSET

Converter = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class _Argument:
    graphql_name: str
    python_name: str
    convert: Converter


@lru_cache(maxsize=64)
def field_arguments(schema: strawberry.Schema, type_name: str, name: str) -> tuple[_Argument, ...]:
    """The arguments of ``type_name.name``, each with its converter; ``KeyError`` when the
    schema has no such field."""
    strawberry_field = schema.get_field_for_type(name, type_name)
    if strawberry_field is None:
        raise KeyError(f"{type_name}.{name}")
    names = schema.config.name_converter
    return tuple(
        _Argument(
            names.from_argument(argument),
            argument.python_name,
            _converter(schema, argument.type),
        )
        for argument in strawberry_field.arguments
    )


def convert_arguments(
    arguments: tuple[_Argument, ...], values: Mapping[str, Any]
) -> dict[str, Any]:
    """What Strawberry's ``convert_arguments`` gives for ``values`` (graphql-core's
    argument values of the field)."""
    return {
        argument.python_name: argument.convert(values[argument.graphql_name])
        for argument in arguments
        if argument.graphql_name in values
    }


def _converter(schema: strawberry.Schema, type_: Any) -> Converter:
    optional = isinstance(type_, StrawberryOptional) and not isinstance(type_, StrawberryMaybe)
    inner = type_.of_type if optional else type_
    if has_object_definition(inner):
        definition = inner.__strawberry_definition__
        if definition.is_input and definition.from_input is None:
            return _input_converter(schema, inner)
    registry = schema.schema_converter.scalar_registry
    if inner is not GlobalID and (
        is_scalar(inner, registry)
        or has_enum_definition(inner)
        or isinstance(inner, StrawberryEnumDefinition)
    ):
        return _as_it_is  # (what Strawberry gives a scalar or an enum value, None included)
    config = schema.config

    def by_strawberry(value: Any) -> Any:
        return convert_argument(value, type_, registry, config)

    return by_strawberry


def _as_it_is(value: Any) -> Any:
    return value


def _input_converter(schema: strawberry.Schema, input_class: type) -> Converter:
    """An input object: its fields' names and types resolved once, each converter made on
    first use (input types may refer to themselves)."""
    definition = input_class.__strawberry_definition__  # type: ignore[attr-defined]
    names = schema.config.name_converter
    defaults = {
        field.python_name: None
        for field in definition.fields
        if field.default_value is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    }
    fields = [
        (names.from_field(field), field.python_name, field.resolve_type(type_definition=definition))
        for field in definition.fields
    ]
    converters: dict[str, Converter] = {}

    def convert(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs: dict[str, Any] = dict(defaults)
        for graphql_name, python_name, field_type in fields:
            if graphql_name in value:
                field_converter = converters.get(graphql_name)
                if field_converter is None:
                    field_converter = converters[graphql_name] = _converter(schema, field_type)
                kwargs[python_name] = field_converter(value[graphql_name])
        return input_class(**kwargs)

    return convert
