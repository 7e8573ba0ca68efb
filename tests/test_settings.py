"""Configuration: TOML file, environment overrides, secrets, clear errors naming the key."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import msgspec
import pytest

from callbox.providers import PROVIDERS
from callbox.receivers import prepare_receiver
from callbox.secrets import resolve_secret
from callbox.settings import ConfigError, Settings, load_settings, settings_from_mapping

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


def test_older_variable_names_still_work_and_the_documented_ones_win() -> None:
    old = load_settings(
        None,
        environ={
            "CALLBOX_DATABASE_URL": "postgresql://old/x",
            "CALLBOX_DATA_DIR": "/var/lib/callbox",
            "CALLBOX_MIGRATE": "0",
        },
    )
    assert (old.database.url, old.database.data_dir) == ("postgresql://old/x", "/var/lib/callbox")
    assert old.database.migrate_on_start is False
    both = load_settings(
        None,
        environ={
            "CALLBOX_DATABASE_URL": "postgresql://old/x",
            "CALLBOX_DATABASE__URL": "postgresql://new/x",
            "CALLBOX_MIGRATE": "0",
            "CALLBOX_DATABASE__MIGRATE_ON_START": "true",
        },
    )
    assert (both.database.url, both.database.migrate_on_start) == ("postgresql://new/x", True)


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
        ({"recievers": []}, "recievers: unknown key, did you mean 'receivers'?"),
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


# --- Issue 20, item 5: every problem at once, with "did you mean" -------------------------

MISTAKES = {
    "server": {"prot": 9000},
    "logging": {"level": "verbose"},
    "database": {"url": "mysql://callbox:hunter2@db/callbox"},
    "graphql": {"api_keys": [{"name": "app", "key": "k", "scopes": ["admin"]}]},
    "receivers": [
        {"name": "uk", "provider": "notify", "defualt_region": "GB"},
        {"name": "wi", "provider": "wiraya", "directon": "outgoing", "colour": "blue"},
        {"name": "eu", "provider": "esendex", "max_body_bytes": "big"},
    ],
}


def test_every_problem_is_reported_at_once_with_the_key_it_resembles() -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_mapping(MISTAKES)
    assert sorted(raised.value.problems) == sorted(
        [
            "server.prot: unknown key, did you mean 'port'?",
            "logging.level: Invalid enum value 'verbose'"
            " (expected one of: debug, info, warning, error)",
            "database.url: not a PostgreSQL URL"
            " (expected postgresql://user:password@host:port/database)",
            "graphql.api_keys[0].scopes[0]: Invalid enum value 'admin'"
            " (expected one of: read, write)",
            # A misspelt common key is not taken for one of the provider's options.
            "receivers[0].defualt_region: unknown key, did you mean 'default_region'?",
            "receivers[1].directon: unknown key, did you mean 'direction'?",
            "receivers[1].colour: unknown key (neither a receiver key nor a wiraya option)",
            "receivers[2].max_body_bytes: Expected `int`, got `str`",
        ]
    )
    assert "hunter2" not in str(raised.value)  # the URL is not repeated: it holds a password


@pytest.mark.parametrize(
    "url",
    ["mysql://callbox:hunter2@db/callbox", "callbox:hunter2@db/callbox", "sqlite:///hunter2.db"],
)
def test_a_database_url_that_is_not_postgresql_is_refused(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ={"CALLBOX_DATABASE_URL": url})
    assert str(raised.value) == (
        "database.url (CALLBOX_DATABASE_URL): not a PostgreSQL URL"
        " (expected postgresql://user:password@host:port/database)"
    )


def test_postgres_urls_are_accepted() -> None:
    for url in ("postgresql://callbox@db/callbox", "postgres://u:p@h:5433/d?sslmode=require"):
        assert settings_from_mapping({"database": {"url": url}}).database.url == url


def test_an_empty_config_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "callbox.toml"
    empty.write_text("# nothing yet\n")
    with caplog.at_level(logging.WARNING, logger="callbox.settings"):
        settings = load_settings(empty, environ={})
    assert settings.receivers == [] and not settings.development
    assert [record.getMessage() for record in caplog.records] == [
        f"{empty} is empty: no receivers, every setting at its default"
    ]


# --- Issue 20, item 4: every setting from the environment --------------------------------


def test_the_environment_sets_any_setting_and_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "callbox.toml"
    path.write_text(FULL_CONFIG)
    settings = load_settings(
        path,
        environ={
            "CALLBOX_SERVER__PORT": "9100",
            "CALLBOX_SERVER__TRUSTED_PROXIES": '["192.168.0.0/16", "10.1.2.3"]',
            "CALLBOX_DATABASE__URL": "postgresql://callbox@elsewhere/callbox",
            "CALLBOX_DATABASE__STATEMENT_TIMEOUT_SECONDS": "12.5",
            "CALLBOX_LOGGING__LEVEL": "debug",
            "CALLBOX_GRAPHQL__INTROSPECTION": "false",
            "CALLBOX_METRICS__ENABLED": "true",
            "CALLBOX_METRICS__BEARER": '["env:METRICS_TOKEN"]',
            "CALLBOX_RETENTION__RAW_DAYS": "30",
            "CALLBOX_SUBSCRIPTIONS__ALLOWED_ORIGINS": '["https://app.example.com"]',
            "CALLBOX_INBOX__ENABLED": "",  # empty: unset
            "CALLBOX_CONFIG": "ignored here (a path was given)",
            "CALLBOX_TEST_SERVER_URL": "not a setting: no double underscore, not a section",
        },
    )
    assert settings.server.port == 9100
    assert settings.server.host == "0.0.0.0"  # from the file
    assert settings.server.trusted_proxies == ["192.168.0.0/16", "10.1.2.3"]
    assert settings.database.url == "postgresql://callbox@elsewhere/callbox"
    assert settings.database.statement_timeout_seconds == 12.5
    assert settings.logging.level == "debug"
    assert settings.graphql.introspection is False
    assert settings.metrics.enabled and settings.metrics.bearer == ["env:METRICS_TOKEN"]
    assert settings.retention.raw_days == 30
    assert settings.subscriptions.allowed_origins == ["https://app.example.com"]
    assert settings.inbox.enabled is None
    assert [receiver.name for receiver in settings.receivers] == ["notify-uk", "wiraya"]


def test_receivers_can_come_from_the_environment_too() -> None:
    settings = load_settings(
        None,
        environ={
            "CALLBOX_RECEIVERS": '[{ name = "uk", provider = "notify", default_region = "GB",'
            ' auth = { bearer = ["env:NOTIFY_TOKEN"] } }]'
        },
    )
    (receiver,) = settings.receivers
    assert (receiver.name, receiver.region, receiver.auth.bearer) == (
        "uk",
        "GB",
        ["env:NOTIFY_TOKEN"],
    )


SECTION_KEYS = [
    (section.name, field.name)
    for section in msgspec.structs.fields(Settings)
    if isinstance(section.type, type) and issubclass(section.type, msgspec.Struct)
    for field in msgspec.structs.fields(section.type)
]


@pytest.mark.parametrize(("section", "key"), SECTION_KEYS)
def test_every_key_of_every_section_has_a_variable(section: str, key: str) -> None:
    """``CALLBOX_<SECTION>__<KEY>`` reaches the key: it lands there, or the key refuses it."""
    variable = f"CALLBOX_{section}__{key}".upper()
    try:
        settings = load_settings(None, environ={variable: "@@"})
    except ConfigError as error:
        assert all(p.startswith(f"{section}.{key} ({variable}): ") for p in error.problems), error
    else:
        assert getattr(getattr(settings, section), key) == "@@"


def test_environment_mistakes_name_the_variable_all_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            None,
            environ={
                "CALLBOX_SERVER__PROT": "9000",
                "CALLBOX_SERVR__HOST": "0.0.0.0",
                "CALLBOX_SERVER__PORT": "eighty",
                "CALLBOX_LOGGING__LEVEL": "loud",
                "CALLBOX_SERVER__HOST__NAME": "x",
            },
        )
    assert sorted(raised.value.problems) == sorted(
        [
            "CALLBOX_SERVER__PROT: no such setting, did you mean CALLBOX_SERVER__PORT?",
            "CALLBOX_SERVR__HOST: no such setting, did you mean CALLBOX_SERVER__HOST?",
            "CALLBOX_SERVER__HOST__NAME: server.host is set whole, as CALLBOX_SERVER__HOST",
            "server.port (CALLBOX_SERVER__PORT): Expected `int`, got `str`",
            "logging.level (CALLBOX_LOGGING__LEVEL): Invalid enum value 'loud'"
            " (expected one of: debug, info, warning, error)",
        ]
    )
