"""A root field's selection compiled into one SQL statement returning its JSON.

Each object becomes a ``json_build_object`` of the requested fields only (timestamps
formatted as the executor's ``datetime.isoformat`` writes them); nested objects and lists are
correlated subqueries; a connection is ``[rows, total]`` where each row is
``[sort key in microseconds, id, node JSON…]``. The rows come from the query layer's own
statements (``CallboxData.*_sql``), which apply the key's receiver confinement, so the rules
of what a key sees, how a filter reads and how a page is cut have one home.

Anything outside what is written here raises :class:`NotPlanned`, and the executor answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import Executor
from graphql.execution.values import get_argument_values

from callbox.graphql.data import CallboxData
from callbox.graphql.data.cursors import CursorKind, micros_sql
from callbox.graphql.data.events import history_order
from callbox.graphql.data.paging import PageRequest
from callbox.graphql.data.params import Params
from callbox.graphql.planner.arguments import convert_arguments, field_arguments
from callbox.graphql.planner.shapes import (
    ConnectionField,
    ConnectionShape,
    EdgesField,
    Leaf,
    NodeRef,
    ObjectShape,
    PageInfoField,
)
from callbox.graphql.types.filters import (
    ConversationFilter,
    MessageFilter,
    NotificationFilter,
    OptOutFilter,
)
from callbox.graphql.types.ids import parse_id
from callbox.sealing import Sealer
from graphql import GraphQLObjectType, get_named_type

_MAX_KEYS = 50
"""json_build_object takes at most 100 arguments."""
_CONDITIONAL = frozenset({"skip", "include"})


class NotPlanned(Exception):
    """The planner does not cover this operation (the executor runs it)."""


def timestamp_sql(expression: str) -> str:
    """A ``timestamptz`` as ``datetime.isoformat`` writes the UTC datetime asyncpg returns
    (microseconds only when there are some)."""
    return (
        f"replace(to_char({expression} AT TIME ZONE 'UTC',"
        """ 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), '.000000+', '+')"""
    )


_MESSAGE_COLUMNS = {
    "provider": "provider",
    "receiver": "receiver",
    "providerMessageId": "provider_message_id",
    "direction": "direction",
    "channel": "channel",
    "from": "sender",
    "to": "recipient",
    "subject": "subject",
    "body": "body",
    "status": "status",
    "failureReason": "failure_reason",
    "providerStatus": "provider_status",
    "reference": "reference",
    "inReplyTo": "in_reply_to",
    "metadata": "metadata",
    "isTest": "is_test",
}
_MESSAGE_TIMES = {
    "createdAt": "created_at",
    "sentAt": "sent_at",
    "deliveredAt": "delivered_at",
    "updatedAt": "updated_at",
    "occurredAt": "occurred_at",
    "statusOccurredAt": "status_occurred_at",
    "openedAt": "opened_at",
    "clickedAt": "clicked_at",
}
_CONVERSATION_COLUMNS = {
    "channel": "channel",
    "ourAddress": "our_address",
    "theirAddress": "their_address",
    "messageCount": "message_count",
}
_CONVERSATION_TIMES = {"createdAt": "created_at", "lastActivityAt": "last_activity_at"}
_EVENT_COLUMNS = {
    "kind": "kind",
    "status": "status",
    "providerStatus": "provider_status",
    "failureReason": "failure_reason",
    "bounceType": "bounce_type",
    "detail": "detail",
    "isTest": "is_test",
}
_EVENT_TIMES = {"occurredAt": "occurred_at", "receivedAt": "received_at"}
_NOTIFICATION_COLUMNS = {
    "receiver": "receiver",
    "provider": "provider",
    "state": "state",
    "reason": "reason",
    "clientAddress": "client_address",
    "peerAddress": "peer_address",
    "method": "method",
    "contentType": "content_type",
    "headers": "headers",
    "queryString": "query_string",
    "bodySize": "body_size",
    "eventCount": "event_count",
}
_NOTIFICATION_TIMES = {"receivedAt": "received_at", "processedAt": "processed_at"}
_OPT_OUT_COLUMNS = {
    "address": "address",
    "action": "action",
    "channel": "channel",
    "provider": "provider",
    "receiver": "receiver",
    "source": "source",
    "text": "text",
}
_OPT_OUT_TIMES = {"occurredAt": "occurred_at", "receivedAt": "received_at"}
_TYPES: dict[str, tuple[dict[str, str], dict[str, str], CursorKind | None]] = {
    "Message": (_MESSAGE_COLUMNS, _MESSAGE_TIMES, CursorKind.MESSAGE),
    "Conversation": (_CONVERSATION_COLUMNS, _CONVERSATION_TIMES, CursorKind.CONVERSATION),
    "StatusEvent": (_EVENT_COLUMNS, _EVENT_TIMES, None),
    "Notification": (_NOTIFICATION_COLUMNS, _NOTIFICATION_TIMES, CursorKind.NOTIFICATION),
    "OptOut": (_OPT_OUT_COLUMNS, _OPT_OUT_TIMES, CursorKind.OPT_OUT),
}
_ROOTS = frozenset(
    {"messages", "conversations", "notifications", "optOuts", "message", "conversation",
     "notification"}
)  # fmt: skip
_LOOKUPS = {
    "message": CursorKind.MESSAGE,
    "conversation": CursorKind.CONVERSATION,
    "notification": CursorKind.NOTIFICATION,
}


def base64_sql(expression: str) -> str:
    """A ``bytea`` as ``base64.b64encode`` writes it (PostgreSQL breaks lines every 76)."""
    return f"translate(encode({expression}, 'base64'), E'\\n', '')"


_PAGE_INFO = frozenset({"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"})


@dataclass
class Compiled:
    """One root field: its statement, its values, and what Python does to its JSON."""

    sql: str
    params: Params
    finish: Callable[[Any, Sealer], Any]


@dataclass
class Compiler:
    """Compiles the root fields of one operation (built per request)."""

    schema: strawberry.Schema
    executor: Executor[Any]
    data: CallboxData
    sealer: Sealer
    p: Params = field(default_factory=Params)
    _aliases: int = 0

    # Root fields --------------------------------------------------------------------------

    def root(self, details: FieldDetailsList) -> Compiled:
        self.p = Params()
        name = _field_name(details)
        query_type = self.executor.schema.query_type
        assert query_type is not None
        field_def = query_type.fields.get(name)
        if field_def is None or name not in _ROOTS:
            raise NotPlanned(name)
        arguments = self._arguments("Query", name, field_def, details)
        return_type = get_named_type(field_def.type)
        assert isinstance(return_type, GraphQLObjectType)
        subfields = self._subfields(return_type, details)
        if name == "messages":
            request = self._page(CursorKind.MESSAGE, arguments)
            message_filter = arguments.get("filter") or MessageFilter()
            query = message_filter.to_query(self.sealer)
            rows = self.data.message_page_sql(query, request, self.p)
            sql, shape = self._connection(
                return_type,
                subfields,
                rows,
                "occurred_at",
                CursorKind.MESSAGE,
                request,
                lambda: f"({self.data.message_count_sql(query, self.p)})",
            )
            return Compiled(f"SELECT {sql}", self.p, shape.build)
        if name == "conversations":
            request = self._page(CursorKind.CONVERSATION, arguments)
            conversation_filter = arguments.get("filter") or ConversationFilter()
            conversations = conversation_filter.to_query()
            rows = self.data.conversation_page_sql(conversations, request, self.p)
            sql, shape = self._connection(
                return_type,
                subfields,
                rows,
                "last_activity_at",
                CursorKind.CONVERSATION,
                request,
                lambda: f"({self.data.conversation_count_sql(conversations, self.p)})",
            )
            return Compiled(f"SELECT {sql}", self.p, shape.build)
        if name == "notifications":
            request = self._page(CursorKind.NOTIFICATION, arguments)
            notifications = (arguments.get("filter") or NotificationFilter()).to_query()
            rows = self.data.notification_page_sql(notifications, request, self.p)
            sql, shape = self._connection(
                return_type,
                subfields,
                rows,
                "received_at",
                CursorKind.NOTIFICATION,
                request,
                lambda: f"({self.data.notification_count_sql(notifications, self.p)})",
            )
            return Compiled(f"SELECT {sql}", self.p, shape.build)
        if name == "optOuts":
            request = self._page(CursorKind.OPT_OUT, arguments)
            opt_outs = (arguments.get("filter") or OptOutFilter()).to_query()
            rows = self.data.opt_out_page_sql(opt_outs, request, self.p)
            sql, shape = self._connection(
                return_type,
                subfields,
                rows,
                "occurred_at",
                CursorKind.OPT_OUT,
                request,
                lambda: f"({self.data.opt_out_count_sql(opt_outs, self.p)})",
            )
            return Compiled(f"SELECT {sql}", self.p, shape.build)
        if name in _LOOKUPS:
            row_id = self.p(parse_id(self.sealer, _LOOKUPS[name], arguments["id"], "id"), "bigint")
            sql, object_shape = self._one(return_type, subfields, self._rows(name, row_id))
            return Compiled(f"SELECT {sql}", self.p, _finish_nullable(object_shape))
        raise NotPlanned(name)

    def _rows(self, name: str, row_id: str) -> str:
        """The rows of the object field ``name`` whose id is the SQL expression ``row_id``."""
        if name in ("message", "lastMessage"):
            return self.data.message_rows_sql(self.p, f"m.id = {row_id}")
        if name == "conversation":
            return self.data.conversation_rows_sql(self.p, f"c.id = {row_id}")
        assert name == "notification"
        return self.data.notification_rows_sql(self.p, f"n.id = {row_id}")

    # Objects ------------------------------------------------------------------------------

    def _alias(self) -> str:
        self._aliases += 1
        return f"q{self._aliases}"

    def _one(
        self, type_: GraphQLObjectType, fields: GroupedFieldSet, rows: str
    ) -> tuple[str, ObjectShape]:
        """The first row of ``rows`` as an object (NULL when there is none)."""
        alias = self._alias()
        body, shape = self._object(type_, fields, alias)
        return f"(SELECT {body} FROM ({rows}) {alias} LIMIT 1)", shape

    def _list(
        self,
        type_: GraphQLObjectType,
        fields: GroupedFieldSet,
        rows: str,
        order: Callable[[str], str],
    ) -> tuple[str, ObjectShape]:
        alias = self._alias()
        body, shape = self._object(type_, fields, alias)
        return (
            f"(SELECT COALESCE(json_agg({body} ORDER BY {order(alias)}), '[]'::json)"
            f" FROM ({rows}) {alias})"
        ), shape

    def _object(
        self, type_: GraphQLObjectType, fields: GroupedFieldSet, alias: str
    ) -> tuple[str, ObjectShape]:
        """``json_build_object`` of the selected fields of the row ``alias``."""
        if len(fields) > _MAX_KEYS:
            raise NotPlanned("too many fields")
        pairs: list[str] = []
        shape = ObjectShape()
        for key, details in fields.items():
            name = _field_name(details)
            value = self._field(type_, key, name, details, alias, shape)
            pairs.append(f"'{key}', {value}")
        return f"json_build_object({', '.join(pairs)})", shape

    def _field(
        self,
        type_: GraphQLObjectType,
        key: str,
        name: str,
        details: FieldDetailsList,
        alias: str,
        shape: ObjectShape,
    ) -> str:
        if name == "__typename":
            return f"'{type_.name}'::text"
        if type_.name not in _TYPES:
            raise NotPlanned(type_.name)
        columns, times, kind = _TYPES[type_.name]
        if name in columns:
            return f"{alias}.{columns[name]}"
        if name in times:
            return timestamp_sql(f"{alias}.{times[name]}")
        if name == "id" and kind is not None:
            shape.ids.append((key, kind))
            return f"{alias}.id"
        if type_.name == "Notification" and name in ("body", "bodyBase64"):
            if name == "body":
                shape.texts.append(key)
            return base64_sql(f"{alias}.body")
        field_def = type_.fields[name]
        return_type = get_named_type(field_def.type)
        if not isinstance(return_type, GraphQLObjectType):
            raise NotPlanned(f"{type_.name}.{name}")
        subfields = self._subfields(return_type, details)
        nested: ObjectShape
        reference = _REFERENCES.get((type_.name, name))
        if reference is not None:
            sql, nested = self._one(
                return_type, subfields, self._rows(name, f"{alias}.{reference}")
            )
            shape.objects.append((key, nested))
            return sql
        if name == "events" and type_.name in ("Message", "Notification"):
            order: Callable[[str], str]
            if type_.name == "Message":
                rows = self.data.status_event_rows_sql(self.p, f"e.message = {alias}.id")
                order = history_order
            else:
                rows = self.data.status_event_rows_sql(self.p, f"e.notification = {alias}.id")
                order = _by_id
            sql, nested = self._list(return_type, subfields, rows, order)
            shape.lists.append((key, nested))
            return sql
        if type_.name == "Conversation" and name == "messages":
            arguments = self._arguments("Conversation", name, field_def, details)
            request = self._page(CursorKind.MESSAGE, arguments)
            rows = self.data.conversation_message_page_sql(self.p, f"{alias}.id", request)
            sql, connection = self._connection(
                return_type,
                subfields,
                rows,
                "occurred_at",
                CursorKind.MESSAGE,
                request,
                lambda: f"{alias}.message_count",
            )
            shape.connections.append((key, connection))
            return sql
        raise NotPlanned(f"{type_.name}.{name}")

    # Connections --------------------------------------------------------------------------

    def _connection(
        self,
        type_: GraphQLObjectType,
        fields: GroupedFieldSet,
        rows: str,
        at: str,
        kind: CursorKind,
        request: PageRequest,
        total: Callable[[], str],
    ) -> tuple[str, ConnectionShape]:
        """``json_build_array(rows, total)``: each row ``[micros, id, node JSON…]``."""
        alias = self._alias()
        shape = ConnectionShape(kind, request)
        nodes: list[str] = []
        total_sql = "NULL"

        def node(key: str, node_type: GraphQLObjectType, details: FieldDetailsList) -> NodeRef:
            body, node_shape = self._object(node_type, self._subfields(node_type, details), alias)
            nodes.append(body)
            return NodeRef(key, len(nodes) - 1, node_shape)

        parts: list[ConnectionField] = []
        for key, details in fields.items():
            name = _field_name(details)
            if name == "__typename":
                parts.append(Leaf(key, name, type_.name))
            elif name == "totalCount":
                if total_sql == "NULL":
                    total_sql = total()
                parts.append(Leaf(key, name))
            elif name == "nodes":
                parts.append(node(key, _object_type(type_, name), details))
            elif name == "edges":
                edge_type = _object_type(type_, name)
                edge: list[Leaf | NodeRef] = []
                for edge_key, edge_details in self._subfields(edge_type, details).items():
                    edge_name = _field_name(edge_details)
                    if edge_name == "node":
                        edge.append(node(edge_key, _object_type(edge_type, "node"), edge_details))
                    elif edge_name == "__typename":
                        edge.append(Leaf(edge_key, edge_name, edge_type.name))
                    else:
                        edge.append(Leaf(edge_key, edge_name))
                parts.append(EdgesField(key, edge))
            elif name == "pageInfo":
                info_type = _object_type(type_, name)
                info: list[Leaf] = []
                for info_key, info_details in self._subfields(info_type, details).items():
                    info_name = _field_name(info_details)
                    if info_name == "__typename":
                        info.append(Leaf(info_key, info_name, info_type.name))
                    elif info_name in _PAGE_INFO:
                        info.append(Leaf(info_key, info_name))
                    else:
                        raise NotPlanned(f"PageInfo.{info_name}")
                parts.append(PageInfoField(key, info))
            else:
                raise NotPlanned(f"{type_.name}.{name}")
        shape.fields = parts
        shape.nodes = len(nodes)
        row = ", ".join([micros_sql(f"{alias}.{at}"), f"{alias}.id", *nodes])
        order = request.order(f"{alias}.{at}", f"{alias}.id")
        aggregate = (
            f"(SELECT COALESCE(json_agg(json_build_array({row}) ORDER BY {order}), '[]'::json)"
            f" FROM ({rows}) {alias})"
        )
        return f"json_build_array({aggregate}, {total_sql})", shape

    # Selections and arguments ---------------------------------------------------------------

    def _subfields(self, type_: GraphQLObjectType, details: FieldDetailsList) -> GroupedFieldSet:
        collected = self.executor.collect_subfields(type_, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise NotPlanned("@defer")
        for field_details in collected.grouped_field_set.values():
            check_plain(field_details)
        return collected.grouped_field_set

    def _arguments(
        self, type_name: str, name: str, field_def: Any, details: FieldDetailsList
    ) -> dict[str, Any]:
        """The field's arguments as its resolver gets them (Strawberry's input classes)."""
        values = get_argument_values(
            field_def, details[0].node, self.executor.variable_values, None
        )
        try:
            arguments = field_arguments(self.schema, type_name, name)
        except KeyError:
            raise NotPlanned(name) from None
        return convert_arguments(arguments, values)

    def _page(self, kind: CursorKind, arguments: dict[str, Any]) -> PageRequest:
        return PageRequest.from_arguments(
            kind,
            self.sealer,
            first=arguments.get("first"),
            after=arguments.get("after"),
            last=arguments.get("last"),
            before=arguments.get("before"),
        )


_REFERENCES = {
    ("Message", "conversation"): "conversation",
    ("Conversation", "lastMessage"): "last_message_id",
    ("StatusEvent", "notification"): "notification",
    ("OptOut", "message"): "message",
    ("OptOut", "notification"): "notification",
}
"""Object fields: the column of the row holding the related row's id."""


def _by_id(alias: str) -> str:
    return f"{alias}.id"


def _field_name(details: FieldDetailsList) -> str:
    return details[0].node.name.value


def check_plain(details: FieldDetailsList) -> None:
    """Only plain fields: no directive but @skip/@include (already applied), no fragment
    variables."""
    for item in details:
        if item.fragment_variable_values is not None or item.defer_usage is not None:
            raise NotPlanned("fragment variables or @defer")
        for directive in item.node.directives or ():
            if directive.name.value not in _CONDITIONAL:
                raise NotPlanned(f"@{directive.name.value}")


def _object_type(type_: GraphQLObjectType, name: str) -> GraphQLObjectType:
    found = get_named_type(type_.fields[name].type)
    assert isinstance(found, GraphQLObjectType)
    return found


def _finish_nullable(shape: ObjectShape) -> Callable[[Any, Sealer], Any]:
    def finish(value: Any, sealer: Sealer) -> Any:
        if value is not None and not shape.done:
            shape.finish(value, sealer)
        return value

    return finish
