"""Errors in streamed results (subscription events) are masked as in single answers."""

from __future__ import annotations

from strawberry.types.execution import ExecutionResult as StrawberryResult

from callbox.graphql.errors import NotFound, should_mask
from callbox.graphql.limits import MaskUnexpectedErrors
from graphql import ExecutionResult, GraphQLError


def _errors() -> list[GraphQLError]:
    internal = GraphQLError("boom: +447700900123", path=["messageEvents"])
    internal.original_error = RuntimeError("boom: +447700900123")
    public = GraphQLError("no such conversation", path=["conversationUpdated"])
    public.original_error = NotFound("no such conversation")
    document = GraphQLError("Syntax Error")
    return [internal, public, document]


def test_a_streamed_result_has_callboxs_own_faults_masked() -> None:
    extension = MaskUnexpectedErrors(should_mask_error=should_mask)
    for result in (
        ExecutionResult(data=None, errors=_errors()),
        StrawberryResult(data=None, errors=_errors()),
    ):
        list(extension.on_stream_result(result))  # type: ignore[arg-type]
        assert result.errors is not None
        assert [error.message for error in result.errors] == [
            "Unexpected error.",
            "no such conversation",
            "Syntax Error",
        ]
    clean = ExecutionResult(data={"a": 1}, errors=None)
    list(extension.on_stream_result(clean))  # type: ignore[arg-type]
    assert clean.errors is None and clean.data == {"a": 1}
