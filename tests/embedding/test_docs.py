"""Every Python example in docs/embedding.md runs: each is written to a module of its own,
imported, served by uvicorn on the test database, and used as its section says."""

from __future__ import annotations

import importlib.util
import re
import sys
import uuid
from pathlib import Path
from types import ModuleType

import asyncpg
import httpx
import pytest

from callbox.db.engine import DB
from tests.embedding.support import PREFIX, serve_asgi
from tests.graphql.support import OUR_NUMBER
from tests.subscriptions.support import Live, transport_ws

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)

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


@pytest.mark.parametrize("index", range(len(BLOCKS)))
async def test_example(
    index: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    block = BLOCKS[index]
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
