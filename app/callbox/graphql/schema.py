"""The schema, and its SDL as exported to schema.graphql."""

from __future__ import annotations

import logging

import strawberry
from strawberry.types import ExecutionContext

from callbox.graphql.errors import should_mask
from callbox.graphql.limits import schema_extensions
from callbox.graphql.mutation import Mutation
from callbox.graphql.query import Query
from callbox.graphql.subscription import Subscription
from callbox.graphql.websocket import SubscriptionsOverWebSocketOnly
from graphql import GraphQLError

logger = logging.getLogger("callbox.graphql")


class CallboxSchema(strawberry.Schema):
    """Logs what went wrong inside Callbox at error level, with its traceback, and what the
    client got wrong (a bad document, ``NOT_FOUND``, a subscription ended with a code) at
    debug level only: those are answers, not faults."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        internal = [error for error in errors if should_mask(error)]
        if internal:
            super().process_errors(internal, execution_context)
        for error in errors:
            if not should_mask(error):
                # The code only: a message may quote what the client sent (an address).
                code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
                logger.debug("GraphQL error answered to the client: %s", code)


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    return CallboxSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            *schema_extensions(introspection=introspection),
            SubscriptionsOverWebSocketOnly,
        ],
    )


def schema_sdl() -> str:
    """The schema in SDL, as committed in schema.graphql (settings do not change it)."""
    return build_schema().as_str().rstrip("\n") + "\n"
