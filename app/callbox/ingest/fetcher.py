"""HTTPS GETs signature schemes ask for (:class:`~callbox.providers.base.Fetcher`): the
certificate an Amazon SNS message names, the link that confirms an SNS subscription.

Settings in ``[outbound]`` (``callbox.settings.Outbound``): the time limit, the CA bundle
(the public CAs by default), a proxy. Redirects are not followed, bodies are bounded, and a
200 answer asked for with ``cache`` is kept per URL (bounded, for a day), with one request in
flight per URL however many callbacks wait for it. Failures name the host only: a URL's
query may hold a token (SNS's ``SubscribeURL`` does).

Example::

    fetcher = HttpsFetcher(Outbound(timeout_seconds=5))
    fetched = await fetcher.get("https://sns.eu-west-1.amazonaws.com/cert.pem", cache=True)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import httpx

from callbox.providers.base import Fetched, Unreachable
from callbox.settings import Outbound

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
"""An answer's body is read up to this (an SNS certificate is under 2 KiB)."""
CACHE_ENTRIES = 64
CACHE_SECONDS = 24 * 3600
"""SNS certificates do not change under a URL (a new certificate gets a new URL)."""


def _user_agent() -> str:
    try:
        return f"callbox/{version('callbox')}"
    except PackageNotFoundError:  # (run from a source tree without being installed)
        return "callbox"


class HttpsFetcher:
    """The app's :class:`~callbox.providers.base.Fetcher`; one per app, closed by its
    :meth:`lifespan`."""

    def __init__(self, settings: Outbound) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self._cache: OrderedDict[str, tuple[float, Fetched]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[Fetched]] = {}

    async def get(self, url: str, *, cache: bool = False) -> Fetched:
        if urlsplit(url).scheme != "https":
            raise ValueError("only https URLs are fetched")  # (schemes check this first)
        if not cache:
            return await self._fetch(url)
        kept = self._cache.get(url)
        if kept is not None and time.monotonic() - kept[0] < CACHE_SECONDS:
            self._cache.move_to_end(url)
            return kept[1]
        task = self._in_flight.get(url)
        if task is None:
            # Its own task: a caller that goes away does not cancel it for the others.
            task = asyncio.get_running_loop().create_task(self._fetch(url))
            self._in_flight[url] = task
            task.add_done_callback(functools.partial(self._settle, url))
        return await asyncio.shield(task)

    def _settle(self, url: str, task: asyncio.Task[Fetched]) -> None:
        del self._in_flight[url]
        if task.cancelled() or task.exception() is not None:
            return  # (the exception is retrieved: each caller gets it from its await)
        fetched = task.result()
        if fetched.status_code == 200:
            self._cache[url] = (time.monotonic(), fetched)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)

    async def _fetch(self, url: str) -> Fetched:
        host = urlsplit(url).hostname or "?"
        seconds = self._settings.timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                async with self._http().stream("GET", url) as response:
                    body = await _bounded_body(response, host)
                    return Fetched(response.status_code, body)
        except TimeoutError:
            raise Unreachable(f"{host} did not answer within {seconds:g} s") from None
        except httpx.TimeoutException:
            raise Unreachable(f"{host} did not answer within {seconds:g} s") from None
        except httpx.HTTPError as error:
            cause = _root_cause(error)
            logger.warning("GET from %s failed: %s", host, type(cause).__name__)
            raise Unreachable(f"cannot reach {host}: {_described(cause)}") from None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            verify: ssl.SSLContext | bool = True  # httpx's default: the public CAs (certifi)
            if self._settings.ca_bundle is not None:
                verify = ssl.create_default_context(cafile=self._settings.ca_bundle)
            self._client = httpx.AsyncClient(
                verify=verify,
                proxy=self._settings.proxy,
                trust_env=False,
                follow_redirects=False,
                timeout=httpx.Timeout(self._settings.timeout_seconds),
                headers={"User-Agent": _user_agent()},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Any) -> AsyncIterator[None]:
        """Closes the connections at the app's end (a Litestar lifespan manager)."""
        try:
            yield
        finally:
            await self.aclose()


async def _bounded_body(response: httpx.Response, host: str) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Unreachable(f"{host} sent more than {MAX_BODY_BYTES} bytes")
    return bytes(body)


def _root_cause(error: BaseException) -> BaseException:
    for _ in range(10):  # (httpx wraps httpcore's error, which wraps the OS's)
        inner = error.__cause__ or error.__context__
        if inner is None:
            break
        error = inner
    return error


def _described(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return "TLS failed"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__
