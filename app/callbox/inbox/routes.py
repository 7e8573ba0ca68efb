"""Routes serving the inbox page: ``/inbox`` (the HTML) and ``/inbox/<file>`` (its assets).

The files are read once from the package (they ship inside the wheel; served by
``callbox.web.package_files``). The HTML gets a ``<base>`` naming the URL it was served at,
so its relative links (assets, ``../graphql``) work wherever Callbox is mounted. A strict
Content-Security-Policy allows only these files and connections to the same origin
(``/graphql`` over HTTP and WebSocket).
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler

from callbox.settings import Settings
from callbox.web.package_files import load_package_files, package_file_response

INBOX_PATH = "/inbox"

_INDEX = "index.html"
_BASE_MARKER = "{{base}}"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # same-origin HTTP and WebSocket (CSP 3 'self' covers ws/wss)
        "base-uri 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def inbox_enabled(settings: Settings) -> bool:
    """``[inbox] enabled``, which defaults to on in development instances only."""
    return settings.on_in_development(settings.inbox.enabled)


def inbox_routes(settings: Settings) -> list[HTTPRouteHandler]:
    """The page's routes, or none when ``[inbox] enabled`` is off."""
    if not inbox_enabled(settings):
        return []
    assets = load_package_files("callbox.inbox", "static")
    index = assets.pop(_INDEX)

    async def page(request: Request[Any, Any, Any]) -> Response[bytes]:
        # The URL the page was asked at, as a directory: /inbox -> /inbox/ (or /prefix/inbox/).
        base = request.url.path.rstrip("/") + "/"
        body = index.body.replace(_BASE_MARKER.encode(), html.escape(base).encode())
        return package_file_response(request, index, _HEADERS, body)

    async def asset(request: Request[Any, Any, Any]) -> Response[bytes]:
        # Read from the request (a handler parameter would be an inferred path parameter,
        # which Litestar deprecates).
        found = assets.get(str(request.path_params["name"]))
        if found is None:
            raise NotFoundException()
        return package_file_response(request, found, _HEADERS)

    return [
        get(INBOX_PATH, name="callbox-inbox", include_in_schema=False)(page),
        get(f"{INBOX_PATH}/{{name:str}}", name="callbox-inbox-asset", include_in_schema=False)(
            asset
        ),
    ]
