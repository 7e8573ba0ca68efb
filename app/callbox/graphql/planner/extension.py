"""The hook: after parsing and validation, a query the planner covers is answered by it.

The schema extension runs in ``on_execute``, after the limits (tokens, depth, aliases), the
validation and the NUL check: when it sets the result, Strawberry's executor does not run.
It plans only a query whose every root field it covers, whose arguments are all valid and
whose statements all succeed; anything else (other fields, @defer, a mutation, a
subscription, a bad argument, a database fault) is left to the executor, which answers as it
always has, errors included: errors come from one place.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any

from graphql.execution.collect_fields import collect_fields
from graphql.execution.executor import Executor
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from callbox.graphql.context import GraphQLContext
from callbox.graphql.errors import PublicError, log_internal_error
from callbox.graphql.planner.compile import Compiled, Compiler, NotPlanned, check_plain
from graphql import ExecutionResult, GraphQLError

logger = logging.getLogger("callbox.graphql.planner")

_executor_only: ContextVar[bool] = ContextVar("callbox_executor_only", default=False)


@contextlib.contextmanager
def executor_only() -> Iterator[None]:
    """Requests handled inside the block skip the planner (A/B comparisons in the tests and
    bench/graphql; ``[graphql] planner = false`` turns it off for an instance)."""
    token = _executor_only.set(True)
    try:
        yield
    finally:
        _executor_only.reset(token)


class ReadPlanner(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if (
            context.result is None
            and not _executor_only.get()
            and context.graphql_document is not None
            and isinstance(context.context, GraphQLContext)
            and context.operation_type is OperationType.QUERY
        ):
            try:
                data = await self._answer(context.context)
            except (NotPlanned, PublicError, GraphQLError):
                data = None
            except Exception as error:
                log_internal_error(logger, "the read planner failed", error)
                data = None
            if data is not None:
                context.result = ExecutionResult(data=data, errors=None)
        yield

    async def _answer(self, context: GraphQLContext) -> dict[str, Any]:
        """The response's data; :class:`NotPlanned` (or an input error) when the executor
        should answer."""
        if not context.principal.can("read"):
            raise NotPlanned("no read scope")
        execution = self.execution_context
        assert execution.graphql_document is not None
        schema = execution.schema
        graphql_schema = schema._schema
        executor = Executor.build(
            graphql_schema,
            execution.graphql_document,
            raw_variable_values=execution.variables,
            operation_name=execution.operation_name,
        )
        if isinstance(executor, list):
            raise NotPlanned("variables")
        if executor.operation.directives:
            raise NotPlanned("operation directives")
        query_type = graphql_schema.query_type
        assert query_type is not None
        collected = collect_fields(
            graphql_schema,
            executor.fragments,
            executor.variable_values,
            query_type,
            executor.operation,
        )
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise NotPlanned("@defer")
        compiler = Compiler(schema, executor, context.data, context.sealer)
        plans: list[tuple[str, Compiled]] = []
        for key, details in collected.grouped_field_set.items():
            check_plain(details)
            plans.append((key, compiler.root(details)))
        data: dict[str, Any] = {}
        for key, plan in plans:
            value = await context.data.sql.fetchval(plan.sql, *plan.params.values)
            decoded = json.loads(value) if isinstance(value, str) else value
            data[key] = plan.finish(decoded, context.sealer)
        return data
