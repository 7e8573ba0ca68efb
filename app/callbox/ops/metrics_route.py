"""``/metrics``: the Prometheus text format, for scrapers presenting a configured token.

Served only when ``[metrics] enabled``; the tokens are ``[metrics] bearer`` (never a
receiver's), kept as digests and compared in constant time like every Callbox secret.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST

from callbox.ops.metrics import CallboxMetrics
from callbox.runtime import CallboxRuntime
from callbox.secrets import SecretDigest, SecretError, any_matches, resolve_secret
from callbox.settings import ConfigError

METRICS_PATH = "/metrics"
# Litestar adds the charset itself.
_MEDIA_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="callbox-metrics"'}


def metrics_tokens(references: list[str]) -> tuple[SecretDigest, ...]:
    """Resolve ``[metrics] bearer`` (``env:`` variables are read now)."""
    digests = []
    for index, reference in enumerate(references):
        try:
            digests.append(resolve_secret(reference))
        except SecretError as error:
            raise ConfigError(f"metrics.bearer[{index}]: {error}") from None
    return tuple(digests)


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def metrics_routes(
    runtime: CallboxRuntime, metrics: CallboxMetrics, tokens: tuple[SecretDigest, ...]
) -> list[HTTPRouteHandler]:
    async def metrics_guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        token = _bearer_token(connection)
        if token is None:
            raise NotAuthorizedException("missing bearer token", headers=_CHALLENGE)
        if not any_matches(tokens, token):
            raise NotAuthorizedException("wrong bearer token", headers=_CHALLENGE)

    async def scrape() -> Response[bytes]:
        metrics.refresh_pool(runtime.pool)
        return Response(
            metrics.exposition(),
            media_type=_MEDIA_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return [
        get(
            METRICS_PATH,
            guards=[metrics_guard],
            name="callbox-metrics",
            include_in_schema=False,
        )(scrape)
    ]
