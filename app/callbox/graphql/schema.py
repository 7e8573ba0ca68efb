"""The schema, and its SDL as exported to schema.graphql."""

from __future__ import annotations

import strawberry

from callbox.graphql.limits import schema_extensions
from callbox.graphql.mutation import Mutation
from callbox.graphql.query import Query
from callbox.graphql.subscription import Subscription
from callbox.graphql.websocket import SubscriptionsOverWebSocketOnly


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    return strawberry.Schema(
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
