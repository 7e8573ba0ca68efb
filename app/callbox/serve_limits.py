"""Limits ``callbox serve`` sets on uvicorn, before any request reaches Callbox (and so before
authentication): the size of a request's head and of a WebSocket message; and no
per-message deflate on WebSockets.

An embedding host runs its own server: these apply only to ``callbox serve`` (docs/embedding.md
says what to set instead). Callbox itself bounds the headers it stores
(``web/request_info.py``) and the WebSocket messages it parses (``graphql/limits.py``).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from callbox.graphql.limits import MAX_WEBSOCKET_MESSAGE_CHARS

MAX_REQUEST_HEAD_BYTES = 64 * 1024
"""Request line plus headers; more is answered 431 and the connection closed."""
MAX_WEBSOCKET_MESSAGE_BYTES = MAX_WEBSOCKET_MESSAGE_CHARS
"""uvicorn's ``ws_max_size`` (its default is 16 MiB): a longer message closes the socket with
1009 before it is assembled."""

PER_MESSAGE_DEFLATE = False
"""uvicorn's ``ws_per_message_deflate`` (its default is on). Off: a subscription's ``next``
frame is a few hundred bytes, which deflate halves at about 6 times the CPU of framing it,
once per connection (the compressor is per connection, so the shared payload cannot be
compressed once for a group); on a CPU-bound fan-out that costs more than the bytes it saves
(docs/benchmarks.md, "Live subscriptions"). A proxy in front may still compress."""

_TOO_LARGE = b"request header fields too large"


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request head bounded.

    httptools gathers a header whatever its size (a 100 MB header was once accepted): the
    bytes of a head are counted before they are fed to the parser, and past
    :data:`MAX_REQUEST_HEAD_BYTES` the request is answered 431 and the connection closed.
    """

    max_head_bytes = MAX_REQUEST_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_body = False

    def data_received(self, data: bytes) -> None:
        if self._in_body:
            super().data_received(data)
            return
        room = self.max_head_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        # Feed what fits: it may end the head, the rest then being body or the next request.
        self._head_bytes += room
        super().data_received(data[:room])
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # refused by the parser, or upgraded to a WebSocket
        if self._in_body:
            self.data_received(data[room:])
            return
        self._refuse_head()

    def on_headers_complete(self) -> None:
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._head_bytes = 0
        super().on_message_complete()

    def _refuse_head(self) -> None:
        self.logger.warning("request head over %d bytes refused (431)", self.max_head_bytes)
        content = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(_TOO_LARGE)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                _TOO_LARGE,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def uvicorn_limits() -> dict[str, Any]:
    """The options ``callbox serve`` passes to ``uvicorn.run`` for these limits."""
    return {
        "http": BoundedHttpToolsProtocol,
        "ws_max_size": MAX_WEBSOCKET_MESSAGE_BYTES,
        "ws_per_message_deflate": PER_MESSAGE_DEFLATE,
    }
