"""GraphiQL on ``GET /graphql`` from files shipped in the package: no CDN, so it works
offline and under a strict Content-Security-Policy.

``ide/graphiql.html`` loads the vendored GraphiQL, React and ReactDOM (``ide/vendor/``,
refreshed by ``scripts/vendor-graphiql.sh``) and ``ide/graphiql-start.js``, which opens it
titled Callbox with example operations: queries and mutations over HTTP, subscriptions over
graphql-transport-ws on the same endpoint. The files are served at ``<endpoint>/ide/``.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler

from callbox.web.package_files import load_package_files, package_file_response

ASSETS_DIRECTORY = "ide"
"""Where the page's files are, below the endpoint's path and in this package."""
_PAGE = "graphiql.html"
_BASE_MARKER = "{{base}}"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # GraphiQL's editors set style attributes; its stylesheet embeds its fonts and icons.
        "style-src 'self' 'unsafe-inline'",
        "font-src data:",
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


class GraphiQLPage:
    """The page and its files, read once."""

    def __init__(self) -> None:
        self.files = load_package_files("callbox.graphql", ASSETS_DIRECTORY)
        self.page = self.files.pop(_PAGE)

    def render(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """The page, its links relative to the endpoint's URL (``/graphql`` or with a prefix)."""
        base = request.url.path.rstrip("/") + "/"
        body = self.page.body.replace(_BASE_MARKER.encode(), html.escape(base).encode())
        return package_file_response(request, self.page, _HEADERS, body)

    def routes(self, endpoint_path: str) -> list[HTTPRouteHandler]:
        """The route serving the page's files at ``<endpoint_path>/ide/<path>``."""

        async def asset(request: Request[Any, Any, Any]) -> Response[bytes]:
            # Read from the request (a handler parameter would be an inferred path
            # parameter, which Litestar deprecates).
            found = self.files.get(str(request.path_params["path"]).lstrip("/"))
            if found is None:
                raise NotFoundException()
            return package_file_response(request, found, _HEADERS)

        path = f"{endpoint_path}/{ASSETS_DIRECTORY}/{{path:path}}"
        return [get(path, name="callbox-graphiql-asset", include_in_schema=False)(asset)]
