"""The hooks: a query the planner covers is answered by it, after parsing, validation and
the limits.

Two ways in, one answer (:func:`planned_answer`, by the plan :func:`plan_operation`
makes or by the one kept for the same request):

- The schema extension :class:`ReadPlanner` runs in ``on_execute``, after the limits
  (tokens, depth, aliases), the validation and the NUL check: when it sets the result,
  Strawberry's executor does not run. It plans only a query whose every root field it
  covers, whose arguments are all valid and whose statements all succeed; anything else
  (other fields, @defer, a mutation, a subscription, a bad argument, a database fault) is
  left to the executor, which answers as it always has, errors included: errors come from
  one place. A document it answered is remembered in :class:`PlannedDocuments`.
- The HTTP shortcut (graphql/controller.py): a POST whose document (and operation name) the
  extension has answered before already passed every check that depends on the document
  alone, so it goes to :func:`planned_answer` straight away, without Strawberry's request
  processing; whatever the planner does not answer (bad variables included) takes the full
  way, which answers it as it always has.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

import strawberry
from graphql.execution.collect_fields import collect_fields
from graphql.execution.executor import Executor
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from callbox.graphql.context import GraphQLContext
from callbox.graphql.data import Visibility
from callbox.graphql.encoding import decode
from callbox.graphql.errors import PublicError, log_internal_error
from callbox.graphql.planner.compile import Compiled, Compiler, NotPlanned, check_plain
from graphql import DocumentNode, ExecutionResult, GraphQLError, OperationDefinitionNode

logger = logging.getLogger("callbox.graphql.planner")

K = TypeVar("K")
V = TypeVar("V")

_executor_only: ContextVar[bool] = ContextVar("callbox_executor_only", default=False)

DOCUMENTS_REMEMBERED = 512
"""Distinct (document, operation name) pairs the HTTP shortcut knows (per process), as many
as the parse and validation caches keep."""


PLANS_KEPT = 1024
"""Plans kept for the HTTP shortcut, by request body (per process)."""
PLANNED_BODY_BYTES = 4096
"""A request body longer than this gets its plan made afresh every time (bounds the memory
the kept plans take: at most 4 MiB of keys)."""


@contextlib.contextmanager
def executor_only() -> Iterator[None]:
    """Requests handled inside the block skip the planner (A/B comparisons in the tests and
    bench/graphql; ``[graphql] planner = false`` turns it off for an instance)."""
    token = _executor_only.set(True)
    try:
        yield
    finally:
        _executor_only.reset(token)


def planner_on() -> bool:
    return not _executor_only.get()


Plan = tuple[tuple[str, Compiled], ...]
"""An operation planned: each root field's response key and its compiled statement."""


class _Recent(Generic[K, V]):
    """At most ``size`` entries; the least recently used go first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class PlannedDocuments:
    """The documents the planner has answered, by their text and operation name: each
    passed the token, depth and alias limits and the validation, which depend on nothing
    else. And the plans it made, by the request body and the key's visibility: a plan
    depends on nothing else (its statements read the rows afresh each time)."""

    def __init__(self) -> None:
        self._documents: _Recent[tuple[str, str | None], DocumentNode] = _Recent(
            DOCUMENTS_REMEMBERED
        )
        self._plans: _Recent[tuple[bytes, Visibility], Plan] = _Recent(PLANS_KEPT)
        self.shortcuts = 0
        """Requests answered by the HTTP shortcut (read by the tests)."""
        self.replans = 0
        """Of those, the ones that had to plan (their body had no plan kept)."""

    def plan_for(self, body: bytes, visibility: Visibility) -> Plan | None:
        return self._plans.get((body, visibility))

    def keep_plan(self, body: bytes, visibility: Visibility, plan: Plan) -> None:
        if len(body) <= PLANNED_BODY_BYTES:
            self._plans.put((body, visibility), plan)

    def remember(self, query: str, operation_name: str | None, document: DocumentNode) -> None:
        """``operation_name`` as Strawberry found it: the operation's own name when the
        request named none, so a document of one operation is also remembered unnamed."""
        self._documents.put((query, operation_name), document)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) == 1:
            self._documents.put((query, None), document)

    def get(self, query: str, operation_name: str | None) -> DocumentNode | None:
        return self._documents.get((query, operation_name))


class ReadPlanner(SchemaExtension):
    def __init__(self, *, documents: PlannedDocuments) -> None:
        super().__init__()
        self.documents = documents

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if (
            execution.result is None
            and planner_on()
            and document is not None
            and isinstance(execution.context, GraphQLContext)
            and execution.operation_type is OperationType.QUERY
        ):
            answer = await planned_answer(
                execution.context,
                lambda: plan_operation(
                    execution.schema,
                    document,
                    execution.variables,
                    execution.operation_name,
                    execution.context,
                ),
            )
            if answer is not None:
                execution.result = ExecutionResult(data=answer[0], errors=None)
                if execution.query is not None:
                    self.documents.remember(execution.query, execution.operation_name, document)
        yield


async def planned_answer(
    context: GraphQLContext, plan: Callable[[], Plan]
) -> tuple[dict[str, Any], Plan] | None:
    """The response's data by the plan ``plan()`` gives (made now, or kept from before for
    the same request and visibility), and that plan; ``None`` when the executor should
    answer: no read scope, not covered, an input error, a fault (logged when it is neither
    the client's nor the database's)."""
    if not context.principal.can("read"):
        return None
    try:
        made = plan()
        return await _run(made, context), made
    except (NotPlanned, PublicError, GraphQLError):
        return None
    except Exception as error:
        log_internal_error(logger, "the read planner failed", error)
        return None


def plan_operation(
    schema: strawberry.Schema,
    document: DocumentNode,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: GraphQLContext,
) -> Plan:
    """The plan of a query operation; :class:`NotPlanned` (or an input error) when the
    executor should answer it."""
    graphql_schema = schema._schema
    executor = Executor.build(
        graphql_schema, document, raw_variable_values=variables, operation_name=operation_name
    )
    if isinstance(executor, list):
        raise NotPlanned("variables")
    if executor.operation.operation.value != "query":
        raise NotPlanned("not a query")
    if executor.operation.directives:
        raise NotPlanned("operation directives")
    query_type = graphql_schema.query_type
    assert query_type is not None
    collected = collect_fields(
        graphql_schema, executor.fragments, executor.variable_values, query_type, executor.operation
    )
    if collected.new_defer_usages or collected.forbidden_directive_instances:
        raise NotPlanned("@defer")
    compiler = Compiler(schema, executor, context.data, context.sealer)
    plans: list[tuple[str, Compiled]] = []
    for key, details in collected.grouped_field_set.items():
        check_plain(details)
        plans.append((key, compiler.root(details)))
    return tuple(plans)


async def _run(plan: Plan, context: GraphQLContext) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, compiled in plan:
        value = await context.data.sql.fetchval(compiled.sql, *compiled.params.values)
        decoded = decode(value) if isinstance(value, str) else value
        data[key] = compiled.finish(decoded, context.sealer)
    return data
