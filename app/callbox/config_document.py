"""A configuration document (TOML tables, environment variables) checked against typed structs.

Every problem is found at once, not only the first: unknown keys (with "did you mean"), values
of the wrong type, values outside a fixed set (the set is listed), then each table's own checks
(a table whose keys have problems is not checked further). Generic over msgspec structs:
``settings.py`` says which structs and which prefix.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import tomllib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import msgspec


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document, at a dotted key (``server.port``, ``receivers[0]``)."""

    key: str
    """Empty for the document as a whole; an environment variable's name for a variable."""
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt word, if one is close enough."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key(key: str, within: str, known: Iterable[str], what: str = "") -> Problem:
    """An unknown key, with the known key it most resembles (or the list of known keys)."""
    names = list(known)
    suggestion = did_you_mean(key, names)
    if suggestion is not None:
        return Problem(join_key(within, key), f"unknown key, did you mean {suggestion!r}?")
    return Problem(join_key(within, key), f"unknown key ({what or 'known: ' + ', '.join(names)})")


def join_key(within: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{within}[{key}]"
    return f"{within}.{key}" if within else key


def check(value: Any, expected: Any, key: str = "") -> list[Problem]:
    """Every problem ``msgspec.convert(value, expected)`` would raise, not only the first."""
    if _is_struct(expected):
        return _check_struct(value, expected, key)
    item = _struct_list_item(expected)
    if item is not None and isinstance(value, list):
        return [
            problem
            for i, entry in enumerate(value)
            for problem in check(entry, item, f"{key}[{i}]")
        ]
    return _conversion_problems(value, expected, key)


def _check_struct(value: Any, struct: type[msgspec.Struct], key: str) -> list[Problem]:
    if not isinstance(value, dict):
        return _conversion_problems(value, struct, key)
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    problems = [unknown_key(name, key, fields) for name in value if name not in fields]
    problems += [
        Problem(join_key(key, name), "missing (required)")
        for name, field in fields.items()
        if field.required and name not in value
    ]
    for name, entry in value.items():
        if name in fields:
            problems += check(entry, fields[name].type, join_key(key, name))
    # The table's own checks (its __post_init__), once its keys are right.
    return problems or _conversion_problems(value, struct, key)


_AT = re.compile(r"(.*) - at `\$(.*)`", flags=re.DOTALL)


def _conversion_problems(value: Any, expected: Any, key: str) -> list[Problem]:
    try:
        msgspec.convert(value, expected)
    except msgspec.ValidationError as error:
        message, where = str(error), ""
        match = _AT.fullmatch(message)
        if match:
            message, where = match.groups()
        if message.startswith("Invalid enum value"):
            choices = _literal_values(expected)
            if choices:
                message += f" (expected one of: {', '.join(map(str, choices))})"
        if where.startswith("."):
            where = where[1:]
        # A table's own check that names one of its keys first ("url: not a PostgreSQL URL").
        lead = re.match(r"([a-z_]+)((?:\[\d+\])?): ", message)
        if not where and lead and _is_struct(expected) and lead[1] in expected.__struct_fields__:
            where, message = lead[1] + lead[2], message[lead.end() :]
        full = f"{key}{where}" if where.startswith("[") or not key else join_key(key, where)
        return [Problem(full.rstrip("."), message)]
    return []


def _is_struct(expected: Any) -> bool:
    return isinstance(expected, type) and issubclass(expected, msgspec.Struct)


def _struct_list_item(expected: Any) -> Any:
    if get_origin(expected) is list:
        (item,) = get_args(expected)
        if _is_struct(item):
            return item
    return None


def _literal_values(expected: Any) -> list[Any]:
    if get_origin(expected) is Literal:
        return list(get_args(expected))
    return [value for argument in get_args(expected) for value in _literal_values(argument)]


def takes_text(expected: Any) -> bool:
    """A string type (``str``, a ``Literal`` of strings, either or ``None``)."""
    if expected is str:
        return True
    origin = get_origin(expected)
    if origin is Literal:
        return all(isinstance(value, str) for value in get_args(expected))
    if origin in (Union, types.UnionType):
        return all(arg is type(None) or takes_text(arg) for arg in get_args(expected))
    return False


@dataclass
class EnvironmentSettings:
    """What environment variables set: a document to lay over the file's, and their names."""

    document: dict[str, Any]
    variables: dict[str, str]
    """Dotted key set by each variable (``server.port`` → ``CALLBOX_SERVER__PORT``)."""
    problems: list[Problem]


def environment_settings(
    environ: Mapping[str, str], struct: type[msgspec.Struct], prefix: str
) -> EnvironmentSettings:
    """``PREFIX_SECTION__KEY=value``: a double underscore between levels, any case.

    A name with a double underscore must name a setting (a misspelt one is an error); a name
    without one counts only when it is a top-level key, so ``PREFIX_`` variables meant for
    something else are left alone. An empty variable counts as unset. Text settings take the
    value as it is; numbers, switches, lists and tables are read as TOML values (``8000``,
    ``true``, ``["10.0.0.0/8"]``). Values are never repeated in problems (they may be secrets).
    """
    found = EnvironmentSettings({}, {}, [])
    top = {field.encode_name for field in msgspec.structs.fields(struct)}
    for name in sorted(environ):
        raw = environ[name]
        if not name.startswith(prefix) or raw == "":
            continue
        path = name[len(prefix) :].lower().split("__")
        if len(path) == 1 and path[0] not in top:
            continue
        expected = _setting_type(name, path, struct, prefix, found.problems)
        if expected is None:
            continue
        value: Any = raw
        if not takes_text(expected):
            # Not TOML: left as text, for the type check to say what was expected instead.
            with contextlib.suppress(tomllib.TOMLDecodeError):
                value = tomllib.loads(f"value = {raw}")["value"]
        table = found.document
        for part in path[:-1]:
            table = table.setdefault(part, {})
        table[path[-1]] = value
        found.variables[".".join(path)] = name
    return found


def _setting_type(
    name: str, path: list[str], struct: type[msgspec.Struct], prefix: str, problems: list[Problem]
) -> Any:
    """The type of the setting a variable names, or ``None`` (and a problem) if none."""
    expected: Any = struct
    for depth, part in enumerate(path):
        if not _is_struct(expected):
            whole = prefix + "__".join(path[:depth]).upper()
            problems.append(Problem(name, f"{'.'.join(path[:depth])} is set whole, as {whole}"))
            return None
        fields = {field.encode_name: field for field in msgspec.structs.fields(expected)}
        if part not in fields:
            suggestion = did_you_mean(part, fields)
            hint = ""
            if suggestion is not None:
                spelt = [*path[:depth], suggestion, *path[depth + 1 :]]
                hint = f", did you mean {prefix}{'__'.join(spelt).upper()}?"
            problems.append(Problem(name, f"no such setting{hint}"))
            return None
        expected = fields[part].type
    return expected


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` laid over ``base``: tables merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = merge(below, value)
        else:
            merged[key] = value
    return merged


def name_sources(problems: Iterable[Problem], variables: Mapping[str, str]) -> list[Problem]:
    """Problems at keys set by an environment variable say which variable."""
    named = []
    for problem in problems:
        for key, variable in variables.items():
            if problem.key == key or problem.key.startswith((f"{key}.", f"{key}[")):
                problem = Problem(f"{problem.key} ({variable})", problem.message)
                break
        named.append(problem)
    return named
