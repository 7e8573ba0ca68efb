"""The callbox command, run as a real process where it matters."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from callbox.cli import build_parser, main
from callbox.db.reach import masked_url
from tests.support import CallboxProcess, CommandRun, callbox_environment, run_callbox

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


async def test_serve_without_config_or_database_uses_embedded_postgres(
    pg_tmp_path: Path,
) -> None:
    """The README's quick start: no database installed, no config, a curl gets 200."""
    port = _free_port()
    data = pg_tmp_path / "data"
    process = _callbox("serve", "--port", str(port), "--data-dir", str(data), env=_environment())
    try:
        url = f"http://127.0.0.1:{port}/hooks/notify"
        _wait_until_serving(url, process)
        response = httpx.post(
            url, content=NOTIFY_RECEIPT, headers={"Content-Type": "application/json"}
        )
        assert (response.status_code, response.content) == (200, b"")
        from callbox.db.embedded import start_embedded_postgres

        with start_embedded_postgres(data / "postgres") as embedded:  # shares the server
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


def test_an_unusable_embedded_data_directory_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CALLBOX_CONFIG", "CALLBOX_DATABASE_URL", "CALLBOX_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    cluster = tmp_path / "data" / "postgres"
    cluster.mkdir(parents=True)
    (cluster / "notes.txt").write_text("not a database\n")
    assert main(["migrate", "--data-dir", str(tmp_path / "data")]) == 2
    error = capsys.readouterr().err
    assert error == (
        f"callbox: cannot start the embedded PostgreSQL: {cluster} is neither empty nor a "
        "PostgreSQL cluster\n"
    )


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
    assert "OK (1 receiver: n)" in capsys.readouterr().out
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


# --- Issue 20, item 3: options where people type them, --version, where it listens ----------


def test_options_are_accepted_after_the_command_too(tmp_path: Path) -> None:
    config = tmp_path / "callbox.toml"
    config.write_text('[[receivers]]\nname = "esendex"\nprovider = "esendex"\n')
    run = run_callbox(
        "serve", "--config", str(config), "--host", "0.0.0.0", env=callbox_environment()
    )
    assert run.returncode == 2
    assert "receivers without authentication (esendex)" in run.err  # the file was read


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "a.toml", "--data-dir", "d", "migrate"],
        ["migrate", "--config", "a.toml", "--data-dir", "d"],
        ["--config", "a.toml", "reprocess", "notify", "--data-dir", "d"],
        ["purge", "--data-dir", "d", "--config", "a.toml"],
    ],
)
def test_shared_options_mean_the_same_before_and_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.config, args.data_dir) == ("a.toml", "d")


def test_version() -> None:
    run = run_callbox("--version", env=callbox_environment())
    assert (run.returncode, run.out) == (0, f"callbox {version('callbox')}\n")


def test_check_config_reads_the_file_named_by_callbox_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "callbox.toml"
    config.write_text(
        '[[receivers]]\nname = "a"\nprovider = "notify"\nauth = { bearer = ["t"] }\n'
        '[[receivers]]\nname = "b"\nprovider = "esendex"\nauth = { url_token = ["u"] }\n'
    )
    monkeypatch.setenv("CALLBOX_CONFIG", str(config))
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == f"{config}: OK (2 receivers: a, b)\n"
    monkeypatch.delenv("CALLBOX_CONFIG")
    assert main(["check-config", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"{config}: OK (2 receivers: a, b)\n"
    assert main(["check-config"]) == 2
    assert "no config file (give FILE, --config FILE or CALLBOX_CONFIG)" in capsys.readouterr().err


def test_check_config_reports_every_error_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "callbox.toml"
    config.write_text('[server]\nprot = 1\n[logging]\nlevel = "loud"\n')
    assert main(["check-config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "callbox: invalid configuration (2 errors):\n"
        "  server.prot: unknown key, did you mean 'port'?\n"
        "  logging.level: Invalid enum value 'loud'"
        " (expected one of: debug, info, warning, error)\n"
    )
    config.write_text("[server]\nprot = 1\n")
    assert main(["check-config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "callbox: invalid configuration (1 error): server.prot: unknown key, did you mean 'port'?\n"
    )


async def test_serve_says_where_it_listens_without_tokens_or_passwords(
    tmp_path: Path, create_database: Any
) -> None:
    url: str = await create_database()
    with_password = _with_login(url, "postgres", "pa55w0rd")  # trust: any password will do
    config = tmp_path / "callbox.toml"
    config.write_text(
        '[metrics]\nenabled = true\nbearer = ["m3trics-t0ken"]\n'
        '[[receivers]]\nname = "esendex"\nprovider = "esendex"\n'
        'auth = { url_token = ["s3cret-url-t0ken"] }\n'
        '[[receivers]]\nname = "notify"\nprovider = "notify"\n'
        'auth = { bearer = ["b3arer-t0ken"] }\n'
    )
    server = CallboxProcess(with_password, config, log=tmp_path / "serve.log")
    server.start()
    server.stop()
    log = (tmp_path / "serve.log").read_text()
    base = server.base
    for line in [
        f"listening on {base} (1 worker)",
        f"receiver esendex: {base}/hooks/esendex/<url token>",
        f"receiver notify: {base}/hooks/notify",
        f"GraphQL: {base}/graphql",
        f"metrics: {base}/metrics",
        f"database: {with_password.replace(':pa55w0rd@', ':***@')}",
    ]:
        assert line in log
    assert "/inbox" not in log  # off outside development instances
    for secret in ("pa55w0rd", "s3cret-url-t0ken", "m3trics-t0ken", "b3arer-t0ken"):
        assert secret not in log


# --- Issue 20, item 6: a database out of reach at start is one line, not a traceback ---------


@pytest.mark.parametrize("command", ["serve", "serve --no-migrate", "migrate", "purge"])
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://callbox:hunter2@127.0.0.1:1/callbox", "connection refused"),
        ("postgresql://callbox:hunter2@no-such-host.invalid/callbox", "unknown host"),
        ("postgresql://callbox:hunter2@127.0.0.1:port/callbox", "the URL cannot be read"),
        ("mysql://callbox:hunter2@127.0.0.1/callbox", "not a PostgreSQL URL"),
    ],
)
def test_a_database_out_of_reach_is_named_in_one_line(command: str, url: str, problem: str) -> None:
    run = run_callbox(*command.split(), env=callbox_environment(CALLBOX_DATABASE_URL=url))
    _assert_one_line_naming(run, problem)


def test_a_database_url_is_shown_with_its_password_masked() -> None:
    assert masked_url("postgresql://callbox:hunter2@db:5432/callbox?sslmode=require") == (
        "postgresql://callbox:***@db:5432/callbox?sslmode=require"
    )
    assert masked_url("postgresql://db/callbox?user=callbox&password=hunter2&x=1") == (
        "postgresql://db/callbox?user=callbox&password=***&x=1"
    )
    assert masked_url("postgresql://callbox@db/callbox") == "postgresql://callbox@db/callbox"
    assert masked_url("postgresql://u:hunter2@[::1/callbox") == "(an unreadable URL)"


@pytest.mark.parametrize("command", ["serve", "migrate"])
async def test_a_missing_database_or_role_on_a_real_server_is_named_in_one_line(
    command: str, server_url: str
) -> None:
    missing = _with_login(server_url, "postgres", "hunter2", "callbox_no_such_database")
    run = await asyncio.to_thread(
        run_callbox, command, env=callbox_environment(CALLBOX_DATABASE_URL=missing)
    )
    _assert_one_line_naming(run, 'database "callbox_no_such_database" does not exist')
    no_role = _with_login(server_url, "callbox_no_such_role", "hunter2")
    run = await asyncio.to_thread(
        run_callbox, command, env=callbox_environment(CALLBOX_DATABASE_URL=no_role)
    )
    _assert_one_line_naming(run, 'role "callbox_no_such_role" does not exist')


def _with_login(url: str, user: str, password: str, database: str | None = None) -> str:
    """The same server's URL with another user, password and (optionally) database."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    path = f"/{database}" if database else parts.path
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{hosts}", path=path))


def _assert_one_line_naming(run: CommandRun, problem: str) -> None:
    assert run.returncode not in (0, None)
    errors = [line for line in run.err.splitlines() if "callbox:" in line]
    assert len(errors) == 1, run.err
    assert problem in errors[0]
    assert "Traceback" not in run.err
    assert len(run.err.splitlines()) <= 3, run.err  # a development instance's warning at most
    assert "hunter2" not in run.out + run.err


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
            ["send-sample", "mailgun", "--url", url, "--sign-key", "env:MAILGUN_SIGNING_KEY"],
        )
        assert signed == 0
        assert capsys.readouterr().out.count("200 ") == len(samples)
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == len(samples)
