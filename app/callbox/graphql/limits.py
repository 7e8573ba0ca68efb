"""What a GraphQL request may cost, and the schema extensions that enforce it."""

from __future__ import annotations

from collections.abc import Callable

from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from callbox.graphql.errors import should_mask

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
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: MaskErrors(should_mask_error=should_mask),
    ]
    return extensions


MAX_WEBSOCKET_MESSAGE_CHARS = MAX_BODY_BYTES
"""A WebSocket message longer than this is refused (close 1009) before it is parsed; ``callbox
serve`` also has uvicorn refuse it before it is assembled (``ws_max_size``)."""
MAX_CONNECTION_INIT_CHARS = 4096
"""The first message of a socket (``connection_init``, which carries the key) longer than this
is refused (close 1009) before it is parsed: nobody unauthenticated gets more."""
MESSAGE_TOO_BIG = 1009
