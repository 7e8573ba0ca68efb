"""Live fan-out that shares work: one execution and one encoded ``next`` payload per event
for every subscriber whose result would be the same.

A subscription's stream yields :class:`SharedEvent` values: the event's key, the batch the
hub read it in (shared by every live subscriber of this process), and how to build the
root value. Graphql-core executes the operation's selection once per event
(:meth:`FanOutExecutor.build_per_event_executor`); here that execution is memoised in the
batch under the subscription's *group* (:func:`group_of`): the printed operation and its
fragments, the coerced variables, and the API key's visibility and scopes, everything the
result depends on besides the event. So a thousand subscribers of the same document under
the same key cost one execution and one JSON encoding per event; the per-subscriber part is
the frame around the payload (its ``id``), spliced in :func:`next_frame`.

What stays per subscriber: its filter, cursor, queue, replay and slow-consumer handling
(``callbox.events.subscriber``), and the order it sends events in. A replaying subscriber
reads its own batches, so it shares with nobody until it is live. A result with errors is
not kept: the next subscriber executes again, as it did before sharing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, cast

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from callbox.events.subscriber import EventBatch, shared_result
from callbox.graphql.encoding import encode
from graphql import ExecutionResult, print_ast

_GROUP = "_callbox_fanout_group"


@dataclass(frozen=True, slots=True)
class SharedEvent:
    """What a subscription's stream yields for one event: ``build()`` makes the root value
    (called only by the first subscriber of a group to execute the event)."""

    batch: EventBatch
    key: Hashable
    build: Callable[[], object]


class EncodedData(dict[str, Any]):
    """An event's ``data``, with the ``next`` payload (``{"data": ...}``) already encoded
    as JSON: what every subscriber of the group sends."""

    __slots__ = ("payload_json",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.payload_json = encode({"data": data})


class FanOutStats:
    """Executions of subscription events, and how many were served from a group's memo
    (read by the tests and the benchmark's notes; cheap counters, not metrics)."""

    executions = 0
    shared = 0


def next_frame(operation_id: str, data: EncodedData) -> str:
    """The graphql-transport-ws ``next`` message, as Strawberry would encode it
    (``{"id":…,"type":"next","payload":…}``), around the shared payload."""
    return f'{{"id":{encode(operation_id)},"type":"next","payload":{data.payload_json}}}'


def group_of(executor: StrawberryGraphQLCoreExecutionContext) -> Hashable:
    """Everything besides the event that the result of executing it depends on."""
    group = executor.__dict__.get(_GROUP)
    if group is None:
        operation = print_ast(executor.operation)
        fragments = tuple(
            print_ast(executor.fragment_definitions[name])
            for name in sorted(executor.fragment_definitions)
        )
        variables = json.dumps(
            executor.variable_values.coerced, sort_keys=True, default=repr, separators=(",", ":")
        )
        context = executor.context_value
        principal = getattr(context, "principal", None)
        who: Hashable = (
            (principal.visibility, principal.scopes) if principal is not None else id(context)
        )
        # The sealer is the instance's (one per process); by identity, to be safe.
        sealer = id(getattr(context, "sealer", None))
        group = (operation, fragments, variables, who, sealer)
        executor.__dict__[_GROUP] = group
    return group


class FanOutExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; a :class:`SharedEvent` is executed once per group and batch."""

    def build_per_event_executor(self, payload: Any) -> Any:
        if not isinstance(payload, SharedEvent):
            return super().build_per_event_executor(payload)
        return _SharedExecution(self, payload)

    def execute_event(self, event: SharedEvent, serially: bool | None) -> Any:
        executor = super().build_per_event_executor(event.build())
        FanOutStats.executions += 1
        return executor.execute_operation(serially)


class _SharedExecution:
    """Stands in for the per-event executor: ``execute_operation`` answers from the batch's
    memo, or executes and keeps the result there for the rest of the group."""

    __slots__ = ("_event", "_parent")

    def __init__(self, parent: FanOutExecutor, event: SharedEvent) -> None:
        self._parent = parent
        self._event = event

    def execute_operation(self, serially: bool | None = None) -> Any:
        memo = self._event.batch.memo
        key = (group_of(self._parent), self._event.key)
        found = memo.get(key)
        if found is not None:
            FanOutStats.shared += 1
            if isinstance(found, asyncio.Future):
                return shared_result(found)
            return found
        result = self._parent.execute_event(self._event, serially)
        if self._parent.is_awaitable(result):
            future = asyncio.ensure_future(_encoded_later(result))
            memo[key] = future
            future.add_done_callback(lambda done: _keep_if_clean(memo, key, done))
            return shared_result(future)
        encoded = _encoded(cast(ExecutionResult, result))
        if not encoded.errors:
            memo[key] = encoded
        return encoded


async def _encoded_later(result: Awaitable[ExecutionResult]) -> ExecutionResult:
    return _encoded(await result)


def _encoded(result: ExecutionResult) -> ExecutionResult:
    if result.errors or not isinstance(result.data, dict):
        return result
    return ExecutionResult(EncodedData(result.data), None)


def _keep_if_clean(memo: dict[Hashable, Any], key: Hashable, done: asyncio.Future[Any]) -> None:
    """A failed execution, or one with errors, is forgotten: the next subscriber runs its own."""
    failed = done.cancelled() or done.exception() is not None or bool(done.result().errors)
    if failed and memo.get(key) is done:
        del memo[key]
