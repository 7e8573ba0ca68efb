"""The GraphQL API's query layer: all its SQL, and the receiver confinement of API keys.

Resolvers never write SQL; they call :class:`~callbox.graphql.data.facade.CallboxData`,
which is bound to the caller's :class:`~callbox.graphql.data.visibility.Visibility` and
applies it in every statement. Statements run on the asyncpg pool through
:class:`~callbox.graphql.data.runner.Sql` (one pooled connection per statement) or
:class:`~callbox.graphql.data.runner.RequestSql` (one for a whole request), which tests can
observe to count statements and connections taken.
"""

from callbox.graphql.data.facade import CallboxData
from callbox.graphql.data.runner import (
    ConnectionQueue,
    RequestSql,
    Sql,
    observe_acquisitions,
    observe_statements,
)
from callbox.graphql.data.visibility import Visibility

__all__ = [
    "CallboxData",
    "ConnectionQueue",
    "RequestSql",
    "Sql",
    "Visibility",
    "observe_acquisitions",
    "observe_statements",
]
