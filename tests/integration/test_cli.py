"""The callbox command, run as a real process where it matters."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from callbox.cli import main

NOTIFY_RECEIPT = json.dumps(
    {
        "id": "740e5834-3a29-46b4-9a6f-16142fde533a",
        "reference": "12345678",
        "to": "+447700900123",
        "status": "delivered",
        "notification_type": "sms",
        "created_at": "2017-05-14T12:15:30.000000Z",
        "completed_at": "2017-05-14T12:15:30.000000Z",
        "sent_at": "2017-05-14T12:15:30.000000Z",
    }
).encode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"callbox serve exited with {process.returncode}")
        try:
            httpx.head(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("callbox serve did not start in 60 s")


def _callbox(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "callbox", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    env.update(extra)
    return env


async def test_serve_without_config_or_database_uses_embedded_postgres(tmp_path: Path) -> None:
    """The README's quick start: no database installed, no config, a curl gets 200."""
    port = _free_port()
    process = _callbox(
        "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"), env=_environment()
    )
    try:
        url = f"http://127.0.0.1:{port}/hooks/notify"
        _wait_until_serving(url, process)
        response = httpx.post(
            url, content=NOTIFY_RECEIPT, headers={"Content-Type": "application/json"}
        )
        assert (response.status_code, response.content) == (200, b"")
        from callbox.db.embedded import start_embedded_postgres

        embedded = start_embedded_postgres(tmp_path / "data" / "postgres")  # reuses the server
        connection = await asyncpg.connect(embedded.url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM callbox_message") == 1
            body = await connection.fetchval("SELECT body FROM callbox_notification")
            assert bytes(body) == NOTIFY_RECEIPT
        finally:
            await connection.close()
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "development instance" in output


def test_development_instance_refuses_a_public_bind(tmp_path: Path) -> None:
    process = _callbox("serve", "--host", "0.0.0.0", env=_environment())
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 2
    assert "refusing to listen on 0.0.0.0" in output


def test_open_receiver_in_config_refuses_a_public_bind(tmp_path: Path) -> None:
    config = tmp_path / "callbox.toml"
    config.write_text('[[receivers]]\nname = "esendex"\nprovider = "esendex"\n')
    process = _callbox("--config", str(config), "serve", "--host", "0.0.0.0", env=_environment())
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 2
    assert "receivers without authentication (esendex)" in output


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[[receivers]]\nname = "n"\nprovider = "notify"\nauth = { bearer = ["s3cret-token"] }\n'
    )
    assert main(["check-config", str(good)]) == 0
    assert "OK (1 receivers: n)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[receivers]]\nname = "n"\nprovider = "notify"\nmax_body_bytes = -1\n')
    assert main(["check-config", str(bad)]) == 2
    assert "max_body_bytes must be positive" in capsys.readouterr().err


def test_secrets_never_reach_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "callbox.toml"
    config.write_text(
        '[[receivers]]\nname = "n"\nprovider = "notify"\n'
        'auth = { bearer = ["sup3r-secret-t0ken"], url_token = ["p4th-t0ken"] }\n'
        "max_body_bytes = -1\n"
    )
    assert main(["check-config", str(config)]) == 2
    captured = capsys.readouterr()
    assert "sup3r-secret-t0ken" not in captured.out + captured.err
    assert "p4th-t0ken" not in captured.out + captured.err


def test_send_sample_reports_an_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send-sample", "carrier-pigeon"]) == 2
    assert "unknown provider 'carrier-pigeon'" in capsys.readouterr().err


async def test_send_sample_signs_for_a_provider_that_signs(
    database_url: str,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from callbox.providers import PROVIDERS
    from callbox.settings import Auth, Receiver
    from tests.support import served, settings_for

    monkeypatch.setenv("MAILGUN_SIGNING_KEY", "mailgun-signing-key-0123456789")
    receiver = Receiver(
        name="mailgun", provider="mailgun", auth=Auth(signature=["env:MAILGUN_SIGNING_KEY"])
    )
    samples = PROVIDERS["mailgun"].samples
    async with served(settings_for(database_url, [receiver])) as base:
        url = f"{base}/hooks/mailgun"
        unsigned = await asyncio.to_thread(main, ["send-sample", "mailgun", "--url", url])
        assert unsigned == 1
        assert capsys.readouterr().out.count("401 ") == len(samples)
        signed = await asyncio.to_thread(
            main,
            ["send-sample", "mailgun", "--url", url, "--signature-key", "env:MAILGUN_SIGNING_KEY"],
        )
        assert signed == 0
        assert capsys.readouterr().out.count("200 ") == len(samples)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == len(samples)
    assert main(["send-sample", "notify", "--signature-key", "k"]) == 2
    assert "notify does not sign with a shared key" in capsys.readouterr().err
