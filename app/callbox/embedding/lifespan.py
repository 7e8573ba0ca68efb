"""Callbox's start and stop around a host's: the ASGI lifespan relay, and ``callbox.lifespan``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from callbox.embedding.asgi import ASGIApp, Message, Receive, Scope, Send
from callbox.embedding.instance import CallboxInstance, instance_for
from callbox.settings import Settings

logger = logging.getLogger(__name__)

_HOST_DONE = frozenset(
    {"lifespan.startup.failed", "lifespan.shutdown.complete", "lifespan.shutdown.failed"}
)


@contextlib.asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[None]:
    """Run Callbox (migrations, connection pool, listener) for the duration of the block.

    For hosts whose server does not pass the ASGI lifespan to Callbox: a ``CallboxMiddleware``
    in a mounted sub-application, a server run with lifespan off. It starts the same Callbox
    as the middleware or plugin built from equal settings (started once however many start it).

    Example::

        @contextlib.asynccontextmanager
        async def host_lifespan(app):
            async with callbox.lifespan(settings):
                yield
    """
    async with instance_for(settings).running():
        yield


async def relay_lifespan(
    callbox: CallboxInstance, host: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Start Callbox, then pass the lifespan to the host; the host stops first, then Callbox.

    A Callbox that fails to start answers ``lifespan.startup.failed`` and the host is never
    started. A host that does not speak the lifespan protocol (it raises or returns without
    answering ``lifespan.startup``, as ASGI allows) is left alone: Callbox answers for itself.
    """
    startup = await receive()
    try:
        await callbox.start()
    except Exception as error:
        logger.exception("Callbox failed to start")
        await send({"type": "lifespan.startup.failed", "message": f"Callbox: {error}"})
        return
    relay = _HostLifespan(callbox, startup, receive, send)
    try:
        await host(scope, relay.receive, relay.send)
    except Exception:
        if relay.host_answered:
            await relay.stop_callbox()
            raise
        logger.debug("the wrapped app does not support the lifespan protocol", exc_info=True)
    if relay.host_answered:
        await relay.stop_callbox()
        return
    await _answer_alone(relay, receive, send)


async def _answer_alone(relay: _HostLifespan, receive: Receive, send: Send) -> None:
    await send({"type": "lifespan.startup.complete"})
    while (await receive())["type"] != "lifespan.shutdown":
        pass
    failure = await relay.stop_callbox()
    if failure is None:
        await send({"type": "lifespan.shutdown.complete"})
    else:
        await send({"type": "lifespan.shutdown.failed", "message": failure})


class _HostLifespan:
    """The host's view of the lifespan: the startup message again, then the server's."""

    def __init__(
        self, callbox: CallboxInstance, startup: Message, receive: Receive, send: Send
    ) -> None:
        self.callbox = callbox
        self._startup: Message | None = startup
        self._receive = receive
        self._send = send
        self.host_answered = False
        self._stopped = False

    async def receive(self) -> Message:
        if self._startup is not None:
            message, self._startup = self._startup, None
            return message
        return await self._receive()

    async def send(self, message: Message) -> None:
        if message["type"].startswith("lifespan.startup."):
            self.host_answered = True
        if message["type"] in _HOST_DONE:
            failure = await self.stop_callbox()
            if failure is not None and message["type"] == "lifespan.shutdown.complete":
                message = {"type": "lifespan.shutdown.failed", "message": failure}
        await self._send(message)

    async def stop_callbox(self) -> str | None:
        """Stop Callbox once; a failure is logged and returned as the message to report."""
        if self._stopped:
            return None
        self._stopped = True
        try:
            await self.callbox.stop()
        except Exception as error:
            logger.exception("Callbox failed to stop cleanly")
            return f"Callbox: {error}"
        return None
