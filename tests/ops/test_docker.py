"""docker/: the Dockerfile, the compose file and its configs hang together.

Docker cannot run here (no engine), so this checks structure: the compose services and their
order (healthchecks, depends_on conditions), that the containers run real ``callbox``
invocations (parsed by Callbox's own argument parser) matching the README's, that the image
installs with ``uv sync --locked`` like CI, runs as a non-root user, and that the config
file the replicas use is valid and trusts only the load balancer.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from callbox.cli import build_parser, command_migrate, command_serve
from callbox.receivers import prepare_receiver
from callbox.settings import load_settings, unauthenticated_receivers

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
README = (REPO / "README.md").read_text()


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DOCKER / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    (arguments,) = [args for key, args in instructions if key == keyword]
    value: list[str] = json.loads(arguments)
    return value


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return document


def callbox_argv(service: dict[str, Any]) -> list[str]:
    """What the container runs: the image's ENTRYPOINT plus the service's command."""
    entrypoint = service.get("entrypoint") or exec_form(final_stage(), "ENTRYPOINT")
    return [*entrypoint, *service["command"]]


def test_image_is_multi_stage_non_root_and_installs_from_the_lock() -> None:
    instructions = dockerfile()
    assert sum(keyword == "FROM" for keyword, _ in instructions) == 2
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs and all("--locked" in run and "--no-dev" in run for run in syncs)
    # The same install command as CI (.ci/run), which the README's development section runs.
    assert "uv sync --locked" in (REPO / ".ci" / "run").read_text()
    stage = final_stage()
    (user,) = [args for keyword, args in stage if keyword == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert not [args for keyword, args in stage if keyword == "RUN" and "uv " in args]
    copies = [args for keyword, args in stage if keyword == "COPY"]
    assert copies == ["--from=build /opt/callbox /opt/callbox"]  # the venv only, no sources
    (healthcheck,) = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert "/ready" in healthcheck


def test_dockerignore_lets_through_what_the_image_copies() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for keyword, args in dockerfile():
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert source.rstrip("/") in allowed, source


def test_image_command_is_a_callbox_serve_the_readme_documents() -> None:
    argv = exec_form(final_stage(), "ENTRYPOINT") + exec_form(final_stage(), "CMD")
    assert argv[0] == "callbox"
    args = build_parser().parse_args(argv[1:])
    assert args.handler is command_serve
    assert (args.host, args.port, args.no_migrate) == ("0.0.0.0", 8000, True)
    (synopsis,) = re.findall(r"`(callbox serve [^`]*)`", README)
    for option in (word for word in argv if word.startswith("--")):
        assert option in synopsis, f"{option} is not in the README's `callbox serve` synopsis"


def test_compose_runs_postgres_then_migrate_then_two_replicas_behind_a_balancer() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "migrate", "callbox-1", "callbox-2", "lb"}

    postgres = services["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    migrate = services["migrate"]
    assert callbox_argv(migrate) == ["callbox", "migrate"]
    assert build_parser().parse_args(["migrate"]).handler is command_migrate
    assert "`callbox migrate`" in README
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"

    replicas = [services["callbox-1"], services["callbox-2"]]
    for replica in replicas:
        argv = callbox_argv(replica)
        args = build_parser().parse_args(argv[1:])
        assert args.handler is command_serve
        assert args.no_migrate  # the migrate service did it, once
        assert args.host == "0.0.0.0"
        assert replica["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert "/ready" in " ".join(replica["healthcheck"]["test"])
        assert replica["read_only"] is True
        assert replica["build"]["dockerfile"] == "docker/Dockerfile"
        assert (DOCKER / replica["build"]["context"] / replica["build"]["dockerfile"]).is_file()
        environment = replica["environment"]
        assert environment["CALLBOX_CONFIG"] == "/etc/callbox/callbox.toml"
        assert "@postgres:5432/" in environment["CALLBOX_DATABASE_URL"]
    assert replicas[0] == replicas[1]

    lb = services["lb"]
    assert lb["depends_on"] == {
        "callbox-1": {"condition": "service_healthy"},
        "callbox-2": {"condition": "service_healthy"},
    }
    nginx = (DOCKER / "nginx.conf").read_text()
    upstream = re.search(r"upstream callbox \{(.*?)\}", nginx, flags=re.DOTALL)
    assert upstream is not None
    port = build_parser().parse_args(callbox_argv(replicas[0])[1:]).port
    assert re.findall(r"server (\S+?):(\d+)", upstream.group(1)) == [
        ("callbox-1", str(port)),
        ("callbox-2", str(port)),
    ]


def test_the_balancer_logs_no_urls_and_is_the_only_trusted_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nginx = (DOCKER / "nginx.conf").read_text()
    log_format = re.search(r"log_format callbox (.*?);", nginx, flags=re.DOTALL)
    assert log_format is not None
    for variable in ("$request ", "$request_uri", "$uri", "$args", "$query_string"):
        assert variable not in log_format.group(1) + " "
    lb_address = compose()["services"]["lb"]["networks"]["callbox"]["ipv4_address"]
    for name in ("NOTIFY_TOKEN", "ESENDEX_URL_TOKEN", "CALLBOX_METRICS_TOKEN"):
        monkeypatch.setenv(name, f"test-{name}")
    settings = load_settings(DOCKER / "callbox.toml", environ={})
    assert settings.server.trusted_proxies == [lb_address]


def test_config_is_valid_and_every_secret_it_names_is_provided() -> None:
    config = (DOCKER / "callbox.toml").read_text()
    referenced = set(re.findall(r'"env:([A-Z0-9_]+)"', config))
    environment = compose()["services"]["callbox-1"]["environment"]
    assert referenced <= set(environment)
    example = (DOCKER / ".env.example").read_text()
    for value in environment.values():
        for variable in re.findall(r"\$\{([A-Z0-9_]+):\?", str(value)):
            assert f"{variable}=" in example, variable
    fake = {name: f"value-of-{name}" for name in referenced}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in fake.items():
            patch.setenv(name, value)
        settings = load_settings(DOCKER / "callbox.toml", environ={})
        for index, receiver in enumerate(settings.receivers):
            prepare_receiver(receiver, index)  # as `callbox check-config` does
    assert unauthenticated_receivers(settings) == []  # or serve refuses 0.0.0.0
    assert settings.metrics.enabled
    assert not settings.development


def test_deploy_doc_shows_the_same_commands() -> None:
    deploy = (REPO / "docs" / "deploy.md").read_text()
    header = (DOCKER / "compose.yaml").read_text().splitlines()[:6]
    up = next(line for line in header if "docker compose" in line).lstrip("# ").strip()
    assert up in deploy
    for line in re.findall(r"^\s*(callbox [a-z-]+[^\n`|]*)", deploy, flags=re.MULTILINE):
        words = shlex.split(line.split("#")[0])
        build_parser().parse_args(words[1:])  # every documented invocation parses
