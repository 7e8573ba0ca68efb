"""One Callbox's parts and their start and stop, shared by the entry points built from equal
settings: a ``CallboxMiddleware``, a ``CallboxPlugin`` and ``callbox.lifespan(settings)`` given
equal settings serve and start the same Callbox, whichever of them the host's server drives.

Started resources are per process (Callbox's tables are bound to one Piccolo engine, which
holds one connection pool), so one Callbox runs per process at a time; starting a second,
with other settings, is refused with :class:`AnotherCallboxRunning`.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from litestar import Litestar

from callbox.app import CallboxParts, callbox_parts, litestar_app
from callbox.db.engine import DB
from callbox.settings import Settings

_instances: list[weakref.ref[CallboxInstance]] = []
_running: CallboxInstance | None = None


class AnotherCallboxRunning(RuntimeError):
    """A second Callbox in one process: its connection pool would replace the first's."""


class CallboxInstance:
    """Callbox's parts for one settings object, started by however many users need it.

    The first :meth:`start` enters the parts' lifespan managers and the last :meth:`stop`
    leaves them, both in a task of the instance's own, so users may start and stop it from
    different tasks (the server's lifespan task, a host's startup code).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.parts: CallboxParts = callbox_parts(settings)
        self._app: Litestar | None = None
        self._users = 0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def app(self) -> Litestar:
        """The parts as a Litestar app of their own, routes at the root (what the middleware
        serves); built on first use."""
        if self._app is None:
            self._app = litestar_app(self.parts)
        return self._app

    async def start(self) -> None:
        """Start on first use (the lifespan managers are given Callbox's own app)."""
        async with self._lock:
            if self._users == 0:
                await self._start(self.app)
            self._users += 1

    async def stop(self) -> None:
        """Stop once every user has; errors while stopping are raised to the last user."""
        async with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                await self._stop()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Started while the block runs (shared with every other user)."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _start(self, app: Litestar) -> None:
        global _running
        if (_running is not None and _running is not self) or DB.pool is not None:
            raise AnotherCallboxRunning(
                "another Callbox is already running in this process; one Callbox per process "
                "is supported (its tables use one Piccolo engine, with one connection pool)"
            )
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stopping = asyncio.Event()
        task = asyncio.create_task(self._live(app, started), name="callbox-lifespan")
        try:
            await started
        except BaseException:
            task.cancel()  # a failed start has ended already; a cancelled one is ended here
            with contextlib.suppress(BaseException):
                await task
            raise
        self._task = task
        _running = self

    async def _stop(self) -> None:
        global _running
        task, self._task = self._task, None
        self._stopping.set()
        try:
            if task is not None:
                await task
        finally:
            _running = None

    async def _live(self, app: Litestar, started: asyncio.Future[None]) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                for manager in self.parts.lifespan:
                    await stack.enter_async_context(manager(app))
                started.set_result(None)
                await self._stopping.wait()
        except asyncio.CancelledError:
            if not started.done():
                started.cancel()
            raise
        except Exception as error:
            if started.done():
                raise
            started.set_exception(error)


def instance_for(settings: Settings) -> CallboxInstance:
    """The Callbox for these settings: the one already made for equal settings, else new."""
    for reference in list(_instances):
        instance = reference()
        if instance is None:
            _instances.remove(reference)
        elif instance.settings == settings:
            return instance
    instance = CallboxInstance(settings)
    _instances.append(weakref.ref(instance))
    return instance
