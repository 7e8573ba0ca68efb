"""Configuration: TOML file, environment overrides, secrets, clear errors naming the key."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from callbox.providers import PROVIDERS
from callbox.receivers import prepare_receiver
from callbox.secrets import resolve_secret
from callbox.settings import ConfigError, load_settings, settings_from_mapping

FULL_CONFIG = """
[server]
host = "0.0.0.0"
port = 9000
trusted_proxies = ["10.0.0.0/8"]

[database]
url = "postgresql://callbox@db/callbox"

[[receivers]]
name = "notify-uk"
provider = "notify"
default_region = "GB"
our_address = "07700900999"
auth = { bearer = ["env:NOTIFY_TOKEN", "sha256:OLD_DIGEST"] }

[[receivers]]
name = "wiraya"
provider = "wiraya"
max_body_bytes = 20_000_000
auth = { basic = ["wiraya:pa55"], ip_allow = ["35.158.187.151", "52.59.121.86", "18.197.103.66"] }
direction = "outgoing"
""".replace("OLD_DIGEST", hashlib.sha256(b"old-token").hexdigest())


def test_full_config_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "callbox.toml"
    path.write_text(FULL_CONFIG)
    monkeypatch.setenv("NOTIFY_TOKEN", "new-token")
    settings = load_settings(path, environ={})
    assert settings.development is False
    assert settings.server.port == 9000
    assert settings.database.url == "postgresql://callbox@db/callbox"
    notify, wiraya = settings.receivers
    assert notify.region == "GB"
    assert wiraya.max_body_bytes == 20_000_000
    assert wiraya.options == {"direction": "outgoing"}  # provider-specific key folded in
    ready = prepare_receiver(notify, 0)
    assert ready.context.our_address == "+447700900999"
    assert [digest.matches("new-token") for digest in ready.bearer] == [True, False]
    assert [digest.matches("old-token") for digest in ready.bearer] == [False, True]


def test_environment_overrides_database_url(tmp_path: Path) -> None:
    path = tmp_path / "callbox.toml"
    path.write_text(FULL_CONFIG)
    settings = load_settings(path, environ={"CALLBOX_DATABASE_URL": "postgresql://elsewhere/x"})
    assert settings.database.url == "postgresql://elsewhere/x"


def test_no_file_is_a_development_instance_with_one_receiver_per_provider() -> None:
    settings = load_settings(None, environ={})
    assert settings.development
    assert [(r.name, r.provider) for r in settings.receivers] == [
        (name, name) for name in PROVIDERS
    ]
    assert all(not r.auth.is_configured for r in settings.receivers)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"server": {"port": "eighty"}}, "server.port: Expected `int`, got `str`"),
        ({"server": {"trusted_proxies": ["not-an-ip"]}}, "not an IP address or CIDR"),
        ({"receivers": [{"name": "x", "provider": "sms-r-us"}]}, "provider 'sms-r-us' is unknown"),
        ({"receivers": [{"name": "bad name", "provider": "notify"}]}, "receivers[0]: name"),
        (
            {"receivers": [{"name": "n", "provider": "notify", "default_region": "XX"}]},
            "default_region 'XX' is not an ISO country code",
        ),
        (
            {"receivers": [{"name": "n", "provider": "notify", "timezone": "Mars/Olympus"}]},
            "timezone 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            {"receivers": [{"name": "n", "provider": "notify", "auth": {"bearer": ["sha256:zz"]}}]},
            "bearer[0]: sha256: must be followed by 64 hexadecimal digits",
        ),
        (
            {"receivers": [{"name": "n", "provider": "notify", "auth": {"basic": ["nocolon"]}}]},
            "basic[0]: expected 'user:password'",
        ),
        (
            {"receivers": [{"name": "n", "provider": "notify", "colour": "blue"}]},
            "notify option",
        ),
        (
            {
                "receivers": [
                    {"name": "n", "provider": "notify"},
                    {"name": "n", "provider": "esendex"},
                ]
            },
            "receivers[1].name 'n' is used twice",
        ),
        ({"recievers": []}, "unknown field `recievers`"),
    ],
)
def test_invalid_config_names_the_key_and_problem(
    document: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_mapping(document)
    assert message in str(raised.value)


def test_unset_env_secret_is_refused_at_start_naming_the_key() -> None:
    settings = settings_from_mapping(
        {"receivers": [{"name": "n", "provider": "notify", "auth": {"bearer": ["env:NOPE_X"]}}]}
    )
    with pytest.raises(ConfigError, match=r"receivers\[0\]\.auth\.bearer\[0\]: environment"):
        prepare_receiver(settings.receivers[0], 0)


def test_missing_and_invalid_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "absent.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(broken, environ={})


def test_secret_forms_resolve_to_the_same_digest() -> None:
    plain = resolve_secret("hunter2")
    from_env = resolve_secret("env:PW", environ={"PW": "hunter2"})
    from_digest = resolve_secret("sha256:" + hashlib.sha256(b"hunter2").hexdigest())
    assert plain == from_env == from_digest
    assert plain.matches("hunter2")
    assert not plain.matches("hunter3")
    assert "hunter2" not in repr(plain)


def test_an_our_address_too_long_to_be_one_is_a_config_error() -> None:
    settings = settings_from_mapping(
        {"receivers": [{"name": "n", "provider": "notify", "our_address": "7" * 40}]}
    )
    with pytest.raises(ConfigError, match=r"receivers\[0\]\.our_address: .*too long"):
        prepare_receiver(settings.receivers[0], 0)


def test_database_time_limits_have_defaults_and_must_be_positive() -> None:
    database = settings_from_mapping({}).database
    assert database.statement_timeout_seconds == 60
    assert database.read_timeout_seconds == 10
    assert database.read_timeout_seconds < database.statement_timeout_seconds
    assert database.acquire_timeout_seconds == 5
    assert database.connect_timeout_seconds == 5
    assert database.callback_timeout_seconds == 75
    with pytest.raises(ConfigError, match="read_timeout_seconds must be positive"):
        settings_from_mapping({"database": {"read_timeout_seconds": 0}})
