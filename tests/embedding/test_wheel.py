"""The wheel, installed in a fresh virtual environment: ``callbox migrate`` on an empty
database, ``callbox serve`` storing a callback, and a host whose own package is ``app``."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "wheel-notify-token-0123456789"

pytestmark = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without its virtual environment or Callbox settings."""
    hidden = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in hidden and not key.startswith(("CALLBOX_", "PICCOLO_"))
    }
    return {**env, **extra}


def run(*command: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel built from this checkout; its bin/."""
    root = tmp_path_factory.mktemp("wheel")
    env = clean_environment()
    run("uv", "build", "--wheel", "--out-dir", root / "dist", REPO, cwd=root, env=env)
    (wheel,) = (root / "dist").glob("callbox-*.whl")
    top_level = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"callbox"}
    venv = root / "venv"
    run("uv", "venv", "--python", sys.executable, venv, cwd=root, env=env)
    python = venv / "bin" / "python"
    run("uv", "pip", "install", "--python", python, wheel, cwd=root, env=env)
    yield venv / "bin"


async def test_the_installed_wheel_migrates_an_empty_database_and_serves(
    installed: Path, create_database: object, tmp_path: Path
) -> None:
    url: str = await create_database()  # type: ignore[operator]
    env = clean_environment(CALLBOX_DATABASE_URL=url, NOTIFY_TOKEN=TOKEN)
    run(installed / "callbox", "migrate", cwd=tmp_path, env=env)
    # Every migration the wheel carries was applied (callbox migrate prints the same line
    # whether or not it did anything).
    connection = await asyncpg.connect(url)
    try:
        applied = await connection.fetchval("SELECT count(*) FROM migration")
    finally:
        await connection.close()
    assert applied == len(list((REPO / "migrations").glob("callbox_*.py")))

    config = tmp_path / "callbox.toml"
    config.write_text(
        textwrap.dedent(
            """
            [[receivers]]
            name = "notify"
            provider = "notify"
            default_region = "GB"
            auth = { bearer = ["env:NOTIFY_TOKEN"] }
            """
        )
    )
    port = free_port()
    server = subprocess.Popen(
        [installed / "callbox", "serve", "--port", str(port), "--no-migrate"],
        cwd=tmp_path,
        env={**env, "CALLBOX_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get("/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "callbox serve did not become ready"
                await asyncio.sleep(0.2)
            response = await http.post(
                "/hooks/notify",
                content=json.dumps(
                    {
                        "id": "from-the-wheel",
                        "source_number": "07700900123",
                        "destination_number": "+447700900999",
                        "message": "served by the wheel",
                        "date_received": "2026-11-20T10:00:00.000000Z",
                    }
                ),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        server.stderr.close()
    connection = await asyncpg.connect(url)
    try:
        body = await connection.fetchval("SELECT body FROM callbox_message")
    finally:
        await connection.close()
    assert body == "served by the wheel"


def test_a_host_package_named_app_imports_beside_callbox(installed: Path, tmp_path: Path) -> None:
    host = tmp_path / "app"
    host.mkdir()
    (host / "__init__.py").write_text('NAME = "the host\'s own app package"\n')
    (host / "main.py").write_text(
        textwrap.dedent(
            """
            import callbox


            async def host(scope, receive, send):
                pass


            settings = callbox.Settings(database=callbox.Database(url="postgresql://unused/db"))
            app = callbox.CallboxMiddleware(host, settings=settings)
            """
        )
    )
    code = (
        "import app, callbox, callbox.app\n"
        "from app.main import app as asgi\n"
        "print(app.NAME, callbox.__file__.startswith(sys.prefix), type(asgi).__name__)\n"
    )
    env = clean_environment()
    output = run(installed / "python", "-c", "import sys\n" + code, cwd=tmp_path, env=env)
    assert output.split() == ["the", "host's", "own", "app", "package", "True", "CallboxMiddleware"]
