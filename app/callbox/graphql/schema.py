"""The schema, and its SDL as exported to schema.graphql."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from strawberry.types import ExecutionContext

from callbox.graphql.errors import log_internal_error, should_mask
from callbox.graphql.fanout import FanOutExecutor
from callbox.graphql.limits import ExtensionFactory, schema_extensions
from callbox.graphql.mutation import Mutation
from callbox.graphql.planner import PlannedDocuments, ReadPlanner
from callbox.graphql.query import Query
from callbox.graphql.subscription import Subscription
from callbox.graphql.websocket import SubscriptionsOverWebSocketOnly
from graphql import GraphQLError

logger = logging.getLogger("callbox.graphql")


class CallboxSchema(strawberry.Schema):
    """Logs what went wrong inside Callbox at error level, with where it happened, and what
    the client got wrong (a bad document, ``NOT_FOUND``, a subscription ended with a code) at
    debug level only: those are answers, not faults. Neither log line quotes the document
    or an error message: both may carry phone numbers or bodies (see
    :func:`callbox.graphql.errors.log_internal_error`).

    With introspection off, errors do not suggest names either ("Did you mean …?" would
    reveal the schema piece by piece).
    """

    def __init__(
        self,
        *args: Any,
        hide_suggestions: bool = False,
        planned_documents: PlannedDocuments | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.hide_suggestions = hide_suggestions
        self.planned_documents = planned_documents
        """The documents the read planner answered (``None``: the planner is off)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if should_mask(error):
                path = ".".join(str(key) for key in error.path or ())
                log_internal_error(
                    logger, f"GraphQL field {path} failed", error.original_error or error
                )
            else:
                # The code only: a message may quote what the client sent (an address).
                code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
                logger.debug("GraphQL error answered to the client: %s", code)

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        # Passed on to graphql-core's execute(): suggestions in variable coercion errors.
        kwargs: dict[str, Any] = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        if self.hide_suggestions:
            kwargs["hide_suggestions"] = True
        return kwargs


def build_schema(*, introspection: bool = True, planner: bool = True) -> CallboxSchema:
    """``planner``: queries the read planner covers are answered by it (graphql/planner/)."""
    extensions: list[ExtensionFactory] = [
        *schema_extensions(introspection=introspection),
        SubscriptionsOverWebSocketOnly,
    ]
    documents: PlannedDocuments | None = None
    if planner:
        remembered = documents = PlannedDocuments()
        extensions.append(lambda: ReadPlanner(documents=remembered))
    return CallboxSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        hide_suggestions=not introspection,
        planned_documents=documents,
        execution_context_class=FanOutExecutor,  # subscription events executed once per group
    )


def schema_sdl() -> str:
    """The schema in SDL, as committed in schema.graphql (settings do not change it)."""
    return build_schema().as_str().rstrip("\n") + "\n"
