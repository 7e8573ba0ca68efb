"""Every Python example in docs/embedding.md runs: each app is written to a module of its
own, imported, served by uvicorn on the test database, and used as its section says; the
access-log filter is put on uvicorn's access log and a served app's lines are read."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
import pytest

from callbox.db.engine import DB
from tests.embedding.support import PREFIX, access_log_lines, serve_asgi
from tests.graphql.support import OUR_NUMBER
from tests.subscriptions.support import Live, transport_ws

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"
TEXT = DOC.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
APPS = [block for block in BLOCKS if "\napp = " in block]
(ACCESS_LOG_FILTER,) = [block for block in BLOCKS if "uvicorn.access" in block]

NOTIFY_TOKEN = "docs-notify-token-0123456789"
API_KEY = "docs-api-key-0123456789"


def test_the_page_has_an_example_per_host() -> None:
    hosts = ["from starlette", "from fastapi", "from litestar", "callbox.lifespan(", "create_app("]
    for host in hosts:
        assert any(host in block for block in BLOCKS), f"no example with {host!r}"


def load(block: str, directory: Path, index: int) -> ModuleType:
    name = f"embedding_example_{index}"
    path = directory / f"{name}.py"
    path.write_text(block)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_every_example_is_run() -> None:
    assert len(APPS) + 1 == len(BLOCKS)


def test_the_install_is_from_a_clone_not_from_pypi() -> None:
    """Callbox is not published: the page gives installs that work (tests/embedding/
    test_wheel.py builds and installs the wheel)."""
    assert "pip install callbox" not in TEXT and "uv add callbox" not in TEXT
    assert "pip install /path/to/callbox" in TEXT and "uv build --wheel" in TEXT


@pytest.mark.parametrize("index", range(len(APPS)))
async def test_example(
    index: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    block = APPS[index]
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("NOTIFY_TOKEN", NOTIFY_TOKEN)
    monkeypatch.setenv("CALLBOX_API_KEY", API_KEY)
    module = load(block, tmp_path, index)
    standalone = "create_app(" in block
    prefix = "" if standalone else PREFIX

    async with serve_asgi(module.app) as base, httpx.AsyncClient(timeout=30) as http:
        if not standalone:
            home = await http.get(f"{base}/")
            assert home.status_code == 200
            assert home.json() == {"hello": "from the host"}
        live = Live(base + prefix, http)
        payload = {"authorization": f"Bearer {API_KEY}"}
        async with transport_ws(live.base, None, payload=payload) as client:
            events = await client.events()
            message_id = str(uuid.uuid4())
            response = await http.post(
                f"{live.base}/hooks/notify",
                json={
                    "id": message_id,
                    "source_number": "07700900123",
                    "destination_number": OUR_NUMBER,
                    "message": f"example {index}",
                    "date_received": "2026-11-20T10:00:00.000000Z",
                },
                headers={"Authorization": f"Bearer {NOTIFY_TOKEN}"},
            )
            assert response.status_code == 200, response.text
            event = (await events.next())["messageEvents"]
            assert event["message"]["body"] == f"example {index}"
        answer = await http.post(
            f"{live.base}/graphql",
            json={"query": "{ messages { edges { node { body } } } }"},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        assert answer.json() == {
            "data": {"messages": {"edges": [{"node": {"body": f"example {index}"}}]}}
        }
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1
    assert DB.pool is None


async def not_found(scope: Any, receive: Any, send: Any) -> None:
    """Any app: the access log is the server's, whoever answers."""
    if scope["type"] == "lifespan":
        for step in ("startup", "shutdown"):
            await receive()
            await send({"type": f"lifespan.{step}.complete"})
        return
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_the_access_log_filter_keeps_tokens_and_queries_out(tmp_path: Path) -> None:
    access = logging.getLogger("uvicorn.access")
    before = list(access.filters)
    load(ACCESS_LOG_FILTER, tmp_path, len(BLOCKS))
    try:
        with access_log_lines() as lines:
            async with serve_asgi(not_found, access_log=True) as base, httpx.AsyncClient() as http:
                await http.post(f"{base}{PREFIX}/hooks/esendex/secret-url-token")
                await http.get(f"{base}{PREFIX}/hooks/wiraya?recipient=46710000123&id=7")
                await http.get(
                    f"{base}{PREFIX}/graphql", params={"query": "{ receivers { name } }"}
                )
                await http.get(f"{base}/items/7?page=2")
    finally:
        for added in [item for item in access.filters if item not in before]:
            access.removeFilter(added)
    assert [line.split('"')[1] for line in lines] == [
        f"POST {PREFIX}/hooks/esendex HTTP/1.1",
        f"GET {PREFIX}/hooks/wiraya HTTP/1.1",
        f"GET {PREFIX}/graphql HTTP/1.1",
        "GET /items/7?page=2 HTTP/1.1",  # the host's own lines are as they were
    ]
