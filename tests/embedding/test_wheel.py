"""The wheel, installed in a fresh virtual environment: ``callbox migrate`` on an empty
database, ``callbox serve`` storing a callback, and a host whose own package is ``app``.

Building the wheel needs its build backend (hatchling) and installing it its dependencies,
from a package index or uv's cache: with neither in reach (offline) these tests are skipped,
saying so; any other build or install error fails them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
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


# What uv says when it cannot reach a package index: offline (UV_OFFLINE, --offline), or a
# failed request (no network, DNS, refused connection, proxy...).
NO_INDEX = ("the network was disabled", "Failed to fetch", "error sending request")


def uv_or_skip(*command: str | Path, cwd: Path, env: dict[str, str], needs: str) -> None:
    """Run ``uv *command``; skip the test when it failed only because it could not download
    ``needs`` (a package index is out of reach), fail it on any other error.

    ``needs="backend"`` is for ``uv build``: only a failure to get the build backend itself
    (``build-system.requires``) skips; an error of the build is a failure.
    """
    result = subprocess.run(
        ["uv", *(str(part) for part in command)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode == 0:
        return
    unreachable = any(sign in result.stderr for sign in NO_INDEX)
    if needs == "backend":
        unreachable = unreachable and "`build-system.requires`" in result.stderr
    if unreachable:
        reason = result.stderr.strip().splitlines()[-1].strip()
        what = "the build backend (hatchling)" if needs == "backend" else needs
        pytest.skip(f"uv could not download {what}, no package index in reach: {reason}")
    raise AssertionError(f"uv {command}: {result.stdout}\n{result.stderr}")


def build_wheel(project: Path, out_dir: Path, env: dict[str, str]) -> Path:
    """The wheel of ``project``, built by uv with its build backend, into ``out_dir``."""
    uv_or_skip(
        "build",
        "--wheel",
        "--python",
        sys.executable,
        "--out-dir",
        out_dir,
        project,
        cwd=out_dir.parent,
        env=env,
        needs="backend",
    )
    (wheel,) = out_dir.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel built from this checkout; its bin/."""
    root = tmp_path_factory.mktemp("wheel")
    env = clean_environment()
    wheel = build_wheel(REPO, root / "dist", env)
    assert wheel.name.startswith("callbox-")
    top_level = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"callbox"}
    venv = root / "venv"
    run("uv", "venv", "--python", sys.executable, venv, cwd=root, env=env)
    python = venv / "bin" / "python"
    install = ("pip", "install", "--python", python, wheel)
    uv_or_skip(*install, cwd=root, env=env, needs="the wheel's dependencies")
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


# The skip above, told apart from a failure, with uv itself: cut off from any package index
# (offline, or an index nobody answers on) with an empty cache, and a project whose build
# fails in its build backend.


def cut_off(tmp_path: Path, how: str) -> dict[str, str]:
    env = clean_environment(UV_CACHE_DIR=str(tmp_path / "empty-cache"), UV_HTTP_RETRIES="0")
    for name in ("UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "PIP_FIND_LINKS"):
        env.pop(name, None)
    if how == "offline":
        env["UV_OFFLINE"] = "1"
    else:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            nobody = f"http://127.0.0.1:{probe.getsockname()[1]}/simple"
        env.update(UV_DEFAULT_INDEX=nobody, UV_INDEX_URL=nobody)
    return env


@pytest.mark.parametrize("how", ["offline", "unreachable index"])
def test_a_build_backend_out_of_reach_skips(tmp_path: Path, how: str) -> None:
    with pytest.raises(pytest.skip.Exception, match="could not download the build backend"):
        build_wheel(REPO, tmp_path / "dist", cut_off(tmp_path, how))


def test_dependencies_out_of_reach_skip(tmp_path: Path) -> None:
    env = cut_off(tmp_path, "offline")
    run("uv", "venv", "--python", sys.executable, tmp_path / "venv", cwd=tmp_path, env=env)
    python = tmp_path / "venv" / "bin" / "python"
    with pytest.raises(pytest.skip.Exception, match="could not download the wheel's dep"):
        uv_or_skip(
            *("pip", "install", "--python", python, "msgspec"),
            cwd=tmp_path,
            env=env,
            needs="the wheel's dependencies",
        )


def test_an_error_of_the_build_itself_fails(tmp_path: Path) -> None:
    """With the build backend at hand, a build that fails in it is a failure, not a skip."""
    pyproject = (REPO / "pyproject.toml").read_text()
    build_system = pyproject[pyproject.index("[build-system]") :].split("\n\n", 1)[0]

    def project(name: str, packages: str) -> Path:
        path = tmp_path / name
        (path / name).mkdir(parents=True)
        (path / name / "__init__.py").write_text("")
        (path / "pyproject.toml").write_text(
            f'{build_system}\n\n[project]\nname = "{name}"\nversion = "1"\n\n'
            f"[tool.hatch.build.targets.wheel]\npackages = {packages}\n"
        )
        return path

    env = clean_environment()
    sound = project("sound", '["sound"]')
    probe = subprocess.run(
        ["uv", "build", "--wheel", "--python", sys.executable, "--out-dir", sound / "dist", sound],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1].strip()
        pytest.skip(f"uv could not build a sound project, so no build backend here: {reason}")

    broken = project("broken", "1")  # hatchling: "must be an array of strings"
    with pytest.raises(AssertionError, match="must be an array of strings"):
        try:
            build_wheel(broken, broken / "dist", env)
        except pytest.skip.Exception as skipped:
            pytest.fail(f"a build error was taken for a backend out of reach: {skipped}")
