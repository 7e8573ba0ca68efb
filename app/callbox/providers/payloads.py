"""Decoding helpers shared by provider modules: JSON, XML (defusedxml only), forms, times.

Every helper raises :class:`PayloadRejected` with a reason a provider's operator can act on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from callbox.model.addresses import AddressRejected, normalise_address
from callbox.providers.base import InboundRequest, PayloadRejected


def decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadRejected(f"body is not valid UTF-8 (byte {error.start})") from None


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON body that must be an object."""
    document = decode_json(body)
    if not isinstance(document, dict):
        raise PayloadRejected(f"expected a JSON object, got a JSON {json_kind(document)}")
    return document


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def decode_json(body: bytes) -> Any:
    if not body.strip():
        raise PayloadRejected("empty body: expected JSON")
    text = decode_text(body)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadRejected(
            f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError:
        # json.loads refuses integers of more than sys.get_int_max_str_digits() digits.
        raise PayloadRejected("invalid JSON: a number has too many digits") from None
    except RecursionError:
        raise PayloadRejected("invalid JSON: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        # A \uD800-\uDFFF escape outside a pair decodes to a lone surrogate: no Unicode
        # text, so nothing downstream (hashing, storage) could encode it.
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadRejected(
                "invalid JSON: a \\u escape is an unpaired UTF-16 surrogate"
            ) from None
    return document


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, for error messages."""
    match value:
        case dict():
            return "object"
        case list():
            return "array"
        case str():
            return "string"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case None:
            return "null"
    return type(value).__name__


def decode_xml(body: bytes) -> Element:
    """Parse XML with defusedxml: no DTDs, no entities, no external references."""
    if not body.strip():
        raise PayloadRejected("empty body: expected XML")
    try:
        return SafeElementTree.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as error:
        raise PayloadRejected(f"forbidden XML construct: {type(error).__name__}") from None
    except ParseError as error:
        line, column = error.position
        raise PayloadRejected(f"malformed XML at line {line} column {column}") from None
    except (LookupError, ValueError):
        # expat reads the declared encoding through Python's codecs: an unknown name
        # (``x-nope``) is a LookupError, one it cannot stream (``utf-7``) a ValueError.
        raise PayloadRejected("XML declares an encoding that cannot be read (use UTF-8)") from None
    except RecursionError:
        raise PayloadRejected("invalid XML: nested too deeply") from None


def local_name(tag: str) -> str:
    """``{http://api.esendex.com/ns/}MessageId`` -> ``MessageId``."""
    return tag.rsplit("}", 1)[-1]


def child_text(element: Element, name: str) -> str | None:
    """Text of the first child whose local name is ``name`` (any namespace), stripped."""
    for child in element:
        if local_name(child.tag) == name:
            return (child.text or "").strip()
    return None


def child_element(element: Element, name: str) -> Element | None:
    for child in element:
        if local_name(child.tag) == name:
            return child
    return None


def decode_form(body: bytes) -> dict[str, str]:
    """Parse ``application/x-www-form-urlencoded``; the last value of a repeated key wins."""
    try:
        pairs = parse_qsl(decode_text(body), keep_blank_values=True, strict_parsing=False)
    except ValueError as error:
        raise PayloadRejected(f"invalid form body: {error}") from None
    return dict(pairs)


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    """Every field of an ``application/x-www-form-urlencoded`` body, in order, a repeated
    key kept each time (for providers whose repeated keys mean something)."""
    try:
        return parse_qsl(decode_text(body), keep_blank_values=True, strict_parsing=False)
    except ValueError as error:
        raise PayloadRejected(f"invalid form body: {error}") from None


_BOUNDARY = re.compile(rb"--([^\r\n]{1,70})\r?\n")


def multipart_form_pairs(body: bytes, content_type: str = "") -> list[tuple[str, str]]:
    """The text fields of a ``multipart/form-data`` body, in order, repeated names kept;
    uploaded files (parts with a filename) are left out. The boundary is the
    ``Content-Type`` header's, or when that is not at hand (``content_type`` is the whole
    header value) the body's first line.

    Raises:
        PayloadRejected: no boundary, no parts, or a text field that is not UTF-8.
    """
    boundary = _boundary_parameter(content_type)
    if boundary is None:
        match = _BOUNDARY.match(body)
        if match is None:
            raise PayloadRejected("multipart/form-data without a boundary")
        boundary = match.group(1).decode("latin-1")
    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\n\r\n'.encode()
    try:
        message = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
        parts = list(message.iter_parts())
    except Exception:  # the e-mail parser's errors are not documented; none may escape
        raise PayloadRejected("malformed multipart/form-data body") from None
    pairs: list[tuple[str, str]] = []
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        try:
            pairs.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            raise PayloadRejected(f"multipart field {name!r} is not valid UTF-8") from None
    if not pairs:
        raise PayloadRejected("multipart/form-data body without fields")
    return pairs


def _boundary_parameter(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"')
    return None


def is_json(request: InboundRequest) -> bool:
    if request.content_type.endswith("json"):
        return True
    stripped = request.body.lstrip()
    return stripped[:1] in (b"{", b"[")


def fold_keys(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Lower-case the keys, for providers whose field names vary in case."""
    return {key.lower(): value for key, value in fields.items()}


_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(value: str, *, naive_zone: tzinfo = UTC, field: str = "timestamp") -> datetime:
    """Parse ISO 8601 or ``Y-m-d H:i:s``; naive values are read in ``naive_zone``.

    Fractions longer than microseconds (Esendex sends up to 7 digits) are truncated.
    """
    text = value.strip()
    fraction = _FRACTION.search(text)
    if fraction is not None and len(fraction.group(1)) != 6:  # (six digits stay as they are)
        digits = fraction.group(1)[:6].ljust(6, "0")
        text = f"{text[: fraction.start()]}.{digits}{text[fraction.end() :]}"
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadRejected(f"{field}: not a timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_zone)
    try:
        # 0001-01-01T00:00:00+01:00 is before year 1 in UTC: no datetime can hold it.
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise PayloadRejected(f"{field}: timestamp out of range: {value!r}") from None


def parse_epoch(value: str | int | float, *, field: str = "timestamp") -> datetime:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise PayloadRejected(f"{field}: not a Unix timestamp: {value!r}") from None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadRejected(f"{field}: Unix timestamp out of range: {value!r}") from None


def optional_str(fields: Mapping[str, Any], key: str) -> str | None:
    """A JSON/form field as text, stripped; absent, ``null`` and empty strings are ``None``.

    Text and integers (rendered in decimal) are accepted; anything else (booleans, other
    numbers such as ``NaN`` or ``1e999999``, arrays, objects) is rejected naming the field,
    so an id is never ``"inf"`` or ``"{'a': 1}"``.
    """
    text = text_value(fields, key)
    if text is None:
        return None
    return text.strip() or None


def text_value(fields: Mapping[str, Any], key: str) -> str | None:
    """A JSON/form field as text, kept as given (not stripped): a message's text."""
    value = fields.get(key)
    match value:
        case None:
            return None
        case str():
            return value
        case bool():
            pass
        case int():
            return str(value)
    raise PayloadRejected(
        f"field {key!r}: expected text or an integer, got a JSON {_described(value)}"
    )


def _described(value: Any) -> str:
    if isinstance(value, float):
        return f"number ({value!r})"
    return json_kind(value)


def required_str(fields: Mapping[str, Any], key: str, *, what: str = "field") -> str:
    value = optional_str(fields, key)
    if value is None:
        raise PayloadRejected(f"missing required {what} {key!r}")
    return value


def address(value: str, region: str | None, *, field: str) -> str:
    """:func:`~callbox.model.addresses.normalise_address`, rejecting absurd addresses."""
    try:
        return normalise_address(value, region)
    except AddressRejected as error:
        raise PayloadRejected(f"{field}: {error}") from None
