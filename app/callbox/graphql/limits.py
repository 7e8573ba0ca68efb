"""What a GraphQL request may cost, and the schema extensions that enforce it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from callbox.graphql.errors import NUL_MESSAGE, should_mask
from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    StringValueNode,
    Visitor,
    validate,
    visit,
)

MAX_DEPTH = 10
"""Nesting of fields: enough for messages → conversation → messages → events → notification."""
MAX_ALIASES = 20
MAX_TOKENS = 2_000
MAX_BODY_BYTES = 64 * 1024
"""Request body limit for POST /graphql (Litestar answers 413 above it)."""
CACHE_SIZE = 512
"""Distinct documents whose parse and validation results are kept (per process)."""

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


def _same_rules_every_request(extension: AddValidationRules) -> ExtensionFactory:
    """A factory adding the very same rule classes on every request.

    The limiters build a new rule class per instance; the validation cache is keyed by the
    rule classes, so a fresh limiter per request would make every validation a miss.
    """
    rules = list(extension.validation_rules)
    return lambda: AddValidationRules(rules)


@lru_cache(maxsize=CACHE_SIZE)
def validate_cached(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """graphql-core's validation with Strawberry's own rules added (as Strawberry's
    ``ValidationCache`` does), and "Did you mean …?" left out when ``hide_suggestions``."""
    return validate(
        schema,
        document,
        (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
        hide_suggestions=hide_suggestions,
    )


class CachedValidation(SchemaExtension):
    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = validate_cached(
            context.schema._schema,
            context.graphql_document,
            tuple(context.validation_rules),
            self.hide_suggestions,
        )
        yield


def holds_nul(value: object) -> bool:
    """Whether a JSON value holds a NUL character anywhere (keys included)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


class _NulLiteral(Visitor):
    found = False

    def enter_string_value(self, node: StringValueNode, *_: object) -> object:
        if "\x00" in node.value:
            self.found = True
            return BREAK
        return None


def _literals_hold_nul(query: str | None, document: DocumentNode | None) -> bool:
    # A NUL can only come from an escape (\u0000, \u{0}): a raw one is a syntax error.
    if document is None or query is None or "\\u" not in query:
        return False
    visitor = _NulLiteral()
    visit(document, visitor)
    return visitor.found


class CheckInputs(SchemaExtension):
    """No operation runs with a NUL character in a string (variable or literal, JSON keys
    included): PostgreSQL text cannot hold one. The answer is ``BAD_USER_INPUT``, as it is
    for variables that cannot be coerced (an impossible date such as 2026-02-30, an unknown
    enum value): graphql-core reports those without a code."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if holds_nul(context.variables) or _literals_hold_nul(
            context.query, context.graphql_document
        ):
            error = GraphQLError(NUL_MESSAGE, extensions={"code": "BAD_USER_INPUT"})
            context.result = ExecutionResult(data=None, errors=[error])
        yield
        result = context.result
        if isinstance(result, ExecutionResult) and result.data is None:
            for error in result.errors or ():
                # Execution errors without a path come before any field runs: variables.
                if error.path is None and not error.extensions:
                    error.extensions = {"code": "BAD_USER_INPUT"}


class MaskUnexpectedErrors(MaskErrors):
    """Strawberry's MaskErrors, with its check for errors done by attribute: Strawberry's
    ``isinstance`` against a runtime-checkable Protocol took a tenth of a process's time
    when it sent one event to a thousand subscribers (it runs once per result)."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def schema_extensions(*, introspection: bool) -> list[ExtensionFactory]:
    extensions: list[ExtensionFactory] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        _same_rules_every_request(QueryDepthLimiter(max_depth=MAX_DEPTH)),
        _same_rules_every_request(MaxAliasesLimiter(max_alias_count=MAX_ALIASES)),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    extensions += [
        lambda: CachedValidation(hide_suggestions=not introspection),
        CheckInputs,
        lambda: MaskUnexpectedErrors(should_mask_error=should_mask),
    ]
    return extensions


MAX_WEBSOCKET_MESSAGE_CHARS = MAX_BODY_BYTES
"""A WebSocket message longer than this is refused (close 1009) before it is parsed; ``callbox
serve`` also has uvicorn refuse it before it is assembled (``ws_max_size``)."""
MAX_CONNECTION_INIT_CHARS = 4096
"""The first message of a socket (``connection_init``, which carries the key) longer than this
is refused (close 1009) before it is parsed: nobody unauthenticated gets more."""
MESSAGE_TOO_BIG = 1009
