"""Wiraya's customer-written templates: the receiver's field mapping and reading one event.

Wiraya has no fixed callback schema: the customer writes a template with placeholders
(``{ID}``, ``{STATUS}``, ...) into the URL (GET) or a JSON or XML body (POST). Callbox names each
placeholder by its lower-cased name without braces (``id``, ``status``, ``1``..``99``), and a
receiver's ``mapping`` option says where the customer's template put it:

- JSON: a key of the event object, or a dotted path into nested objects (``data.sms.id``);
- XML: a child element of the event element, or a slash path (``Sms/Id``, dots also work),
  relative to the event element (it may start with the event element's own name); a last
  step ``@name`` reads an attribute (``Sms/@id``);
- GET: a query parameter name.

An unmapped field is read from its own name, so the recommended templates in docs/wiraya.md
need no mapping. XML element names cannot start with a digit, so in XML the contact data
fields default to ``<field1>``..``<field99>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import msgspec

from callbox.providers.base import PayloadRejected
from callbox.providers.payloads import json_kind, local_name

# The seed's placeholder list plus {CAMPAIGN_NAME} and {CALL_LENGTH} from Wiraya's newer docs.
PLACEHOLDER_FIELDS: tuple[str, ...] = (
    "type",
    "id",
    "cid",
    "rid",
    "prid",
    "recipient",
    "sender",
    "status",
    "content",
    "sms_parts",
    "sent_unixtime",
    "sent_datetime",
    "sent_dateiso",
    "done_unixtime",
    "done_datetime",
    "done_dateiso",
    "recipient_status",
    "key_choices",
    "bulk",
    "identifier",
    "prefix",
    "campaign_name",
    "call_length",
)
CONTACT_FIELDS: tuple[str, ...] = tuple(str(number) for number in range(1, 100))
FIELD_NAMES = frozenset(PLACEHOLDER_FIELDS + CONTACT_FIELDS)

DIRECTIONS = ("incoming", "outgoing")
CHANNELS = ("sms", "call")

_CONTACT_FIELD_SET = frozenset(CONTACT_FIELDS)
_XML_CONTACT_ELEMENTS = {f"field{number}": number for number in CONTACT_FIELDS}
# A placeholder Wiraya left unfilled (a metric the event type lacks) counts as absent.
_UNFILLED_PLACEHOLDERS = frozenset("{" + name.upper() + "}" for name in FIELD_NAMES)


class WirayaOptions(msgspec.Struct, forbid_unknown_fields=True):
    """A Wiraya receiver's options: where the customer's template puts each field.

    ``mapping`` maps a Callbox field name to the customer's name or path, e.g.
    ``{"id": "data.sms.id", "recipient": "to", "3": "UUID"}``. ``direction`` (``incoming`` or
    ``outgoing``) and ``channel`` (``sms`` or ``call``) fix the kind of event when the template
    carries no ``{TYPE}``, or when it does not say.
    """

    mapping: dict[str, str] = {}
    direction: str | None = None
    channel: str | None = None

    def __post_init__(self) -> None:
        for field_name, path in self.mapping.items():
            if field_name not in FIELD_NAMES:
                raise ValueError(unknown_field_message(field_name))
            if not path.strip():
                raise ValueError(f"mapping for {field_name!r} is an empty path")
        self.mapping = {field_name: path.strip() for field_name, path in self.mapping.items()}
        self.direction = _choice("direction", self.direction, DIRECTIONS)
        self.channel = _choice("channel", self.channel, CHANNELS)


def unknown_field_message(field_name: str) -> str:
    message = f"unknown Callbox field {field_name!r} in the Wiraya mapping"
    suggestion = field_name.strip().strip("{}").lower()
    if suggestion in FIELD_NAMES:
        return f"{message} (did you mean {suggestion!r}?)"
    return f"{message}; fields are Wiraya's placeholders lower-cased without braces"


def _choice(option: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    folded = value.strip().lower()
    if folded not in allowed:
        raise ValueError(f"{option} must be one of {', '.join(allowed)}, not {value!r}")
    return folded


@dataclass(frozen=True, slots=True)
class WirayaItem:
    """One event's values as text, by Callbox field name; absent and empty fields left out."""

    fields: dict[str, str]
    contact: dict[str, str]
    """The contact list's data fields, ``{"3": "..."}``."""


@dataclass(frozen=True, slots=True)
class _FieldPath:
    field: str
    path: str
    steps: tuple[str, ...]


class WirayaTemplateReader:
    """Reads events out of a customer's template, following a receiver's mapping.

    >>> reader = WirayaTemplateReader({"id": "sms.id"})
    >>> reader.from_json({"sms": {"id": 1000007}, "status": "DELIVERED"}).fields
    {'id': '1000007', 'status': 'DELIVERED'}
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        names = PLACEHOLDER_FIELDS + tuple(name for name in CONTACT_FIELDS if name in mapping)
        self._paths = tuple(_field_path(name, mapping.get(name, name)) for name in names)
        self._mapped_contacts = frozenset(name for name in mapping if name in _CONTACT_FIELD_SET)
        # Names the mapping gives to other fields are not contact fields by default.
        self._claimed_names = frozenset(mapping.values())

    def source_of(self, field: str) -> str:
        """``'id'``, or ``'id' (read from 'data.sms.id')`` when mapped, for error reasons."""
        path = self._mapping.get(field)
        return f"{field!r}" if path is None else f"{field!r} (read from {path!r})"

    def from_json(self, item: Any) -> WirayaItem:
        """An event from a JSON object; also reads a query string (a flat mapping of text)."""
        if not isinstance(item, dict):
            raise PayloadRejected(f"expected a JSON object, got a JSON {json_kind(item)}")
        fields: dict[str, str] = {}
        for field_path in self._paths:
            value = item.get(field_path.path, _MISSING)
            if value is _MISSING and len(field_path.steps) > 1:
                value = _walk_json(item, field_path.steps)
            text = _json_text(value, field_path.field)
            if text is not None:
                fields[field_path.field] = _storable(text, field_path.field)
        contact = {name: fields.pop(name) for name in self._mapped_contacts if name in fields}
        for key, value in item.items():
            if key not in _CONTACT_FIELD_SET or key in self._mapped_contacts:
                continue
            if key not in self._claimed_names and (text := _json_text(value, key)) is not None:
                contact[key] = _storable(text, key)
        return WirayaItem(fields, contact)

    def from_query(self, query: Mapping[str, str]) -> WirayaItem:
        return self.from_json(dict(query))

    def from_xml(self, element: Element) -> WirayaItem:
        """An event from an XML element: the root, or one child of a ``<batch>`` root."""
        children: dict[str, Element] = {}
        for child in element:
            children.setdefault(local_name(child.tag), child)
        fields: dict[str, str] = {}
        for field_path in self._paths:
            named = children.get(field_path.path)
            if named is not None:
                text = _clean_text(named.text)
            elif len(field_path.steps) > 1 or field_path.path.startswith("@"):
                text = _walk_xml(element, field_path.steps)
            else:
                continue
            if text is not None:
                fields[field_path.field] = text
        contact = {name: fields.pop(name) for name in self._mapped_contacts if name in fields}
        for name, child in children.items():
            number = _XML_CONTACT_ELEMENTS.get(name)
            if number is None or number in self._mapped_contacts or name in self._claimed_names:
                continue
            text = _clean_text(child.text)
            if text is not None:
                contact[number] = text
        return WirayaItem(fields, contact)


_MISSING: Any = object()


def _field_path(field: str, path: str) -> _FieldPath:
    separator = "/" if "/" in path else "."
    steps = tuple(step for step in path.strip().split(separator) if step)
    return _FieldPath(field, path, steps)


def _walk_json(item: dict[str, Any], steps: tuple[str, ...]) -> Any:
    node: Any = item
    for step in steps:
        if not isinstance(node, dict):
            return _MISSING
        node = node.get(step, _MISSING)
    return node


def _walk_xml(element: Element, steps: tuple[str, ...]) -> str | None:
    first = steps[0]
    if len(steps) > 1 and first == local_name(element.tag) and _child(element, first) is None:
        steps = steps[1:]  # the path names the event element itself: Event/Sms/Id
    node: Element | None = element
    for index, step in enumerate(steps):
        if node is None:
            return None
        if step.startswith("@") and index == len(steps) - 1:
            return _clean_text(node.get(step[1:]))
        node = _child(node, step)
    return None if node is None else _clean_text(node.text)


def _child(element: Element, name: str) -> Element | None:
    return next((child for child in element if local_name(child.tag) == name), None)


def _json_text(value: Any, field: str) -> str | None:
    """A JSON scalar as text: the seed's template leaves ``{ID}`` unquoted, so ids are numbers."""
    match value:
        case str():
            return _clean_text(value)
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case float() if math.isfinite(value):
            return str(int(value)) if value.is_integer() else repr(value)
        case float():
            # json.loads reads NaN, Infinity and 1e999999 (inf): no id or count is one.
            raise PayloadRejected(f"{field}: expected text or a number, got {value!r}")
        case None:
            return None
    if value is _MISSING:
        return None
    raise PayloadRejected(f"{field}: expected text or a number, got a JSON {json_kind(value)}")


def _storable(text: str, field: str) -> str:
    """JSON may carry NUL characters (``\\u0000``); Postgres text cannot hold them."""
    if "\x00" in text:
        raise PayloadRejected(f"field {field!r} contains a NUL character (\\u0000)")
    return text


def _clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or text in _UNFILLED_PLACEHOLDERS:
        return None
    return text
