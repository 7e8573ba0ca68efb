"""Routes serving the inbox page: ``/inbox`` (the HTML) and ``/inbox/<file>`` (its assets).

The files are read once from the package (they ship inside the wheel). The HTML gets a
``<base>`` naming the URL it was served at, so its relative links (assets, ``../graphql``)
work wherever Callbox is mounted. A strict Content-Security-Policy allows only these files
and connections to the same origin (``/graphql`` over HTTP and WebSocket).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler

from callbox.settings import Settings

INBOX_PATH = "/inbox"

# Litestar adds "; charset=utf-8" to text/* types itself.
_CONTENT_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
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
    # Revalidate every time (the ETag makes that a 304): an upgrade is seen at once.
    "Cache-Control": "no-cache",
}


def inbox_enabled(settings: Settings) -> bool:
    """``[inbox] enabled``, which defaults to on in development instances only."""
    return settings.on_in_development(settings.inbox.enabled)


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


def _load_assets() -> dict[str, _Asset]:
    assets: dict[str, _Asset] = {}
    for entry in files("callbox.inbox").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _CONTENT_TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            assets[entry.name] = _Asset(body, _CONTENT_TYPES[suffix], etag)
    return assets


def _answer(request: Request[Any, Any, Any], asset: _Asset, body: bytes) -> Response[bytes]:
    headers = {**_HEADERS, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=asset.content_type, headers=headers)


def inbox_routes(settings: Settings) -> list[HTTPRouteHandler]:
    """The page's routes, or none when ``[inbox] enabled`` is off."""
    if not inbox_enabled(settings):
        return []
    assets = _load_assets()
    index = assets.pop(_INDEX)

    async def page(request: Request[Any, Any, Any]) -> Response[bytes]:
        # The URL the page was asked at, as a directory: /inbox -> /inbox/ (or /prefix/inbox/).
        base = request.url.path.rstrip("/") + "/"
        body = index.body.replace(_BASE_MARKER.encode(), html.escape(base).encode())
        return _answer(request, index, body)

    async def asset(request: Request[Any, Any, Any]) -> Response[bytes]:
        # Read from the request (a handler parameter would be an inferred path parameter,
        # which Litestar deprecates).
        found = assets.get(str(request.path_params["name"]))
        if found is None:
            raise NotFoundException()
        return _answer(request, found, found.body)

    return [
        get(INBOX_PATH, name="callbox-inbox", include_in_schema=False)(page),
        get(f"{INBOX_PATH}/{{name:str}}", name="callbox-inbox-asset", include_in_schema=False)(
            asset
        ),
    ]
