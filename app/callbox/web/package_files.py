"""Files shipped inside the package (the inbox page, the GraphiQL page's assets), served as
they are: read once, with a content ETag (a matching ``If-None-Match`` is answered 304) and
``Cache-Control: no-cache`` (revalidated every time, so an upgrade is seen at once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from litestar import Request, Response

# Litestar adds "; charset=utf-8" to text/* types itself.
CONTENT_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
"""What is served, by suffix; other files (licences, notes) are shipped but not served."""


@dataclass(frozen=True, slots=True)
class PackageFile:
    body: bytes
    content_type: str
    etag: str


def _walk(directory: Traversable, prefix: str) -> dict[str, PackageFile]:
    found: dict[str, PackageFile] = {}
    for entry in directory.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found |= _walk(entry, name + "/")
            continue
        suffix = "." + entry.name.rpartition(".")[2]
        if suffix in CONTENT_TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            found[name] = PackageFile(body, CONTENT_TYPES[suffix], etag)
    return found


def load_package_files(package: str, directory: str) -> dict[str, PackageFile]:
    """The servable files below ``directory`` of ``package``, by path (``vendor/x.js``)."""
    return _walk(files(package).joinpath(directory), "")


def package_file_response(
    request: Request[Any, Any, Any],
    file: PackageFile,
    headers: Mapping[str, str],
    body: bytes | None = None,
) -> Response[bytes]:
    """``file`` (or ``body`` made from it) with ``headers``, or 304 when the client has it."""
    answer_headers = {**headers, "Cache-Control": "no-cache", "ETag": file.etag}
    if request.headers.get("if-none-match") == file.etag:
        return Response(b"", status_code=304, headers=answer_headers)
    return Response(
        file.body if body is None else body, media_type=file.content_type, headers=answer_headers
    )
