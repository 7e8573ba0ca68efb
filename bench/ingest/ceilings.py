"""The two ceilings Callbox is measured against, served by the same server as Callbox.

- ceiling A (``bare_app``): a bare Litestar endpoint that reads the body and answers 200;
- ceiling B (``naive_app``): the same plus one asyncpg INSERT of the body per request.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import asyncpg
from litestar import Litestar, Request, Response, post


@post("/hooks/bare", status_code=200)
async def bare(request: Request) -> Response[bytes]:  # type: ignore[type-arg]
    await request.body()
    return Response(b"", status_code=200, media_type="text/plain")


def bare_app() -> Litestar:
    return Litestar([bare], openapi_config=None, logging_config=None)


def naive_app() -> Litestar:
    pool: list[asyncpg.Pool] = []  # type: ignore[type-arg]

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        created = await asyncpg.create_pool(
            os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10
        )
        assert created is not None
        pool.append(created)
        try:
            yield
        finally:
            await created.close()

    @post("/hooks/naive", status_code=200)
    async def naive(request: Request) -> Response[bytes]:  # type: ignore[type-arg]
        body = await request.body()
        await pool[0].execute("INSERT INTO bench_raw (body) VALUES ($1)", body)
        return Response(b"", status_code=200, media_type="text/plain")

    return Litestar([naive], lifespan=[lifespan], openapi_config=None, logging_config=None)
