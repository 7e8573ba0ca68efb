"""What is left to do in Python to a planned field's JSON: seal ids and cursors, and turn a
page's rows into a Relay connection (edges, nodes, page info, total count).

The SQL hands over row ids and cursor sort keys as numbers (sealing is AES-SIV, in Python:
:mod:`callbox.sealing`); a shape says where they are, so one pass over the decoded JSON
seals them with the very functions the executor's resolvers use.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from callbox.graphql.data.cursors import CursorKind, seal_cursor
from callbox.graphql.data.paging import PageRequest, page_bounds
from callbox.graphql.types.ids import to_id
from callbox.sealing import Sealer

JsonObject = dict[str, Any]


@dataclass(slots=True)
class ObjectShape:
    """The keys of a JSON object that need work: ids to seal, objects, lists and
    connections to finish in turn."""

    ids: list[tuple[str, CursorKind]] = field(default_factory=list)
    objects: list[tuple[str, ObjectShape]] = field(default_factory=list)
    lists: list[tuple[str, ObjectShape]] = field(default_factory=list)
    connections: list[tuple[str, ConnectionShape]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    """Bytes (base64) to show as UTF-8 text, invalid bytes replaced (a raw request's body)."""

    @property
    def done(self) -> bool:
        """Nothing to do: the JSON is the answer as it is."""
        return not (self.ids or self.objects or self.lists or self.connections or self.texts)

    def finish(self, value: JsonObject, sealer: Sealer) -> None:
        """Completes ``value`` in place."""
        for key, kind in self.ids:
            value[key] = to_id(sealer, kind, value[key])
        for key in self.texts:
            if value[key] is not None:
                value[key] = base64.b64decode(value[key]).decode("utf-8", errors="replace")
        for key, shape in self.objects:
            item = value[key]
            if item is not None and not shape.done:
                shape.finish(item, sealer)
        for key, shape in self.lists:
            if not shape.done:
                for item in value[key]:
                    shape.finish(item, sealer)
        for key, connection in self.connections:
            value[key] = connection.build(value[key], sealer)


@dataclass(frozen=True, slots=True)
class Leaf:
    """A field answered as it is: ``__typename`` (``value``), or, in pageInfo, a flag or a
    cursor by its name."""

    key: str
    name: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node selection: column ``2 + index`` of each row, to finish with ``shape``."""

    key: str
    index: int
    shape: ObjectShape


@dataclass(frozen=True, slots=True)
class EdgesField:
    key: str
    fields: list[Leaf | NodeRef]


@dataclass(frozen=True, slots=True)
class PageInfoField:
    key: str
    fields: list[Leaf]


ConnectionField = Leaf | NodeRef | EdgesField | PageInfoField


@dataclass(slots=True)
class ConnectionShape:
    """A connection's rows (``[micros, id, node JSON…]``, in the request's order, up to
    ``request.limit``) and total (or null) made into the connection the client asked for."""

    kind: CursorKind
    request: PageRequest
    fields: list[ConnectionField] = field(default_factory=list)
    nodes: int = 0
    """How many node selections each row carries."""

    def build(self, value: list[Any], sealer: Sealer) -> JsonObject:
        rows, total = value
        has_next, has_previous = page_bounds(self.request, len(rows))
        rows = rows[: self.request.size]
        if self.request.backwards:
            rows.reverse()
        cursors: list[str] | None = None

        def all_cursors() -> list[str]:
            nonlocal cursors
            if cursors is None:
                cursors = [seal_cursor(sealer, self.kind, row[0], row[1]) for row in rows]
            return cursors

        def node(row: list[Any], ref: NodeRef) -> Any:
            item = row[2 + ref.index]
            if not ref.shape.done:
                ref.shape.finish(item, sealer)
            return item

        answer: JsonObject = {}
        for part in self.fields:
            if isinstance(part, NodeRef):  # nodes
                answer[part.key] = [node(row, part) for row in rows]
            elif isinstance(part, EdgesField):
                edges = []
                for position, row in enumerate(rows):
                    edge: JsonObject = {}
                    for item in part.fields:
                        if isinstance(item, NodeRef):
                            edge[item.key] = node(row, item)
                        elif item.name == "cursor":
                            edge[item.key] = all_cursors()[position]
                        else:
                            edge[item.key] = item.value
                    edges.append(edge)
                answer[part.key] = edges
            elif isinstance(part, PageInfoField):
                info: JsonObject = {}
                for item in part.fields:
                    if item.name == "hasNextPage":
                        info[item.key] = has_next
                    elif item.name == "hasPreviousPage":
                        info[item.key] = has_previous
                    elif item.name == "startCursor":
                        info[item.key] = all_cursors()[0] if rows else None
                    elif item.name == "endCursor":
                        info[item.key] = all_cursors()[-1] if rows else None
                    else:
                        info[item.key] = item.value
                answer[part.key] = info
            elif part.name == "totalCount":
                answer[part.key] = total
            else:
                answer[part.key] = part.value
        return answer
